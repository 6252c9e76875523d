/**
 * The chat-alerts domain vocabulary: alert kinds, what each alert carries, and where alerts go.
 * Pure types and constants; no I/O.
 */
import { OVERSIZED_BODY_MISSING } from '../shared/skipped';

/** Every alert a destination can subscribe to (the names used in config under `events`). */
export const ALERT_KINDS = [
  'build.failed',
  'build.still_failing',
  'build.fixed',
  'build.blocked',
  'build.canceled',
  'agent.lost',
  'agent.blocked',
  'cluster_token.registration_blocked',
  'workflow.alarm',
  'workflow.recover',
  'workflow.monitor',
  'package.created',
  'job.stuck',
] as const;

/** One alert kind, e.g. `build.still_failing`. */
export type AlertKind = (typeof ALERT_KINDS)[number];

/** Alerts a destination receives when its config lists no `events`: noisy kinds are off. */
export const DEFAULT_ALERT_KINDS: readonly AlertKind[] = ALERT_KINDS.filter(
  (kind) => !['build.blocked', 'build.canceled', 'package.created'].includes(kind),
);

/** The chat services kitebridge renders for. */
export const CHAT_SERVICES = ['slack', 'teams'] as const;
export type ChatService = (typeof CHAT_SERVICES)[number];

/** At most this many failed jobs are listed for one build, over the alert and its follow-ups. */
export const MAX_FAILED_JOBS = 5;

/** A destination as the function sees it at run time (the webhook URL is resolved separately). */
export interface Destination {
  /** Unique, kebab-case; names the secret and appears in logs. */
  readonly name: string;
  readonly service: ChatService;
  /** Globs on the pipeline slug; `!glob` excludes. */
  readonly pipelines: readonly string[];
  /** Globs on the branch; `!glob` excludes. */
  readonly branches: readonly string[];
  readonly events: readonly AlertKind[];
  /** Build alerts only for builds in these states; absent means any state. */
  readonly buildStates?: readonly string[];
  /** ARN of the secret holding the webhook URL (deployed only). */
  readonly secretArn?: string;
}

/**
 * What a build alert says about the build. Documented example bodies elide whole objects, so
 * only what every alert can do without is optional: a build with neither number nor pipeline
 * still has a link, say.
 */
export interface BuildRef {
  readonly id?: string;
  readonly number?: number;
  /** http(s) link to the build, or empty. */
  readonly url: string;
  /** Buildkite's build state, when the body has one. */
  readonly state?: string;
  readonly branch: string;
  readonly pipelineSlug?: string;
  readonly pipelineName?: string;
  readonly pipelineUrl: string;
  /** Full commit SHA (may be `HEAD`). */
  readonly commit: string;
  /** First line of the commit message. */
  readonly subject: string;
  readonly author?: string;
  readonly cancelReason?: string;
  /** Epoch milliseconds, when known. */
  readonly finishedAt?: number;
}

/** A failed job of a build, as listed in its alert. */
export interface FailedJob {
  readonly id: string;
  readonly name: string;
  readonly exitStatus: number | null;
  /** Link to the job (and its log) in Buildkite's web UI. */
  readonly url: string;
  /** Epoch milliseconds, when known (orders the list). */
  readonly finishedAt?: number;
}

export interface AgentRef {
  readonly name: string;
  readonly url?: string;
  readonly hostname?: string;
  readonly ipAddress?: string;
  readonly version?: string;
  readonly queue?: string;
  /** When the agent was lost (as Buildkite wrote it). */
  readonly lostAt?: string;
}

export interface ClusterTokenRef {
  readonly description?: string;
  readonly allowedIps?: string;
  readonly url?: string;
}

/** A transition or state of one build. */
export interface BuildAlert {
  readonly kind: 'build.failed' | 'build.still_failing' | 'build.fixed' | 'build.blocked' | 'build.canceled';
  readonly build: BuildRef;
  /** still_failing: consecutive failed builds including this one; fixed: the failures it ends. */
  readonly failures?: number;
  readonly failedJobs: readonly FailedJob[];
}

/** Failed jobs that arrived after their build's alert was posted. */
export interface FailedJobsFollowUp {
  readonly kind: 'build.failed_jobs';
  readonly build: BuildRef;
  readonly failedJobs: readonly FailedJob[];
}

export interface AgentLostAlert {
  readonly kind: 'agent.lost';
  readonly agent: AgentRef;
}

export interface AgentBlockedAlert {
  readonly kind: 'agent.blocked';
  /** Absent when the body elides the agent: the blocked address is still worth telling. */
  readonly agent?: AgentRef;
  readonly blockedIp: string;
  readonly token?: ClusterTokenRef;
}

export interface RegistrationBlockedAlert {
  readonly kind: 'cluster_token.registration_blocked';
  readonly blockedIp: string;
  readonly token?: ClusterTokenRef;
}

export interface WorkflowAlert {
  readonly kind: 'workflow.alarm' | 'workflow.recover';
  /** Absent when the body has no subject; the alert then rests on its workflow link. */
  readonly testName?: string;
  readonly testUrl?: string;
  readonly testLocation?: string;
  readonly workflowUrl?: string;
  /** The monitor, e.g. `probabilistic_flakiness`. */
  readonly monitor?: string;
  readonly score?: number;
  readonly threshold?: number;
  readonly branch?: string;
}

/** One scalar field of a Test Engine monitor body, e.g. `score: 0.2` or `execution_branch: "main"`. */
export interface MonitorObservation {
  readonly key: string;
  readonly value: string | number | boolean;
}

/**
 * A Test Engine monitor that sends no `event` (`passed_on_retry`, `probabilistic_flakiness`, and
 * any monitor Buildkite adds): published as `workflow.<type>`, the body holds the monitor's
 * evidence and thresholds as top-level fields.
 */
export interface MonitorAlert {
  readonly kind: 'workflow.monitor';
  /** The body's `type`, e.g. `passed_on_retry`. */
  readonly monitor: string;
  readonly testName?: string;
  readonly testUrl?: string;
  readonly testLocation?: string;
  readonly workflowUrl?: string;
  /** The body's scalar fields in body order (evidence, thresholds, time), minus ids and links. */
  readonly observations: readonly MonitorObservation[];
  /** Other http(s) links in the body, by field (`execution_url`). */
  readonly links: readonly { readonly key: string; readonly url: string }[];
}

export interface PackageCreatedAlert {
  readonly kind: 'package.created';
  readonly name: string;
  readonly url?: string;
  readonly registry?: string;
  readonly registryUrl?: string;
}

/**
 * A job waiting with no connected agent able to take it (the autoscaler's `kitebridge.health`
 * `job.stuck` event).
 */
export interface JobStuckAlert {
  readonly kind: 'job.stuck';
  readonly queue: string;
  readonly jobId: string;
  readonly waitedSeconds: number;
  /** `no-connected-agent` or `no-matching-agent`, when the event says. */
  readonly reason?: string;
  /** The job's agent query rules other than its queue. */
  readonly rules: readonly string[];
}

/** Everything kitebridge posts to chat. */
export type Alert =
  | BuildAlert
  | FailedJobsFollowUp
  | AgentLostAlert
  | AgentBlockedAlert
  | RegistrationBlockedAlert
  | WorkflowAlert
  | MonitorAlert
  | PackageCreatedAlert
  | JobStuckAlert;

/**
 * Why a delivery was skipped: the body lacks what the consumer needs, so no alert can be made
 * (the `Reason` dimension of the `Skipped` metric). Retrying cannot help and nobody needs to act
 * on one delivery, so a skip is logged and counted, never dead-lettered.
 */
export const SKIP_REASONS = {
  'build-missing': 'a build or job event without a build object',
  'build-unidentified': 'a build with no number, pipeline or link: no alert could say which build',
  'build-missing-state': 'a finished build without a state',
  'build-missing-number': 'a passed or failed build without a number cannot be placed in its streak',
  'build-missing-pipeline': 'a passed or failed build without a pipeline slug has no streak',
  'job-missing': 'a job event without a job object',
  'job-missing-id': 'a failed job without an id',
  'job-build-unidentified': 'a failed job whose build has no id (nor pipeline and number)',
  'agent-missing': 'an agent.lost event without the agent name or hostname',
  'blocked-ip-missing': 'a blocked agent or registration without the blocked IP',
  'test-engine-empty': 'a Test Engine body with no test, observation or link',
  'package-missing-name': 'a package.created event without the package name',
  'stuck-job-missing': 'a job.stuck event without the job id or queue',
  [OVERSIZED_BODY_MISSING]: 'an oversized delivery whose stored body no longer exists (expired)',
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;

/** A delivery the consumer cannot use, and why. */
export interface Skip {
  readonly skip: SkipReason;
}
