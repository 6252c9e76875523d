import { BuildkiteJobChecker } from '../../../lambda/autoscaler/job-checks';
import { jobCheckOf } from '../../../lambda/autoscaler/job-state';
import { BuildkiteRestClient } from '../../../lambda/shared/buildkite-rest';
import { jsonAnswer, restStandIn } from '../../support/http-server';

describe('jobCheckOf: Buildkite job states', () => {
  it.each([
    'pending',
    'waiting',
    'blocked',
    'unblocked',
    'limiting',
    'limited',
    'platform_limiting',
    'platform_limited',
    'scheduled',
    'reserved',
    'assigned',
    'accepted',
  ])('%s: still waiting (not stale: the alert goes out)', (state) => {
    expect(jobCheckOf({ state })).toEqual({ kind: 'waiting', state });
  });

  it.each(['running', 'canceling', 'timing_out'])('%s: started', (state) => {
    expect(jobCheckOf({ state, started_at: '2026-06-03T04:10:07.618Z' })).toEqual({
      kind: 'started',
      state,
      // Whole seconds, as webhook times are.
      at: Date.parse('2026-06-03T04:10:07Z'),
    });
  });

  it.each([
    'finished',
    'passed',
    'failed',
    'canceled',
    'timed_out',
    'skipped',
    'expired',
    'broken',
    'not_run',
    'waiting_failed',
    'blocked_failed',
    'unblocked_failed',
  ])('%s: finished', (state) => {
    expect(jobCheckOf({ state, finished_at: '2026-06-03 04:15:41 UTC' })).toEqual({
      kind: 'finished',
      state,
      at: Date.parse('2026-06-03T04:15:41Z'),
    });
  });

  it('a finished job without a finish time: finished, no time', () => {
    expect(jobCheckOf({ state: 'expired', finished_at: null })).toEqual({
      kind: 'finished',
      state: 'expired',
    });
  });

  it('an unknown or missing state: doubt, named', () => {
    expect(jobCheckOf({ state: 'teleported' })).toEqual({
      kind: 'doubt',
      reason: 'unknown job state "teleported"',
    });
    expect(jobCheckOf({})).toEqual({ kind: 'doubt', reason: 'the job has no state' });
  });
});

const stub = restStandIn();
const json = jsonAnswer;
// A generous timeout: every answer here arrives, so the timeout never races it.
const checker = () =>
  new BuildkiteJobChecker(
    new BuildkiteRestClient({ token: 'tok-123', baseUrl: stub.baseUrl, timeoutMs: 30_000 }),
    'acme',
  );
const job = { jobId: 'job-2', pipelineSlug: 'my app', buildNumber: 42 };

describe('BuildkiteJobChecker against a local HTTP server', () => {
  it("reads the job's build with the bearer token and finds the job by id", async () => {
    stub.answer = json(200, {
      number: 42,
      jobs: [
        { id: 'job-1', type: 'script', state: 'scheduled' },
        { id: 'job-2', type: 'script', state: 'passed', finished_at: '2026-06-03T04:15:41.000Z' },
      ],
    });
    expect(await checker().check(job)).toEqual({
      kind: 'finished',
      state: 'passed',
      at: Date.parse('2026-06-03T04:15:41Z'),
    });
    expect(stub.requests).toEqual([
      { url: '/v2/organizations/acme/pipelines/my%20app/builds/42', authorization: 'Bearer tok-123' },
    ]);
  });

  it.each([
    [
      'the job is not in its build',
      200,
      { jobs: [{ id: 'job-1', state: 'passed' }] },
      'the job is not in its build',
    ],
    ['a build without jobs', 200, { number: 42 }, 'build lookup answered no build with jobs'],
    ['not an object', 200, [], 'build lookup answered no build with jobs'],
    ['unknown build (404)', 404, { message: 'Not Found' }, 'build lookup failed (not-found)'],
    ['token refused (401)', 401, { message: 'Unauthorized' }, 'build lookup failed (unauthorized)'],
    [
      'token without read_builds (403)',
      403,
      { message: 'Forbidden' },
      'build lookup failed (forbidden): the API token needs the read_builds scope',
    ],
    ['rate limited (429)', 429, { message: 'slow down' }, 'build lookup failed (rate-limited)'],
    ['Buildkite down (503)', 503, { message: 'down' }, 'build lookup failed (server)'],
  ])('%s: doubt', async (_name, status, body, reason) => {
    stub.answer = json(status, body);
    expect(await checker().check(job)).toEqual({ kind: 'doubt', reason });
  });
});
