import { z } from 'zod';
import { fromCli, int } from './fields';
import {
  type Destination,
  ALERT_KINDS,
  CHAT_SERVICES,
  DEFAULT_ALERT_KINDS,
} from '../../lambda/chat-alerts/model';

const globs = z
  .array(
    z
      .string({ invalid_type_error: 'each entry must be a string' })
      .min(1, 'must not be empty')
      .refine((g) => g !== '!', 'must name a glob after "!"'),
    { invalid_type_error: 'must be a list of globs, e.g. ["main", "release/*", "!release/old"]' },
  )
  .min(1, 'must list at least one glob (use ["*"] for all)');

/** Build states a destination may restrict build alerts to (`blocked` stands for blocked builds). */
const FILTERABLE_BUILD_STATES = ['passed', 'failed', 'canceled', 'blocked'] as const;

const destination = z
  .object({
    name: z
      .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
      .regex(
        /^[a-z][a-z0-9-]{0,39}$/,
        'must be 1-40 lower-case letters, digits and dashes, starting with a letter (it names the secret)',
      ),
    service: z.enum(CHAT_SERVICES, {
      errorMap: () => ({ message: `must be one of ${CHAT_SERVICES.join(', ')}` }),
    }),
    pipelines: globs.default(['*']),
    branches: globs.default(['*']),
    events: z
      .array(
        z.enum(ALERT_KINDS, { errorMap: () => ({ message: `must be one of ${ALERT_KINDS.join(', ')}` }) }),
        {
          invalid_type_error: 'must be a list of alert kinds',
        },
      )
      .min(1, 'must list at least one alert kind')
      .default([...DEFAULT_ALERT_KINDS]),
    buildStates: z
      .array(
        z.enum(FILTERABLE_BUILD_STATES, {
          errorMap: () => ({ message: `must be one of ${FILTERABLE_BUILD_STATES.join(', ')}` }),
        }),
        { invalid_type_error: 'must be a list of build states' },
      )
      .min(1, 'must list at least one build state, or be left out')
      .optional(),
  })
  .strict();

/**
 * The `chatAlerts` config key: where alerts go and which ones. Webhook URLs are never here: each
 * destination gets a Secrets Manager secret that you fill in after the first deploy.
 *
 * ```json
 * "chatAlerts": {
 *   "destinations": [
 *     { "name": "ci-slack", "service": "slack", "branches": ["main", "release/*"] },
 *     { "name": "platform-teams", "service": "teams", "events": ["agent.lost", "agent.blocked"] }
 *   ]
 * }
 * ```
 */
export const chatAlertsConfigSchema = z.preprocess(
  fromCli,
  z
    .object(
      {
        destinations: z
          .array(destination, {
            required_error: 'is required',
            invalid_type_error: 'must be a list of destinations',
          })
          .min(1, 'must list at least one destination')
          .max(10, 'must list at most 10 destinations (the function environment holds them)')
          .superRefine((list, ctx) => {
            const seen = new Set<string>();
            list.forEach((d, i) => {
              if (seen.has(d.name))
                ctx.addIssue({
                  code: z.ZodIssueCode.custom,
                  path: [i, 'name'],
                  message: `"${d.name}" is used twice`,
                });
              seen.add(d.name);
            });
          }),
        /** Seconds a failure alert waits after its build finished, for failed-job events. */
        jobsGraceSeconds: int(0, 30).default(5),
        /** Days every state item (streaks, failed jobs, delivery records) is kept. */
        stateTtlDays: int(1, 365).default(30),
      },
      { invalid_type_error: 'must be an object with "destinations"' },
    )
    .strict(),
);

/** Validated chat-alerts config. */
export type ChatAlertsConfig = z.output<typeof chatAlertsConfigSchema>;

/** A configured destination as the domain code sees it (the deployed one adds its secret's ARN). */
export function toDestination(d: ChatAlertsConfig['destinations'][number]): Destination {
  return {
    name: d.name,
    service: d.service,
    pipelines: d.pipelines,
    branches: d.branches,
    events: d.events,
    ...(d.buildStates ? { buildStates: d.buildStates } : {}),
  };
}
