/**
 * The autoscaler's configuration as the function reads it (`AUTOSCALER_CONFIG`): plain types owned
 * by the runtime. The synth-time zod schema in lib/consumers/autoscaler-config.ts validates the
 * context, fills in defaults and is type-checked to produce exactly this shape.
 */

/** One queue's scaling settings, validated, defaults filled in. */
export interface AutoscalerQueueConfig {
  /** The Buildkite queue (the value of the agent tag `queue=…`). */
  queue: string;
  /** The Auto Scaling group serving the queue; without one the queue is evaluated and logged only. */
  asgName?: string | undefined;
  agentsPerInstance: number;
  min: number;
  max: number;
  buffer: number;
  scaleOutCooldownSeconds: number;
  scaleInCooldownSeconds: number;
  scaleInEnabled: boolean;
}

/** The validated autoscaler configuration. */
export interface AutoscalerConfig {
  /** The Buildkite organization slug (the Org dimension of the metrics). */
  org: string;
  queues: AutoscalerQueueConfig[];
  evaluateIntervalSeconds: number;
  /** Evaluate and log every queue, scale none. */
  dryRun: boolean;
  metricsApiUrl: string;
}
