import { z } from 'zod';
import { fromCli, int } from './fields';

/**
 * The `analytics` config key: turns on the analytics consumer (Firehose → S3 as Parquet, Glue table,
 * Athena workgroup and named queries, CloudWatch dashboard). Every field has a default, so
 * `"analytics": {}` is enough.
 *
 * ```json
 * "analytics": { "retentionDays": 730, "bufferSeconds": 300, "bytesScannedCutoffMb": 1024 }
 * ```
 */
export const analyticsConfigSchema = z.preprocess(
  fromCli,
  z
    .object(
      {
        /** Days records are kept in S3 before the lifecycle rule deletes them. */
        retentionDays: int(1, 36500).default(400),
        /** Days records stay in S3 Standard before moving to Standard-IA (0: never move). */
        infrequentAccessAfterDays: int(0, 36500).default(90),
        /** Seconds Firehose buffers records before writing a Parquet file (60-900). */
        bufferSeconds: int(60, 900).default(300),
        /** Athena cancels a query of this workgroup once it has scanned this many MiB (at least 10). */
        bytesScannedCutoffMb: int(10, 10_000_000).default(1024),
        /** Days Athena query results are kept. */
        queryResultsRetentionDays: int(1, 365).default(7),
      },
      { invalid_type_error: 'must be an object, e.g. {} for the defaults' },
    )
    .strict()
    .superRefine((config, ctx) => {
      if (config.infrequentAccessAfterDays > 0 && config.infrequentAccessAfterDays < 30) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['infrequentAccessAfterDays'],
          message:
            'must be 0 (never) or at least 30 (S3 moves objects to Standard-IA after 30 days at the earliest)',
        });
      }
      if (config.infrequentAccessAfterDays > 0 && config.infrequentAccessAfterDays >= config.retentionDays) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['infrequentAccessAfterDays'],
          message: `must be less than retentionDays (${config.retentionDays}), or 0`,
        });
      }
    }),
);

/** Validated analytics config. */
export type AnalyticsConfig = z.output<typeof analyticsConfigSchema>;
