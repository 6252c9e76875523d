import { z } from 'zod';
import { VERIFY_SECRET_CACHE_SECONDS } from '../../lambda/verify/token-source';
import { fromCli, int } from './fields';

/** The shortest grace period: the verify cache plus a margin for clock skew and slow refreshes. */
export const MIN_ROTATION_GRACE_MINUTES = VERIFY_SECRET_CACHE_SECONDS / 60 + 5;

/**
 * The `buildkiteApi` config key: a Buildkite API token (stored in a Secrets Manager secret the
 * stack creates with a placeholder) lets kitebridge manage its own webhook: `npm run register`,
 * and the automatic rotation of the webhook token. Without the key, none of that is deployed.
 *
 * ```json
 * "buildkiteApi": { "organization": "acme", "rotationDays": 30, "rotationGraceMinutes": 60 }
 * ```
 */
export const buildkiteApiConfigSchema = z.preprocess(
  fromCli,
  z
    .object(
      {
        /** The organization's slug, as in https://buildkite.com/<slug>. */
        organization: z
          .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
          .regex(
            /^[a-z0-9][a-z0-9-]{0,99}$/,
            'must be the organization slug from https://buildkite.com/<slug> (lower-case letters, digits and dashes)',
          ),
        /** Days between automatic rotations of the webhook token; 0 turns automatic rotation off. */
        rotationDays: int(0, 1000).default(30),
        /** Minutes the previous token stays accepted after a rotation (longer than the verify cache). */
        rotationGraceMinutes: int(MIN_ROTATION_GRACE_MINUTES, 7 * 24 * 60).default(60),
      },
      { invalid_type_error: 'must be an object, e.g. {"organization": "my-org"}' },
    )
    .strict(),
);

/** Validated buildkiteApi config. */
export type BuildkiteApiConfig = z.output<typeof buildkiteApiConfigSchema>;
/** buildkiteApi config as written in cdk.json. */
export type BuildkiteApiConfigInput = z.input<typeof buildkiteApiConfigSchema>;
