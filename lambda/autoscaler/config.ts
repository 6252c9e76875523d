/**
 * The autoscaler's configuration as the function reads it (`AUTOSCALER_CONFIG`): plain types owned
 * by the runtime. The synth-time zod schema in lib/config/autoscaler.ts validates the context,
 * fills in defaults and is type-checked to produce exactly this shape.
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
  /** Seconds an agent must have had no job before its instance may be terminated by scale-in. */
  scaleInIdleSeconds: number;
  /** Protect an instance from scale-in while its agent runs a job (set on job.started, cleared on job.finished). */
  protectBusyInstances: boolean;
  /** Mark instances whose agent was lost Unhealthy, so the group replaces them. */
  healingEnabled: boolean;
  /** Seconds an `agent.disconnected` waits for the instance's agent to connect again before healing. */
  healingGraceSeconds: number;
  /** Heal at most this percentage of the group (at least one instance) per window. */
  healingMaxPercent: number;
  healingWindowSeconds: number;
  /** Seconds a job may wait on a queue with no connected agent able to take it before `job.stuck`. */
  stuckJobSeconds: number;
  /** Scale out at all (false: only scale-in and the floor). */
  scaleOutEnabled: boolean;
  /** Count jobs waiting behind wait/block steps and concurrency limits as demand. */
  scaleOutForWaitingJobs: boolean;
  /** Fraction of the gap to the target taken per scale-out step (1: all of it). */
  scaleOutFactor: number;
  /** Fraction of the gap to the target taken per scale-in step (1: all of it). */
  scaleInFactor: number;
  /** One more instance while fewer than half the expected agents are connected. */
  availabilityBoost: boolean;
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
