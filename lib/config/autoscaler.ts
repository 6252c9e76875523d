import { z } from 'zod';
import type { AutoscalerConfig, AutoscalerQueueConfig } from '../../lambda/autoscaler/config';
import { bool, fromCli, int } from './fields';

export type { AutoscalerConfig, AutoscalerQueueConfig };

/** Buildkite queue names are agent tag values: no spaces, no `=`, no `,`. */
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/;
/** Auto Scaling group names: 1–255 characters, no `:` (it would break the ARN the IAM policy is built from). */
const ASG_NAME = /^[^:*?\s][^:*?]{0,254}$/;

/** A step factor: a fraction of the gap to the target, as buildkite-agent-scaler's SCALE_*_FACTOR. */
const factor = z.preprocess(
  fromCli,
  z
    .number({ invalid_type_error: 'must be a number between 0.01 and 1' })
    .min(0.01, 'must be at least 0.01 (a fraction of the gap to the target per step)')
    .max(1, 'must be at most 1 (1 takes the whole gap in one step)'),
);

const queueSchema = z
  .object({
    queue: z
      .string({ required_error: 'is required' })
      .regex(QUEUE_NAME, 'must be a Buildkite queue name (the value of the agent tag queue=…)'),
    asgName: z
      .string()
      .regex(ASG_NAME, 'must be an Auto Scaling group name (1–255 characters, no ":", "*", "?")')
      .optional(),
    agentsPerInstance: int(1, 1000).default(1),
    min: int(0, 10000).default(0),
    max: int(0, 10000),
    buffer: int(0, 1000).default(0),
    scaleOutCooldownSeconds: int(0, 86400).default(0),
    scaleInCooldownSeconds: int(0, 86400).default(3600),
    scaleInEnabled: bool.default(false),
    /** Seconds an agent must have had no job before scale-in may terminate its instance. @default 600 */
    scaleInIdleSeconds: int(0, 86400).default(600),
    /** Scale-in protection on an instance while any of its agents runs a job. @default true */
    protectBusyInstances: bool.default(true),
    /** Replace instances whose agent was lost (SetInstanceHealth Unhealthy). @default true */
    healingEnabled: bool.default(true),
    /** Seconds an agent.disconnected waits for a reconnect before healing. @default 300 */
    healingGraceSeconds: int(0, 86400).default(300),
    /** At most this percentage of the group (at least one instance) healed per window. @default 10 */
    healingMaxPercent: int(1, 100).default(10),
    /** The healing rate cap's window, in seconds. @default 600 */
    healingWindowSeconds: int(60, 86400).default(600),
    /** Seconds a job may wait with no connected agent able to take it before job.stuck. @default 1800 */
    stuckJobSeconds: int(60, 7 * 86400).default(1800),
    /** Scale out at all. @default true */
    scaleOutEnabled: bool.default(true),
    /** Count jobs waiting behind wait/block steps and concurrency limits as demand. @default false */
    scaleOutForWaitingJobs: bool.default(false),
    /** Fraction (0.01–1) of the gap to the target taken per scale-out step. @default 1 */
    scaleOutFactor: factor.default(1),
    /** Fraction (0.01–1) of the gap to the target taken per scale-in step. @default 1 */
    scaleInFactor: factor.default(1),
    /** One more instance while fewer than half the expected agents are connected. @default false */
    availabilityBoost: bool.default(false),
  })
  .strict()
  .superRefine((queue, ctx) => {
    if (queue.max < queue.min) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['max'],
        message: `must be at least min (${queue.min})`,
      });
    }
  });

const schema = z
  .object({
    org: z
      .string({
        required_error: 'is required: the Buildkite organization slug (the Org dimension of the metrics)',
      })
      .regex(
        /^[a-z0-9][a-z0-9-]{0,99}$/,
        'must be a Buildkite organization slug (lowercase letters, digits, dashes)',
      ),
    queues: z
      .array(queueSchema, {
        required_error: 'is required: list the queues to scale',
        invalid_type_error: 'must be a list of queues',
      })
      .min(1, 'must list at least one queue'),
    evaluateIntervalSeconds: int(1, 60).default(10),
    dryRun: bool.default(false),
    metricsApiUrl: z
      .string()
      .url('must be a URL such as https://agent.buildkite.com/v3')
      .default('https://agent.buildkite.com/v3'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seenQueues = new Map<string, number>();
    const seenGroups = new Map<string, number>();
    config.queues.forEach((queue, i) => {
      const q = seenQueues.get(queue.queue);
      if (q !== undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['queues', i, 'queue'],
          message: `"${queue.queue}" is already listed at queues[${q}]`,
        });
      } else seenQueues.set(queue.queue, i);
      if (queue.asgName === undefined) return;
      const g = seenGroups.get(queue.asgName);
      if (g !== undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['queues', i, 'asgName'],
          message: `"${queue.asgName}" is already mapped at queues[${g}]; one group serves one queue`,
        });
      } else seenGroups.set(queue.asgName, i);
    });
  });

/**
 * The autoscaler's configuration (context key `autoscaler`). Each queue maps a Buildkite queue to
 * an Auto Scaling group; a queue without `asgName`, or `dryRun: true`, is evaluated and logged
 * but never scaled. Accepts a JSON string too, for `-c autoscaler='{…}'`.
 */
export const autoscalerConfigSchema = z.preprocess(fromCli, schema);

/**
 * Compile-time check that the schema produces the plain types the function owns
 * (lambda/autoscaler/config.ts): a field added to one and not the other fails `tsc` here.
 */
export type SchemaProducesAutoscalerConfig = [
  Assignable<z.output<typeof queueSchema>, AutoscalerQueueConfig>,
  Assignable<z.output<typeof schema>, AutoscalerConfig>,
  Assignable<z.output<typeof autoscalerConfigSchema>, AutoscalerConfig>,
];
type Assignable<T extends U, U> = T;

/** Queues the autoscaler may actually scale (mapped to a group, and not in dry run). */
export function scaledQueues(
  config: AutoscalerConfig,
): (AutoscalerQueueConfig & { readonly asgName: string })[] {
  if (config.dryRun) return [];
  return config.queues.filter(
    (q): q is AutoscalerQueueConfig & { asgName: string } => q.asgName !== undefined,
  );
}

/** Formats zod issues as `autoscaler.queues[0].max must be …`, the style lib/config/index.ts uses. */
export function describeAutoscalerIssues(error: z.ZodError, prefix = 'autoscaler'): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
    return `${prefix}${key} ${issue.message}`;
  });
}

/** Parses raw autoscaler config (an object or its JSON text); throws an Error listing each bad key. */
export function parseAutoscalerConfig(raw: unknown, prefix = 'autoscaler'): AutoscalerConfig {
  const result = autoscalerConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new Error(
      `Invalid autoscaler configuration:\n${describeAutoscalerIssues(result.error, prefix)
        .map((p) => `  - ${p}`)
        .join('\n')}`,
    );
  }
  return result.data as AutoscalerConfig;
}
