import { z } from 'zod';
import { fromCli, int } from './fields';

/**
 * The `reconcile` config key: delivery reconciliation, on whenever `buildkiteApi` is set (its
 * token needs `read_builds`). `false` turns it off; an object changes its settings.
 *
 * ```json
 * "reconcile": { "everyMinutes": 5, "lookbackMinutes": 60, "graceMinutes": 3, "missedAlarmThreshold": 5 }
 * ```
 */
export const reconcileConfigSchema = z.preprocess(
  (value) => {
    const parsed = fromCli(value);
    if (parsed === false) return undefined;
    return parsed === undefined || parsed === true ? {} : parsed;
  },
  z
    .object(
      {
        /** Minutes between runs. */
        everyMinutes: int(1, 60).default(5),
        /** How far back each run lists finished builds; several runs see every build. */
        lookbackMinutes: int(10, 24 * 60).default(60),
        /** A build that finished less than this long ago is left to a later run (its webhook may be on its way). */
        graceMinutes: int(0, 60).default(3),
        /** The alarm fires when more than this many deliveries were missed in an hour. */
        missedAlarmThreshold: int(0, 100_000).default(5),
        /** Pages of 100 builds each run reads at most (requests to Buildkite's API per run). */
        maxPages: int(1, 100).default(20),
      },
      { invalid_type_error: 'must be false, or an object such as {"everyMinutes": 5}' },
    )
    .strict()
    .superRefine((value, ctx) => {
      // Every build must be examined by at least two runs after its grace period (one may fail).
      const least = value.graceMinutes + 2 * value.everyMinutes;
      if (value.lookbackMinutes < least) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['lookbackMinutes'],
          message: `must be at least graceMinutes + 2 × everyMinutes (${least}), so every build is checked twice`,
        });
      }
    })
    .optional(),
);

/** Validated reconcile config (undefined: off). */
export type ReconcileConfig = NonNullable<z.output<typeof reconcileConfigSchema>>;
