/**
 * Asks Buildkite where a job the fleet records still hold as waiting really is, before a
 * `job.stuck` is published for it: its job.started and job.finished may both have been lost
 * (Buildkite does not retry webhooks), and a record left waiting would raise a false alert.
 */
import { BUILDKITE_SCOPES, BuildkiteApiError, type BuildkiteRestClient } from '../shared/buildkite-rest';
import { buildkiteTime } from './fleet';
import type { JobChecker } from './ports';

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

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

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

/**
 * Reads the job's build from Buildkite's REST API
 * (`GET /v2/organizations/{org}/pipelines/{slug}/builds/{number}`, scope `read_builds`) and finds
 * the job in its `jobs` by id. A failed call, a build without the job, or an unknown state is
 * doubt, and doubt means the alert goes out as before.
 */
export class BuildkiteJobChecker implements JobChecker {
  constructor(
    private readonly client: Pick<BuildkiteRestClient, 'get'>,
    private readonly org: string,
  ) {}

  async check(job: JobIdentity): Promise<JobCheck> {
    let body: unknown;
    try {
      ({ body } = await this.client.get<unknown>(
        `/v2/organizations/${encodeURIComponent(this.org)}/pipelines/${encodeURIComponent(job.pipelineSlug)}` +
          `/builds/${encodeURIComponent(String(job.buildNumber))}`,
        { scope: BUILDKITE_SCOPES.readBuilds },
      ));
    } catch (error) {
      const kind = error instanceof BuildkiteApiError ? error.kind : 'error';
      const hint =
        kind === 'forbidden' ? `: the API token needs the ${BUILDKITE_SCOPES.readBuilds} scope` : '';
      return { kind: 'doubt', reason: `build lookup failed (${kind})${hint}` };
    }
    if (!isRecord(body) || !Array.isArray(body.jobs))
      return { kind: 'doubt', reason: 'build lookup answered no build with jobs' };
    const found = body.jobs.find((j): j is Record<string, unknown> => isRecord(j) && j.id === job.jobId);
    if (!found) return { kind: 'doubt', reason: 'the job is not in its build' };
    return jobCheckOf(found);
  }
}
