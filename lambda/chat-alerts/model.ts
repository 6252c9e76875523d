/**
 * The chat-alerts domain vocabulary: alert kinds, what each alert carries, and where alerts go.
 * Pure types and constants; no I/O.
 */

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
  'package.created',
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

/** What a build alert says about the build. */
export interface BuildRef {
  readonly id: string;
  readonly number: number;
  readonly url: string;
  readonly state: string;
  readonly branch: string;
  readonly pipelineSlug: string;
  readonly pipelineName: string;
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
  readonly agent: AgentRef;
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
  readonly testName: string;
  readonly testUrl?: string;
  readonly testLocation?: string;
  readonly workflowUrl?: string;
  /** The monitor, e.g. `probabilistic_flakiness`. */
  readonly monitor?: string;
  readonly score?: number;
  readonly threshold?: number;
  readonly branch?: string;
}

export interface PackageCreatedAlert {
  readonly kind: 'package.created';
  readonly name: string;
  readonly url?: string;
  readonly registry?: string;
  readonly registryUrl?: string;
}

/** Everything kitebridge posts to chat. */
export type Alert =
  | BuildAlert
  | FailedJobsFollowUp
  | AgentLostAlert
  | AgentBlockedAlert
  | RegistrationBlockedAlert
  | WorkflowAlert
  | PackageCreatedAlert;
