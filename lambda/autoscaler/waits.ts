/**
 * Queue wait, pure: how long jobs waited for an agent, how old the oldest waiting job is, which
 * waiting jobs no agent of the queue can take, and which of those are stuck.
 */
import { agentMatches, isConnected, type FleetMember, type JobObservation, type TrackedJob } from './fleet';

/**
 * Seconds a started job waited for an agent: from when it became ready (`runnable_at`, else
 * `scheduled_at`, else the stored `job.scheduled`) to `started_at`. Undefined when either end is
 * unknown; never negative.
 */
export function waitSeconds(started: JobObservation, stored: TrackedJob | undefined): number | undefined {
  const readyAt = started.readyAt ?? stored?.readyAt;
  const startedAt = started.startedAt ?? started.at;
  if (readyAt === undefined) return undefined;
  return Math.max(0, (startedAt - readyAt) / 1000);
}

/** Why a waiting job cannot be taken (stable strings: the `job.stuck` event's `reason`). */
export type StuckReason = 'no-connected-agent' | 'no-matching-agent';

export interface QueueWaitSummary {
  /** Jobs still waiting (known to kitebridge). */
  readonly waitingJobs: number;
  /** Age in seconds of the oldest waiting job, 0 when none waits. */
  readonly oldestWaitingAgeSeconds: number;
  /** Waiting jobs whose agent query rules no agent ever seen on the queue matches. */
  readonly unmatched: readonly TrackedJob[];
  /** Waiting longer than the stuck time with no connected agent able to take them, not yet reported. */
  readonly stuck: readonly {
    readonly job: TrackedJob;
    readonly reason: StuckReason;
    readonly waitedSeconds: number;
  }[];
}

/**
 * Summarises a queue's waiting jobs. A job is unmatched only when at least one agent of the
 * queue is known and none of them matches it: with no agent ever seen (a queue scaled to zero)
 * the job is demand, not a misfit.
 */
export function summariseWaits(
  jobs: readonly TrackedJob[],
  members: readonly FleetMember[],
  now: number,
  stuckMs: number,
): QueueWaitSummary {
  const waiting = jobs.filter((j) => j.state === 'waiting');
  const oldest = waiting.reduce((min, j) => Math.min(min, j.readyAt), Number.POSITIVE_INFINITY);
  const connected = members.filter(isConnected);
  const unmatched =
    members.length === 0 ? [] : waiting.filter((j) => !members.some((m) => agentMatches(j.rules, m.tags)));
  const stuck = waiting
    .filter((j) => j.stuckReportedAt === undefined && now - j.readyAt >= stuckMs)
    .flatMap((job) => {
      if (connected.some((m) => agentMatches(job.rules, m.tags))) return [];
      const reason: StuckReason = connected.length === 0 ? 'no-connected-agent' : 'no-matching-agent';
      return [{ job, reason, waitedSeconds: Math.round((now - job.readyAt) / 1000) }];
    });
  return {
    waitingJobs: waiting.length,
    oldestWaitingAgeSeconds: waiting.length === 0 ? 0 : Math.max(0, Math.round((now - oldest) / 1000)),
    unmatched,
    stuck,
  };
}

/** The p-th percentile (0–100) of `values` by nearest rank; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
