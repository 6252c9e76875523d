/**
 * Asks Buildkite where a job the fleet records still hold as waiting really is, before a
 * `job.stuck` is published for it: its job.started and job.finished may both have been lost
 * (Buildkite does not retry webhooks), and a record left waiting would raise a false alert.
 */
import { BUILDKITE_SCOPES, BuildkiteApiError, type BuildkiteRestClient } from '../shared/buildkite-rest';
import { jobCheckOf, type JobCheck, type JobIdentity } from './job-state';
import type { JobChecker } from './ports';
import { isJsonObject } from '../shared/json-object';

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
    if (!isJsonObject(body) || !Array.isArray(body.jobs))
      return { kind: 'doubt', reason: 'build lookup answered no build with jobs' };
    const found = body.jobs.find((j): j is Record<string, unknown> => isJsonObject(j) && j.id === job.jobId);
    if (!found) return { kind: 'doubt', reason: 'the job is not in its build' };
    return jobCheckOf(found);
  }
}
