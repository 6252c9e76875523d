import type { AutoscalerQueueConfig } from '../../../lambda/autoscaler/config';
import type { QueueCounts } from '../../../lambda/autoscaler/decision';
import {
  MAX_JOB_CHECKS_PER_EVALUATION,
  OLDEST_JOB_RECHECK_MS,
} from '../../../lambda/autoscaler/fleet-actions';
import { versionOf } from '../../../lambda/autoscaler/fleet';
import type { JobCheck, JobIdentity } from '../../../lambda/autoscaler/job-state';
import type { JobChecker } from '../../../lambda/autoscaler/ports';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler';
import { MemoryFleetStore } from '../../../local/adapters/memory-autoscaler-stores';
import {
  memoryFleetActions,
  RecordingFleetMetrics,
  RecordingHealthEvents,
  RecordingLog,
  TableJobChecker,
} from '../../../support/autoscaler-fakes';
import { SimulatedClock } from '../../../support/simulated-clock';

const T0 = Date.parse('2026-06-03T04:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const counts = (scheduled: number): QueueCounts => ({
  scheduled,
  running: 0,
  waiting: 0,
  idleAgents: 0,
  busyAgents: 0,
  totalAgents: 0,
});

function setup(options: { jobChecker?: JobChecker | false } = {}) {
  const cfg = parseAutoscalerConfig({
    org: 'acme',
    queues: [{ queue: 'linux', asgName: 'ci-linux', max: 20, stuckJobSeconds: 600 }],
  });
  const clock = new SimulatedClock(T0);
  const jobChecker = options.jobChecker === undefined ? new TableJobChecker() : options.jobChecker;
  const fleet = new MemoryFleetStore();
  const metrics = new RecordingFleetMetrics();
  const health = new RecordingHealthEvents();
  const log = new RecordingLog();
  const { actions } = memoryFleetActions(cfg, clock, {
    fleet,
    metrics,
    health,
    log,
    ...(jobChecker ? { jobChecker } : {}),
  });
  const q = cfg.queues[0] as AutoscalerQueueConfig;
  /** job.scheduled of `job` in build 42 of pipeline `app` (`build: false`: a body without them). */
  const scheduled = (job: string, at: number, build: boolean = true) =>
    actions.track(
      'job.scheduled',
      {
        job: { id: job, agent_query_rules: ['queue=linux'], scheduled_at: iso(at) },
        ...(build ? { build: { id: 'b-1', number: 42 }, pipeline: { slug: 'app' } } : {}),
      },
      at + 500,
    );
  const agent = { id: 'agent-1', meta_data: ['queue=linux', 'aws:instance-id=i-00000001'] };
  const review = (at = T0) => actions.reviewWaits(q, counts(1), [], at);
  return { actions, fleet, metrics, health, log, q, scheduled, agent, review, jobChecker, clock };
}

const answers = (entries: [string, JobCheck][]) => new TableJobChecker(new Map(entries));
const jobOf = async (fleet: MemoryFleetStore, id: string) => fleet.readJob('linux', id);

describe('a job about to be reported stuck is asked about first', () => {
  it('Buildkite says it finished: no job.stuck, the record is finished at the lost event’s version, counted and logged', async () => {
    const checker = answers([['job-1', { kind: 'finished', state: 'passed', at: T0 - 300_000 }]]);
    const s = setup({ jobChecker: checker });
    await s.scheduled('job-1', T0 - 900_000);
    expect(await s.review()).toEqual({ unmatched: 0, stuck: 0, cleared: 1 });
    expect(s.health.stuck).toEqual([]);
    expect(checker.asked).toEqual([{ jobId: 'job-1', pipelineSlug: 'app', buildNumber: 42 }]);
    expect(await jobOf(s.fleet, 'job-1')).toMatchObject({
      state: 'finished',
      version: versionOf(T0 - 300_000, 'job.finished'),
      pipelineSlug: 'app',
      buildNumber: 42,
    });
    expect(s.metrics.actions).toEqual([{ queue: 'linux', name: 'StaleJobCleared' }]);
    // The stale record no longer holds the oldest wait up.
    expect(s.metrics.queueFigures).toEqual([{ queue: 'linux', oldest: 0, unsatisfiable: 0 }]);
    const line = s.log.lines.find((l) => l.message.startsWith('Stale waiting record'));
    expect(line).toMatchObject({
      level: 'info',
      message: 'Stale waiting record: Buildkite says the job finished, so it is not reported stuck',
      attributes: { jobId: 'job-1', buildkiteState: 'passed', recorded: true },
    });
  });

  it('Buildkite says it is running: no job.stuck, the record is started', async () => {
    const s = setup({ jobChecker: answers([['job-1', { kind: 'started', state: 'running' }]]) });
    await s.scheduled('job-1', T0 - 900_000);
    await s.review();
    expect(s.health.stuck).toEqual([]);
    expect((await jobOf(s.fleet, 'job-1'))?.state).toBe('started');
  });

  it('Buildkite says it is still scheduled: job.stuck is published, once', async () => {
    const s = setup({ jobChecker: answers([['job-1', { kind: 'waiting', state: 'scheduled' }]]) });
    await s.scheduled('job-1', T0 - 900_000);
    expect(await s.review()).toEqual({ unmatched: 0, stuck: 1, cleared: 0 });
    expect(s.health.stuck.map((d) => d.job.id)).toEqual(['job-1']);
    expect(s.log.lines.find((l) => l.level === 'warn')?.attributes).toMatchObject({
      buildkiteState: 'scheduled',
    });
    expect((await jobOf(s.fleet, 'job-1'))?.state).toBe('waiting');
    await s.review(T0 + 60_000);
    expect(s.health.stuck).toHaveLength(1);
  });

  it('the call failed (doubt): job.stuck is published as before, the doubt logged', async () => {
    const s = setup({
      jobChecker: answers([['job-1', { kind: 'doubt', reason: 'build lookup failed (server)' }]]),
    });
    await s.scheduled('job-1', T0 - 900_000);
    await s.review();
    expect(s.health.stuck.map((d) => d.job.id)).toEqual(['job-1']);
    expect(s.log.lines.find((l) => l.level === 'warn')?.attributes).toMatchObject({
      recheck: 'not confirmed: build lookup failed (server)',
    });
    expect(s.metrics.actions).toEqual([]);
  });

  it('a record without its build (written before, or a body without it): not asked, published as before', async () => {
    const checker = answers([['job-1', { kind: 'finished', state: 'passed' }]]);
    const s = setup({ jobChecker: checker });
    await s.scheduled('job-1', T0 - 900_000, false);
    await s.review();
    expect(checker.asked).toEqual([]);
    expect(s.health.stuck.map((d) => d.job.id)).toEqual(['job-1']);
  });

  it('no job checker (no API token): published as before', async () => {
    const s = setup({ jobChecker: false });
    await s.scheduled('job-1', T0 - 900_000);
    expect(await s.review()).toEqual({ unmatched: 0, stuck: 1, cleared: 0 });
    expect(s.health.stuck.map((d) => d.job.id)).toEqual(['job-1']);
  });

  it(`asks about at most ${MAX_JOB_CHECKS_PER_EVALUATION} jobs per evaluation, oldest first; the rest wait for the next one`, async () => {
    const checker = new TableJobChecker();
    const s = setup({ jobChecker: checker });
    const total = MAX_JOB_CHECKS_PER_EVALUATION + 2;
    // job-0 is the newest, job-11 the oldest; every one still scheduled at Buildkite.
    for (let k = 0; k < total; k++) {
      checker.answers.set(`job-${k}`, { kind: 'waiting', state: 'scheduled' });
      await s.scheduled(`job-${k}`, T0 - 900_000 - k * 1000);
    }
    await s.review();
    const oldestFirst = Array.from({ length: total }, (_, k) => `job-${total - 1 - k}`);
    expect(checker.asked.map((j) => j.jobId)).toEqual(oldestFirst.slice(0, MAX_JOB_CHECKS_PER_EVALUATION));
    expect(s.health.stuck.map((d) => d.job.id).sort()).toEqual(
      oldestFirst.slice(0, MAX_JOB_CHECKS_PER_EVALUATION).sort(),
    );
    expect(s.log.messages()).toContain(
      'Stuck-job re-checks left for the next evaluation: the per-evaluation cap is reached',
    );
    await s.review(T0 + 60_000);
    expect(checker.asked.map((j) => j.jobId).slice(MAX_JOB_CHECKS_PER_EVALUATION)).toEqual(
      oldestFirst.slice(MAX_JOB_CHECKS_PER_EVALUATION),
    );
    expect(s.health.stuck).toHaveLength(total);
  });

  it('the cap is shared by the queues of one evaluation (one budget)', async () => {
    const checker = answers([
      ['job-1', { kind: 'waiting', state: 'scheduled' }],
      ['job-2', { kind: 'waiting', state: 'scheduled' }],
    ]);
    const s = setup({ jobChecker: checker });
    await s.scheduled('job-1', T0 - 900_000);
    await s.scheduled('job-2', T0 - 800_000);
    const budget = { remaining: 1 };
    await s.actions.reviewWaits(s.q, counts(2), [], T0, budget);
    expect(budget.remaining).toBe(0);
    expect(checker.asked.map((j) => j.jobId)).toEqual(['job-1']);
    expect(s.health.stuck.map((d) => d.job.id)).toEqual(['job-1']);
  });

  it('a newer real event recorded while Buildkite was asked is not overwritten', async () => {
    // Buildkite answers "running" (started at T0 - 600 s); meanwhile the job's job.finished arrives.
    const checker: JobChecker = {
      check: async (_job: JobIdentity): Promise<JobCheck> => {
        await t.actions.track(
          'job.finished',
          {
            job: { id: 'job-1', agent_query_rules: ['queue=linux'], finished_at: iso(T0 - 60_000) },
            build: { number: 42 },
            pipeline: { slug: 'app' },
          },
          T0,
        );
        return { kind: 'started', state: 'running', at: T0 - 600_000 };
      },
    };
    const t = setup({ jobChecker: checker });
    await t.scheduled('job-1', T0 - 900_000);
    await t.review();
    expect(await jobOf(t.fleet, 'job-1')).toMatchObject({
      state: 'finished',
      version: versionOf(T0 - 60_000, 'job.finished'),
    });
    expect(t.log.lines.find((l) => l.message.startsWith('Stale waiting record'))?.attributes).toMatchObject({
      recorded: false,
    });
    expect(t.health.stuck).toEqual([]);
  });

  it('a late job.started of a job cleared as finished does not make it started again', async () => {
    const s = setup({
      jobChecker: answers([['job-1', { kind: 'finished', state: 'passed', at: T0 - 300_000 }]]),
    });
    await s.scheduled('job-1', T0 - 900_000);
    await s.review();
    await s.actions.track(
      'job.started',
      {
        job: {
          id: 'job-1',
          agent_query_rules: ['queue=linux'],
          started_at: iso(T0 - 600_000),
          agent: s.agent,
        },
        build: { number: 42 },
        pipeline: { slug: 'app' },
      },
      T0 + 1000,
    );
    expect((await jobOf(s.fleet, 'job-1'))?.state).toBe('finished');
  });
});

describe('the oldest waiting job is asked about once it has waited the stuck time', () => {
  it('a connected agent could take it (not stuck), but Buildkite says it finished: OldestWaitingJobAge drops', async () => {
    const checker = answers([['job-1', { kind: 'finished', state: 'canceled' }]]);
    const s = setup({ jobChecker: checker });
    await s.actions.track('agent.connected', { agent: s.agent }, T0 - 60_000);
    await s.scheduled('job-1', T0 - 900_000);
    await s.scheduled('job-2', T0 - 30_000);
    const members = await s.fleet.members('linux');
    expect(await s.actions.reviewWaits(s.q, counts(2), members, T0)).toEqual({
      unmatched: 0,
      stuck: 0,
      cleared: 1,
    });
    // Only job-1 is old enough to be asked about; job-2 now sets the figure.
    expect(checker.asked.map((j) => j.jobId)).toEqual(['job-1']);
    expect(s.metrics.queueFigures).toEqual([{ queue: 'linux', oldest: 30, unsatisfiable: 0 }]);
    // Without a time from Buildkite the record keeps its version.
    expect(await jobOf(s.fleet, 'job-1')).toMatchObject({
      state: 'finished',
      version: versionOf(T0 - 900_000, 'job.scheduled'),
    });
  });

  it(`a job that really waits is asked about again only after ${OLDEST_JOB_RECHECK_MS / 60_000} minutes`, async () => {
    const checker = answers([['job-1', { kind: 'waiting', state: 'scheduled' }]]);
    const s = setup({ jobChecker: checker });
    await s.actions.track('agent.connected', { agent: s.agent }, T0 - 60_000);
    await s.scheduled('job-1', T0 - 900_000);
    const members = await s.fleet.members('linux');
    for (const at of [T0, T0 + 10_000, T0 + OLDEST_JOB_RECHECK_MS - 1000, T0 + OLDEST_JOB_RECHECK_MS]) {
      await s.actions.reviewWaits(s.q, counts(1), members, at);
    }
    expect(checker.asked.map((j) => j.jobId)).toEqual(['job-1', 'job-1']);
    expect(s.health.stuck).toEqual([]);
    expect(s.metrics.queueFigures.map((f) => f.oldest)).toEqual([900, 910, 1199, 1200]);
  });

  it('without a job checker the stale record holds the figure up, as before', async () => {
    const s = setup({ jobChecker: false });
    await s.actions.track('agent.connected', { agent: s.agent }, T0 - 60_000);
    await s.scheduled('job-1', T0 - 900_000);
    await s.actions.reviewWaits(s.q, counts(1), await s.fleet.members('linux'), T0);
    expect(s.metrics.queueFigures).toEqual([{ queue: 'linux', oldest: 900, unsatisfiable: 0 }]);
  });
});
