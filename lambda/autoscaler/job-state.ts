/**
 * Where a job really is, pure: Buildkite's job states (REST API `jobs[].state`) read as waiting,
 * started or finished, for the check before a job is reported stuck (job-checks.ts asks).
 */
import { buildkiteTime } from './fleet';

/** The build a job belongs to, as its job events name it. */
export interface JobIdentity {
  readonly jobId: string;
  readonly pipelineSlug: string;
  readonly buildNumber: number;
}

/**
 * What Buildkite says of a job: still waiting for an agent (or for a wait, block or concurrency
 * step before it), started on an agent, over (whatever the outcome), or doubt (the call failed, the
 * job is not in its build, or its state is one kitebridge does not know). `at` is Buildkite's time
 * of the start or finish, when it gives one.
 */
export type JobCheck =
  | { readonly kind: 'waiting'; readonly state: string }
  | { readonly kind: 'started'; readonly state: string; readonly at?: number }
  | { readonly kind: 'finished'; readonly state: string; readonly at?: number }
  | { readonly kind: 'doubt'; readonly reason: string };

/**
 * Buildkite's job states (REST API `jobs[].state`, GraphQL `JobStates`) by what they mean for a
 * job an agent is expected to take.
 */
const STATE_KIND: Readonly<Record<string, 'waiting' | 'started' | 'finished'>> = {
  // Not on an agent yet: created, behind a wait or block step, behind a concurrency group,
  // scheduled for an agent, or assigned to one that has not started it.
  pending: 'waiting',
  waiting: 'waiting',
  blocked: 'waiting',
  unblocked: 'waiting',
  limiting: 'waiting',
  limited: 'waiting',
  platform_limiting: 'waiting',
  platform_limited: 'waiting',
  scheduled: 'waiting',
  reserved: 'waiting',
  assigned: 'waiting',
  accepted: 'waiting',
  // On an agent (canceling and timing_out: still running until the agent stops it).
  running: 'started',
  canceling: 'started',
  timing_out: 'started',
  // Over, or never to run.
  finished: 'finished',
  passed: 'finished',
  failed: 'finished',
  canceled: 'finished',
  timed_out: 'finished',
  skipped: 'finished',
  expired: 'finished',
  broken: 'finished',
  not_run: 'finished',
  waiting_failed: 'finished',
  blocked_failed: 'finished',
  unblocked_failed: 'finished',
};

/**
 * Reads one job object of Buildkite's REST API (an element of a build's `jobs`): its state as
 * waiting, started or finished, and the time it started or finished (whole seconds, as webhook
 * times are, so that a record written from it orders like the lost event would have).
 */
export function jobCheckOf(job: Record<string, unknown>): JobCheck {
  const state = job.state;
  if (typeof state !== 'string') return { kind: 'doubt', reason: 'the job has no state' };
  const kind = STATE_KIND[state];
  if (kind === undefined) return { kind: 'doubt', reason: `unknown job state "${state}"` };
  if (kind === 'waiting') return { kind, state };
  const time = buildkiteTime(kind === 'started' ? job.started_at : job.finished_at);
  const at = time === undefined ? undefined : Math.floor(time / 1000) * 1000;
  return { kind, state, ...(at !== undefined ? { at } : {}) };
}
