/**
 * What the autoscaler needs from the outside world. The Lambda function plugs in Auto Scaling,
 * DynamoDB, CloudWatch (embedded metric format), EventBridge and Buildkite's APIs
 * (aws-adapters.ts, metrics-api.ts, agent-checks.ts); local mode plugs in memory and a log.
 */
import type { JobStuckDetail } from '../shared/contract';
import type { GroupCapacity, QueueCounts } from './decision';
import type { FleetMember, TrackedJob } from './fleet';
import type { GateState } from './gate';
import type { JobCheck, JobIdentity } from './job-state';
import type { AgentCheck } from './scale-in';

export type { Clock } from '../shared/clock';

/** The structured log the autoscaler writes (Powertools Logger satisfies it). */
export interface AutoscalerLog {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** What an instance action found: done, or the instance is not (or no longer) in the group. */
export type InstanceActionResult = 'done' | 'not-in-group';

/** Reads and changes the Auto Scaling groups of the mapped queues. */
export interface GroupScaler {
  /** The capacity and instances of each named group that exists (missing groups are absent). */
  describe(names: readonly string[]): Promise<Map<string, GroupCapacity>>;
  setDesired(name: string, desired: number): Promise<void>;
  /** Terminates one instance and lowers the group's desired capacity by one. */
  terminateInstance(instanceId: string): Promise<InstanceActionResult>;
  /** Sets or clears the instance's scale-in protection. */
  setScaleInProtection(group: string, instanceId: string, protect: boolean): Promise<InstanceActionResult>;
  /** Marks the instance Unhealthy, so its group replaces it. */
  markUnhealthy(instanceId: string): Promise<InstanceActionResult>;
}

/** What the autoscaler remembers per queue between invocations. */
export interface QueueState {
  /** Epoch ms of the last scale-out / scale-in it made (cooldowns). */
  readonly lastScaleOutAt?: number;
  readonly lastScaleInAt?: number;
  /** In dry run: the capacity the last decision would have set (stands in for the group). */
  readonly dryRunDesired?: number;
}

/**
 * The shared state behind the collapse gate and the cooldowns. Claims are compare-and-set on
 * `lastEvaluatedAt`, so concurrent invocations agree on who evaluates: a claim fails when
 * another invocation evaluated (or claimed the trailing slot) since `seenLast` was read, and that
 * one's evaluation then covers the caller's trigger.
 */
export interface AutoscalerStateStore {
  readGate(): Promise<GateState>;
  /** Claims the evaluation at `now` if `lastEvaluatedAt` is still `seenLast`. */
  claimEvaluation(seenLast: number | undefined, now: number): Promise<boolean>;
  /** Claims the trailing evaluation at `at` if none is pending and `lastEvaluatedAt` is still `seenLast`. */
  claimTrailing(seenLast: number, at: number, now: number): Promise<boolean>;
  recordPollDuration(seconds: number, now: number): Promise<void>;
  readQueue(queue: string): Promise<QueueState>;
  recordQueue(queue: string, patch: QueueState, now: number): Promise<void>;
}

/**
 * Instance identity and waiting jobs per queue. Writes are last-writer-wins by event version:
 * a write older than the stored record is refused (false), an equal one (a replay) is applied.
 */
export interface FleetStore {
  /**
   * Records an agent's member record unless a newer one is stored (job events of one second are
   * merged, see `mergeMember`); true when the stored record now says what this one says, so its
   * effects (protection) apply.
   */
  recordMember(member: FleetMember, now: number): Promise<boolean>;
  /** The queue's records, one per agent (a record of the previous, per-instance key merged in). */
  members(queue: string): Promise<FleetMember[]>;
  readJob(queue: string, jobId: string): Promise<TrackedJob | undefined>;
  /** Records a job unless a newer record is stored; true when written. */
  recordJob(job: TrackedJob, now: number): Promise<boolean>;
  /** The queue's tracked jobs (waiting ones, and started ones until they expire). */
  jobs(queue: string): Promise<TrackedJob[]>;
  /** Marks a job reported stuck (once per job). False when another invocation marked it first. */
  markStuckReported(queue: string, jobId: string, at: number): Promise<boolean>;
  /**
   * Claims one heal for the queue's group: true when fewer than `cap` heals were claimed within
   * `windowMs` before `now` (and records this one), false when the cap is reached.
   */
  claimHeal(queue: string, now: number, windowMs: number, cap: number): Promise<boolean>;
  /** Heals claimed within `windowMs` before `now`. */
  healsInWindow(queue: string, now: number, windowMs: number): Promise<number>;
}

/** Asks Buildkite whether an agent is running a job, right before its instance would go. */
export interface AgentChecker {
  check(agentId: string): Promise<AgentCheck>;
}

/**
 * Asks Buildkite where a job recorded as waiting really is, before it is reported stuck (its
 * job.started and job.finished may both have been lost).
 */
export interface JobChecker {
  check(job: JobIdentity): Promise<JobCheck>;
}

/** Where per-queue counts go (CloudWatch when deployed, a log line locally). */
export interface CountsPublisher {
  publish(org: string, queue: string, counts: QueueCounts): void;
}

/** One queue's wait figures for one evaluation. */
export interface QueueWaitFigures {
  readonly oldestWaitingJobAgeSeconds: number;
  readonly unsatisfiableJobs: number;
}

/** Where the wait metrics and autoscaler actions are counted (CloudWatch, or a log line). */
export interface FleetMetrics {
  /** One job's wait for an agent (CloudWatch computes p50, p95 and max over any period). */
  jobWaited(org: string, queue: string, seconds: number): void;
  queueWaits(org: string, queue: string, figures: QueueWaitFigures): void;
  /** One autoscaler action or held action, e.g. `InstanceTerminated`, `HealingCapped`. */
  action(org: string, queue: string, name: FleetActionMetric): void;
}

/** Metric names of the autoscaler's per-instance actions. */
export type FleetActionMetric =
  | 'InstanceProtected'
  | 'InstanceUnprotected'
  | 'InstanceTerminated'
  | 'ScaleInHeld'
  | 'InstanceMarkedUnhealthy'
  | 'HealingCapped'
  /** A waiting record Buildkite says had started or finished: no `job.stuck` for it. */
  | 'StaleJobCleared';

/** Publishes derived health events on the kitebridge bus. */
export interface HealthEvents {
  jobStuck(detail: JobStuckDetail): Promise<void>;
}
