import fc from 'fast-check';
import type { AutoscalerQueueConfig } from '../../../lambda/autoscaler/config';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler';
import type { QueueCounts } from '../../../lambda/autoscaler/decision';
import type { AgentCheck } from '../../../lambda/autoscaler/scale-in';
import { MemoryFleetStore } from '../../../local/adapters/memory-autoscaler-stores';
import {
  memoryFleetActions,
  MemoryGroups,
  RecordingFleetMetrics,
  RecordingHealthEvents,
  RecordingLog,
  TableAgentChecker,
} from '../../../support/autoscaler-fakes';
import { SimulatedClock } from '../../../support/simulated-clock';

/** Every one of `count` events once, plus up to four replays of any, all in one shuffled order. */
const deliveryOrders = (count: number) =>
  fc.array(fc.integer({ min: 0, max: count - 1 }), { maxLength: 4 }).chain((replays) => {
    const all = [...Array.from({ length: count }, (_, k) => k), ...replays];
    return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
  });

const T0 = Date.parse('2026-06-03T04:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const I = (n: number) => `i-0000000${n}`;

function config(queue: Record<string, unknown> = {}, dryRun = false) {
  return parseAutoscalerConfig({
    org: 'acme',
    dryRun,
    queues: [{ queue: 'linux', asgName: 'ci-linux', max: 20, scaleInEnabled: true, ...queue }],
  });
}

function setup(queue: Record<string, unknown> = {}, options: { dryRun?: boolean; checker?: boolean } = {}) {
  const cfg = config(queue, options.dryRun);
  const clock = new SimulatedClock(T0);
  const groups = new MemoryGroups().add('ci-linux', { instances: [I(1), I(2), I(3)], max: 20 });
  const checker = new TableAgentChecker();
  const metrics = new RecordingFleetMetrics();
  const health = new RecordingHealthEvents();
  const log = new RecordingLog();
  const fleet = new MemoryFleetStore();
  const { actions } = memoryFleetActions(cfg, clock, {
    fleet,
    groups,
    metrics,
    health,
    log,
    ...(options.checker === false ? {} : { checker }),
  });
  const q = cfg.queues[0] as AutoscalerQueueConfig;
  const agent = (n: number) => ({ id: `agent-${n}`, meta_data: ['queue=linux', `aws:instance-id=${I(n)}`] });
  const event = {
    connected: (n: number, at: number) => actions.track('agent.connected', { agent: agent(n) }, at),
    disconnected: (n: number, at: number) => actions.track('agent.disconnected', { agent: agent(n) }, at),
    lost: (n: number, at: number) => actions.track('agent.lost', { agent: agent(n) }, at),
    scheduled: (job: string, at: number, rules: string[] = []) =>
      actions.track(
        'job.scheduled',
        { job: { id: job, agent_query_rules: ['queue=linux', ...rules], scheduled_at: iso(at) } },
        at + 500,
      ),
    started: (n: number, job: string, at: number) =>
      actions.track(
        'job.started',
        { job: { id: job, agent_query_rules: ['queue=linux'], started_at: iso(at), agent: agent(n) } },
        at + 500,
      ),
    finished: (n: number, job: string, at: number) =>
      actions.track(
        'job.finished',
        { job: { id: job, agent_query_rules: ['queue=linux'], finished_at: iso(at), agent: agent(n) } },
        at + 500,
      ),
  };
  /** Events of named agents on instance `n` (several agents per instance). */
  const onInstance = (id: string, n: number) => ({
    id,
    meta_data: ['queue=linux', `aws:instance-id=${I(n)}`],
  });
  const jobOf = (job: string, field: string, at: number, id: string, n: number) => ({
    job: { id: job, agent_query_rules: ['queue=linux'], [field]: iso(at), agent: onInstance(id, n) },
  });
  const agents = {
    connected: (id: string, n: number, at: number) =>
      actions.track('agent.connected', { agent: onInstance(id, n) }, at),
    disconnected: (id: string, n: number, at: number) =>
      actions.track('agent.disconnected', { agent: onInstance(id, n) }, at),
    lost: (id: string, n: number, at: number) =>
      actions.track('agent.lost', { agent: onInstance(id, n) }, at),
    stopped: (id: string, n: number, at: number) =>
      actions.track('agent.stopped', { agent: onInstance(id, n) }, at),
    started: (id: string, n: number, job: string, at: number) =>
      actions.track('job.started', jobOf(job, 'started_at', at, id, n), at + 500),
    finished: (id: string, n: number, job: string, at: number) =>
      actions.track('job.finished', jobOf(job, 'finished_at', at, id, n), at + 500),
  };
  /** The reconcile's healing pass over the queue's fleet as it stands, at `at`. */
  const healAt = async (at: number) =>
    actions.healQueue(q, await fleet.members('linux'), groups.capacity('ci-linux'), at);
  return { cfg, q, clock, groups, checker, metrics, health, log, fleet, actions, event, agents, healAt };
}

const counts = (scheduled = 0, waiting = 0): QueueCounts => ({
  scheduled,
  running: 0,
  waiting,
  idleAgents: 0,
  busyAgents: 0,
  totalAgents: 0,
});

describe('protection follows the jobs', () => {
  it('job.started protects the instance, job.finished clears it', async () => {
    const { event, groups } = setup();
    expect((await event.started(1, 'job-1', T0)).protection).toBe('set');
    expect(groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
    expect((await event.finished(1, 'job-1', T0 + 60_000)).protection).toBe('cleared');
    expect(groups.calls).toEqual([`protect ci-linux ${I(1)} true`, `protect ci-linux ${I(1)} false`]);
  });

  it('several agents per instance: one agent finishing keeps the protection its neighbour needs', async () => {
    const { actions, groups } = setup({ agentsPerInstance: 2 });
    const agent = (id: string) => ({ id, meta_data: ['queue=linux', `aws:instance-id=${I(1)}`] });
    const job = (id: string, field: string, at: number, a: string) => ({
      job: { id, agent_query_rules: ['queue=linux'], [field]: iso(at), agent: agent(a) },
    });
    await actions.track('job.started', job('job-a', 'started_at', T0, 'agent-a'), T0);
    await actions.track('job.started', job('job-b', 'started_at', T0 + 1_000, 'agent-b'), T0 + 1_000);
    const finished = await actions.track(
      'job.finished',
      job('job-b', 'finished_at', T0 + 60_000, 'agent-b'),
      T0 + 60_000,
    );
    expect(finished.protection).toBe('kept');
    expect(groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
  });

  it('a job.started handled while an earlier job.finished clears protection: the instance ends protected', async () => {
    const { event, groups } = setup();
    await event.started(1, 'job-1', T0);
    // The next job starts after job-1's record was written and before its clearing call lands.
    const clear = groups.setScaleInProtection.bind(groups);
    let raced = false;
    groups.setScaleInProtection = async (group, instanceId, protect) => {
      if (!protect && !raced) {
        raced = true;
        expect((await event.started(1, 'job-2', T0 + 61_000)).protection).toBe('set');
      }
      return clear(group, instanceId, protect);
    };
    await event.finished(1, 'job-1', T0 + 60_000);
    expect(raced).toBe(true);
    expect(groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
  });

  it('an agent that takes a job before its agent.connected is delivered: busy and protected', async () => {
    const { actions, event, groups, fleet } = setup();
    const agent = { id: 'agent-1', meta_data: ['queue=linux', `aws:instance-id=${I(1)}`] };
    await event.started(1, 'job-1', T0 + 3_000);
    // Connected at T0 (its own time), delivered 10 s later, after the job.started.
    await actions.track('agent.connected', { agent: { ...agent, connected_at: iso(T0) } }, T0 + 10_000);
    expect((await fleet.members('linux'))[0]).toMatchObject({ activity: 'busy', jobId: 'job-1' });
    expect(groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
  });

  it('protection off: no call', async () => {
    const { event, groups } = setup({ protectBusyInstances: false });
    await event.started(1, 'job-1', T0);
    expect(groups.calls).toEqual([]);
  });

  it('out of order: a late job.started after its job.finished changes nothing', async () => {
    const { event, groups, fleet } = setup();
    await event.finished(1, 'job-1', T0 + 60_000);
    const late = await event.started(1, 'job-1', T0);
    expect(late.memberRecorded).toBe(false);
    expect(late.protection).toBeUndefined();
    expect(groups.calls).toEqual([`protect ci-linux ${I(1)} false`]);
    expect((await fleet.members('linux'))[0]).toMatchObject({ activity: 'idle', since: T0 + 60_000 });
  });

  it('a replayed job.started applies again (absolute, so safe; a retried invocation redoes what failed)', async () => {
    const { event, groups } = setup();
    await event.started(1, 'job-1', T0);
    await event.started(1, 'job-1', T0);
    expect(groups.calls).toEqual([`protect ci-linux ${I(1)} true`, `protect ci-linux ${I(1)} true`]);
  });

  it('an agent without an instance id is recorded and never protected', async () => {
    const { actions, groups, fleet } = setup();
    await actions.track(
      'job.started',
      {
        job: {
          id: 'j',
          agent_query_rules: ['queue=linux'],
          started_at: iso(T0),
          agent: { id: 'bare', meta_data: ['queue=linux'] },
        },
      },
      T0,
    );
    expect(groups.calls).toEqual([]);
    expect((await fleet.members('linux')).map((m) => m.agentId)).toEqual(['bare']);
  });

  it('an instance that left the group: a warning, no error', async () => {
    const { event, log } = setup();
    const result = await event.started(9, 'job-1', T0);
    expect(result.protection).toBe('not-in-group');
    expect(log.messages()).toContain('Instance not in the group: scale-in protection unchanged');
  });

  it('dry run: logged, the group untouched', async () => {
    const { event, groups, log } = setup({}, { dryRun: true });
    expect((await event.started(1, 'job-1', T0)).protection).toBe('dry-run');
    expect(groups.calls).toEqual([]);
    expect(log.messages()).toContain('Would protect instance from scale-in');
  });
});

describe('a job that starts and finishes within one second (whole-second timestamps)', () => {
  const idle: AgentCheck = { kind: 'idle' };

  it.each([
    ['started then finished', ['started', 'finished']],
    ['finished then started', ['finished', 'started']],
  ] as const)(
    '%s: the agent ends idle and its instance unprotected, a scale-in candidate',
    async (_n, order) => {
      const s = setup({ scaleInIdleSeconds: 60 });
      await s.event.connected(1, T0 - 60_000);
      for (const type of order) await s.event[type](1, 'job-1', T0);
      expect(await s.fleet.members('linux')).toEqual([
        expect.objectContaining({ activity: 'idle', since: T0, finishedJobIds: ['job-1'] }),
      ]);
      expect((await s.fleet.members('linux'))[0]?.jobId).toBeUndefined();
      expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(false);
      s.checker.answers.set('agent-1', idle);
      const members = await s.fleet.members('linux');
      expect(
        (await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0 + 120_000)).terminated,
      ).toEqual([I(1)]);
    },
  );

  it('a replayed job.started of the job that finished in its second: not recorded, no protection call', async () => {
    const s = setup();
    await s.event.started(1, 'job-1', T0);
    await s.event.finished(1, 'job-1', T0);
    const callsBefore = s.groups.calls.length;
    const replay = await s.event.started(1, 'job-1', T0);
    expect(replay).toMatchObject({ memberRecorded: false });
    expect(replay.protection).toBeUndefined();
    expect(s.groups.calls.slice(callsBefore)).toEqual([]);
    expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(false);
  });

  // job-1 runs for less than a second and job-2, the agent's next job, starts in that same second.
  it.each([
    ['in order', ['s1', 'f1', 's2']],
    ['the next job first', ['s2', 's1', 'f1']],
    ['the next job, then the finish, then the short start', ['s2', 'f1', 's1']],
    ['the finish first', ['f1', 's2', 's1']],
  ] as const)(
    'a different job started in the second the previous one finished (%s): busy with it and protected',
    async (_n, order) => {
      const s = setup({ scaleInIdleSeconds: 0 });
      await s.event.connected(1, T0 - 60_000);
      for (const e of order) {
        if (e === 's1') await s.event.started(1, 'job-1', T0);
        else if (e === 'f1') await s.event.finished(1, 'job-1', T0);
        else await s.event.started(1, 'job-2', T0);
      }
      expect(await s.fleet.members('linux')).toEqual([
        expect.objectContaining({ activity: 'busy', jobId: 'job-2', finishedJobIds: ['job-1'] }),
      ]);
      expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
      s.checker.answers.set('agent-1', idle);
      const members = await s.fleet.members('linux');
      expect(
        (await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0 + 60_000)).terminated,
      ).toEqual([]);
    },
  );

  it("several agents per instance: one agent's sub-second job leaves protection to its busy neighbour, and the last finish clears it", async () => {
    const s = setup({ agentsPerInstance: 2 });
    await s.agents.started('agent-a', 1, 'job-a', T0 - 30_000);
    await s.agents.finished('agent-b', 1, 'job-b', T0);
    expect((await s.agents.started('agent-b', 1, 'job-b', T0)).memberRecorded).toBe(false);
    expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
    expect((await s.agents.finished('agent-a', 1, 'job-a', T0)).protection).toBe('cleared');
    expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(false);
  });
});

describe('safe scale-in', () => {
  async function fleetOf(s: ReturnType<typeof setup>) {
    // agent-1 idle 20 min, agent-2 busy, agent-3 idle 15 min.
    await s.event.connected(1, T0 - 1_200_000);
    await s.event.started(2, 'job-2', T0 - 3_600_000);
    await s.event.connected(3, T0 - 900_000);
    return s.fleet.members('linux');
  }
  const idle: AgentCheck = { kind: 'idle' };

  it('terminates the oldest idle instance, re-checked, never the busy one', async () => {
    const s = setup();
    const members = await fleetOf(s);
    s.checker.answers.set('agent-1', idle).set('agent-3', idle);
    const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
    expect(result.terminated).toEqual([I(1)]);
    expect(s.groups.calls.filter((c) => !c.startsWith('protect'))).toEqual([`terminate ${I(1)}`]);
    expect(s.groups.capacity('ci-linux').desired).toBe(2);
  });

  it('the re-check says busy (it just took a job): passed over, the next idle one goes', async () => {
    const s = setup();
    const members = await fleetOf(s);
    s.checker.answers.set('agent-1', { kind: 'busy', jobId: 'job-new' }).set('agent-3', idle);
    const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
    expect(result.terminated).toEqual([I(3)]);
    expect(s.checker.asked).toEqual(['agent-1', 'agent-3']);
  });

  it('any doubt (the lookup failed): nothing terminated', async () => {
    const s = setup();
    const members = await fleetOf(s);
    const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 2, T0);
    expect(result).toEqual({ terminated: [], held: 'no-idle-instance' });
    expect(s.groups.calls.filter((c) => c.startsWith('terminate'))).toEqual([]);
  });

  it('no idle instance for long enough: nothing terminated', async () => {
    const s = setup({ scaleInIdleSeconds: 3600 });
    const members = await fleetOf(s);
    s.checker.answers.set('agent-1', idle).set('agent-3', idle);
    expect((await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0)).terminated).toEqual(
      [],
    );
  });

  it('without a Buildkite API token: held, logged and counted', async () => {
    const s = setup({}, { checker: false });
    const members = await fleetOf(s);
    const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
    expect(result).toEqual({ terminated: [], held: 'no-api-token' });
    expect(s.metrics.actions).toContainEqual({ queue: 'linux', name: 'ScaleInHeld' });
  });

  it('an idle agent whose instance stayed protected (its job.finished lost) is still a candidate: the re-check decides', async () => {
    const s = setup();
    await s.event.started(1, 'job-1', T0 - 3_600_000); // protected
    await s.event.connected(1, T0 - 1_200_000); // a later connect: idle, but nobody cleared protection
    s.checker.answers.set('agent-1', idle);
    const members = await s.fleet.members('linux');
    expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
    expect((await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0)).terminated).toEqual([
      I(1),
    ]);
  });

  it('dry run: logs the instance it would terminate', async () => {
    const s = setup({}, { dryRun: true });
    const members = await fleetOf(s);
    s.checker.answers.set('agent-1', idle);
    const result = await s.actions.scaleIn(s.q, members, { desired: 3, min: 0, max: 20 }, 1, T0);
    expect(result.terminated).toEqual([I(1)]);
    expect(s.groups.calls.filter((c) => c.startsWith('terminate'))).toEqual([]);
    expect(s.log.messages()).toContain('Would terminate idle instance');
  });
});

describe('lost-agent healing', () => {
  it('agent.lost: the instance is marked Unhealthy at once', async () => {
    const s = setup();
    await s.event.connected(1, T0 - 60_000);
    expect((await s.event.lost(1, T0)).healed).toBe(true);
    expect(s.groups.calls).toEqual([`unhealthy ${I(1)}`]);
    expect(s.metrics.actions).toContainEqual({ queue: 'linux', name: 'InstanceMarkedUnhealthy' });
  });

  it('agent.disconnected and no reconnect: healed by the reconcile after the grace', async () => {
    const s = setup();
    await s.event.disconnected(2, T0);
    expect(await s.healAt(T0 + 299_000)).toEqual([]);
    expect(await s.healAt(T0 + 300_000)).toEqual([I(2)]);
  });

  it('agent.disconnected then agent.connected within the grace: left alone', async () => {
    const s = setup();
    await s.event.disconnected(2, T0);
    await s.event.connected(2, T0 + 30_000);
    expect(await s.healAt(T0 + 600_000)).toEqual([]);
    expect(s.groups.calls).toEqual([]);
  });

  it('rate cap reached: a Buildkite-side outage that loses every agent heals only the cap', async () => {
    const s = setup({ healingMaxPercent: 10 });
    const groups = new MemoryGroups().add('ci-linux', {
      instances: Array.from({ length: 9 }, (_, i) => I(i + 1)),
      max: 20,
    });
    const { actions } = memoryFleetActions(s.cfg, s.clock, {
      fleet: s.fleet,
      groups,
      metrics: s.metrics,
      log: s.log,
    });
    for (let n = 1; n <= 9; n++) {
      await actions.track(
        'agent.lost',
        { agent: { id: `agent-${n}`, meta_data: ['queue=linux', `aws:instance-id=${I(n)}`] } },
        T0,
      );
    }
    expect(groups.calls.filter((c) => c.startsWith('unhealthy'))).toEqual([`unhealthy ${I(1)}`]);
    expect(s.metrics.actions.filter((a) => a.name === 'HealingCapped')).toHaveLength(8);
    // The window moves on: one more may go.
    expect(
      await actions.healQueue(s.q, await s.fleet.members('linux'), groups.capacity('ci-linux'), T0 + 600_001),
    ).toHaveLength(1);
  });

  it('a replayed agent.lost does not heal twice (the instance is already Unhealthy)', async () => {
    const s = setup();
    await s.event.lost(1, T0);
    await s.event.lost(1, T0);
    expect(s.groups.calls).toEqual([`unhealthy ${I(1)}`]);
  });

  it('healing off: nothing', async () => {
    const s = setup({ healingEnabled: false });
    await s.event.lost(1, T0);
    expect(s.groups.calls).toEqual([]);
  });
});

describe('waits and stuck jobs', () => {
  it('publishes each job wait once, even when job.started is replayed', async () => {
    const s = setup();
    await s.event.scheduled('job-1', T0);
    await s.event.started(1, 'job-1', T0 + 42_000);
    await s.event.started(1, 'job-1', T0 + 42_000);
    expect(s.metrics.waits).toEqual([{ queue: 'linux', seconds: 42 }]);
  });

  it('a late job.scheduled after job.started does not make the job wait again', async () => {
    const s = setup();
    await s.event.started(1, 'job-1', T0 + 42_000);
    await s.event.scheduled('job-1', T0);
    expect((await s.fleet.jobs('linux')).map((j) => j.state)).toEqual(['started']);
  });

  it('oldest waiting age, unsatisfiable jobs apart from demand, one job.stuck per job', async () => {
    const s = setup({ stuckJobSeconds: 600 });
    await s.event.connected(1, T0 - 60_000);
    await s.event.scheduled('job-1', T0 - 900_000, ['os=windows']);
    await s.event.scheduled('job-2', T0 - 120_000);
    const members = await s.fleet.members('linux');
    const first = await s.actions.reviewWaits(s.q, counts(2, 1), members, T0);
    expect(first).toEqual({ unmatched: 1, stuck: 1, cleared: 0 });
    expect(s.metrics.queueFigures).toEqual([{ queue: 'linux', oldest: 900, unsatisfiable: 2 }]);
    expect(s.health.stuck).toEqual([
      {
        org: 'acme',
        queue: 'linux',
        job: { id: 'job-1', agentQueryRules: ['os=windows'] },
        waitedSeconds: 900,
        reason: 'no-matching-agent',
        readyAt: iso(T0 - 900_000),
      },
    ]);
    await s.actions.reviewWaits(s.q, counts(2, 1), members, T0 + 60_000);
    expect(s.health.stuck).toHaveLength(1);
  });

  it('the metrics API says nothing waits: tracked jobs are stale (their job.started was lost)', async () => {
    const s = setup({ stuckJobSeconds: 600 });
    await s.event.scheduled('job-1', T0 - 900_000);
    expect(await s.actions.reviewWaits(s.q, counts(0, 0), [], T0)).toEqual({
      unmatched: 0,
      stuck: 0,
      cleared: 0,
    });
    expect(s.metrics.queueFigures).toEqual([{ queue: 'linux', oldest: 0, unsatisfiable: 0 }]);
  });
});

describe('replays and out-of-order delivery converge (property)', () => {
  type LifeEvent =
    | { readonly type: 'connected'; readonly at: number }
    | { readonly type: 'started' | 'finished'; readonly job: string; readonly at: number };
  const job = (name: string, startedAt: number, finishedAt?: number): LifeEvent[] => [
    { type: 'started', job: name, at: startedAt },
    ...(finishedAt === undefined ? [] : [{ type: 'finished' as const, job: name, at: finishedAt }]),
  ];
  // One agent's life on one instance: connect, three jobs, each started then finished 10 s apart.
  const plain: LifeEvent[] = [
    { type: 'connected', at: T0 },
    ...[1, 2, 3].flatMap((n) => job(`job-${n}`, T0 + n * 20_000, T0 + n * 20_000 + 10_000)),
  ];
  // Whole-second timestamps: jobs that start and finish in one second, and next jobs started in
  // the second the last one finished, ending idle, or busy with a job started in such a second.
  const shortJobs: LifeEvent[] = [
    { type: 'connected', at: T0 },
    ...job('job-1', T0),
    ...job('job-2', T0, T0 + 10_000),
    ...job('job-3', T0 + 10_000, T0 + 10_000),
    ...job('job-4', T0 + 20_000, T0 + 20_000),
  ];
  const stillRunning: LifeEvent[] = [...shortJobs, ...job('job-5', T0 + 20_000)];

  async function deliver(life: readonly LifeEvent[], order: readonly number[]) {
    const s = setup();
    for (const i of order) {
      const e = life[i] as LifeEvent;
      if (e.type === 'connected') await s.event.connected(1, e.at);
      else await s.event[e.type](1, e.job, e.at);
    }
    const [member] = await s.fleet.members('linux');
    return { member, protectedFromScaleIn: s.groups.instance(I(1))?.protectedFromScaleIn };
  }

  it.each([
    ['jobs of several seconds', plain, { activity: 'idle', since: T0 + 70_000 }, false],
    ['jobs within one second, ending idle', shortJobs, { activity: 'idle', since: T0 + 20_000 }, false],
    [
      'jobs within one second, the last still running',
      stillRunning,
      { activity: 'busy', jobId: 'job-5' },
      true,
    ],
  ] as const)(
    '%s: any order, with any events repeated, ends where in-order delivery ends',
    async (_n, life, expected, protectedAtEnd) => {
      const inOrder = await deliver(
        life,
        life.map((_, i) => i),
      );
      expect(inOrder.member).toMatchObject(expected);
      expect(inOrder.protectedFromScaleIn).toBe(protectedAtEnd);
      await fc.assert(
        fc.asyncProperty(deliveryOrders(life.length), async (order) => {
          const result = await deliver(life, order);
          expect(result.member).toEqual(inOrder.member);
          expect(result.protectedFromScaleIn).toBe(inOrder.protectedFromScaleIn);
        }),
        { numRuns: 200 },
      );
    },
  );
});

describe('several agents per instance', () => {
  const idle: AgentCheck = { kind: 'idle' };
  const MIN = 60_000;

  describe('protection', () => {
    it("one agent's job.finished while its neighbour runs a job: protection kept, logged with the busy agent and job", async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.started('agent-a', 1, 'job-a', T0);
      await s.agents.started('agent-b', 1, 'job-b', T0 + 1_000);
      expect((await s.agents.finished('agent-b', 1, 'job-b', T0 + MIN)).protection).toBe('kept');
      expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
      expect(s.log.lines).toContainEqual(
        expect.objectContaining({
          message: 'Scale-in protection kept: another agent of the instance runs a job',
          attributes: expect.objectContaining({
            agentId: 'agent-b',
            busyAgentId: 'agent-a',
            busyJobId: 'job-a',
          }),
        }),
      );
    });

    it('both agents idle: the last job.finished clears protection', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.started('agent-a', 1, 'job-a', T0);
      await s.agents.started('agent-b', 1, 'job-b', T0 + 1_000);
      await s.agents.finished('agent-b', 1, 'job-b', T0 + MIN);
      expect((await s.agents.finished('agent-a', 1, 'job-a', T0 + 2 * MIN)).protection).toBe('cleared');
      expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(false);
    });

    it('a neighbour starts a job while the clearing lands: protected again', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.started('agent-a', 1, 'job-a', T0);
      const clear = s.groups.setScaleInProtection.bind(s.groups);
      let raced = false;
      s.groups.setScaleInProtection = async (group, instanceId, protect) => {
        if (!protect && !raced) {
          raced = true;
          expect((await s.agents.started('agent-b', 1, 'job-b', T0 + 61_000)).protection).toBe('set');
        }
        return clear(group, instanceId, protect);
      };
      expect((await s.agents.finished('agent-a', 1, 'job-a', T0 + MIN)).protection).toBe('set');
      expect(raced).toBe(true);
      expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
    });

    it('each agent keeps its own record: the fleet holds both agents of the instance', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.started('agent-a', 1, 'job-a', T0);
      await s.agents.connected('agent-b', 1, T0 + 1_000);
      const members = await s.fleet.members('linux');
      expect(members.map((m) => [m.agentId, m.instanceId, m.activity]).sort()).toEqual([
        ['agent-a', I(1), 'busy'],
        ['agent-b', I(1), 'idle'],
      ]);
    });
  });

  describe('scale-in', () => {
    /** i-1: a idle 20 min, b idle 15 min. i-2: c idle 30 min, d busy. i-3: e idle 5 min, f idle 25 min. */
    async function fleetOf(s: ReturnType<typeof setup>) {
      await s.agents.connected('agent-a', 1, T0 - 20 * MIN);
      await s.agents.connected('agent-b', 1, T0 - 15 * MIN);
      await s.agents.connected('agent-c', 2, T0 - 30 * MIN);
      await s.agents.started('agent-d', 2, 'job-d', T0 - 60 * MIN);
      await s.agents.connected('agent-e', 3, T0 - 5 * MIN);
      await s.agents.connected('agent-f', 3, T0 - 25 * MIN);
      return s.fleet.members('linux');
    }

    it('terminates an instance only when all its agents are idle long enough and every re-check passes', async () => {
      const s = setup({ agentsPerInstance: 2 });
      const members = await fleetOf(s);
      for (const a of ['a', 'b', 'c', 'd', 'e', 'f']) s.checker.answers.set(`agent-${a}`, idle);
      const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 3, T0);
      // i-2 has a busy agent, i-3's last agent became idle 5 min ago (under the default 10).
      expect(result).toEqual({ terminated: [I(1)] });
      expect(s.checker.asked).toEqual(['agent-a', 'agent-b']);
      expect(s.groups.calls.filter((c) => c.startsWith('terminate'))).toEqual([`terminate ${I(1)}`]);
    });

    it('one re-check says busy: that instance is passed over, the next idle one goes', async () => {
      const s = setup({ agentsPerInstance: 2, scaleInIdleSeconds: 60 });
      const members = await fleetOf(s);
      s.checker.answers
        .set('agent-a', idle)
        .set('agent-b', { kind: 'busy', jobId: 'job-new' })
        .set('agent-e', idle)
        .set('agent-f', idle);
      const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
      // i-3 (idle since 5 min, over the 1 min idle time) goes instead.
      expect(result).toEqual({ terminated: [I(3)] });
      expect(s.checker.asked).toEqual(['agent-a', 'agent-b', 'agent-e', 'agent-f']);
      expect(s.log.lines).toContainEqual(
        expect.objectContaining({
          message: 'Scale-in passed over an instance: Buildkite says its agent is not idle',
          attributes: expect.objectContaining({ instanceId: I(1), agentId: 'agent-b', jobId: 'job-new' }),
        }),
      );
    });

    it('a doubt on any agent keeps the instance', async () => {
      const s = setup({ agentsPerInstance: 2 });
      const members = await fleetOf(s);
      s.checker.answers.set('agent-a', idle); // agent-b: not in the table, a doubt
      const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
      expect(result).toEqual({ terminated: [], held: 'no-idle-instance' });
    });

    it('fewer known agents than agentsPerInstance: passed over, never asked (the unknown one may run a job)', async () => {
      const s = setup({ agentsPerInstance: 3 });
      const members = await fleetOf(s);
      for (const a of ['a', 'b', 'c', 'd', 'e', 'f']) s.checker.answers.set(`agent-${a}`, idle);
      const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
      expect(result).toEqual({ terminated: [], held: 'no-idle-instance' });
      expect(s.checker.asked).toEqual([]);
    });

    it('an agent restarted under a new id: its stopped record is dropped, the instance is judged by the two running', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.connected('agent-a', 1, T0 - 40 * MIN);
      await s.agents.connected('agent-b', 1, T0 - 40 * MIN);
      await s.agents.stopped('agent-b', 1, T0 - 35 * MIN);
      await s.agents.connected('agent-b2', 1, T0 - 30 * MIN);
      s.checker.answers.set('agent-a', idle).set('agent-b2', idle);
      const result = await s.actions.scaleIn(
        s.q,
        await s.fleet.members('linux'),
        s.groups.capacity('ci-linux'),
        1,
        T0,
      );
      expect(result).toEqual({ terminated: [I(1)] });
      expect(s.checker.asked).toEqual(['agent-a', 'agent-b2']);
    });

    it('dry run: each instance once, whatever its number of agents', async () => {
      const s = setup({ agentsPerInstance: 2 }, { dryRun: true });
      const members = await fleetOf(s);
      for (const a of ['a', 'b', 'c', 'd', 'e', 'f']) s.checker.answers.set(`agent-${a}`, idle);
      const result = await s.actions.scaleIn(s.q, members, { desired: 3, min: 0, max: 20 }, 3, T0);
      expect(result).toEqual({ terminated: [I(1)] });
      expect(s.groups.calls.filter((c) => c.startsWith('terminate'))).toEqual([]);
    });
  });

  describe('waits', () => {
    it('a waiting job is judged against every agent of the instance, not the last one to report', async () => {
      const s = setup({ agentsPerInstance: 2, stuckJobSeconds: 600 });
      const gpu = { id: 'agent-gpu', meta_data: ['queue=linux', 'gpu=true', `aws:instance-id=${I(1)}`] };
      await s.actions.track('agent.connected', { agent: gpu }, T0 - 30 * MIN);
      await s.agents.connected('agent-plain', 1, T0 - 20 * MIN);
      await s.event.scheduled('job-gpu', T0 - 15 * MIN, ['gpu=true']);
      const members = await s.fleet.members('linux');
      expect(await s.actions.reviewWaits(s.q, counts(1, 0), members, T0)).toEqual({
        unmatched: 0,
        stuck: 0,
        cleared: 0,
      });
      expect(s.health.stuck).toEqual([]);
    });
  });

  describe('healing', () => {
    it('one agent lost while its neighbour is connected: the instance stays, logged as partly lost', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.connected('agent-a', 1, T0 - MIN);
      await s.agents.started('agent-b', 1, 'job-b', T0 - MIN);
      expect((await s.agents.lost('agent-a', 1, T0)).healed).toBe(false);
      expect(await s.healAt(T0 + 60 * MIN)).toEqual([]);
      expect(s.groups.calls.filter((c) => c.startsWith('unhealthy'))).toEqual([]);
      expect(s.log.lines).toContainEqual(
        expect.objectContaining({
          message: 'Instance partly lost: some agents are still connected, so it stays',
          attributes: expect.objectContaining({
            instanceId: I(1),
            lostAgents: ['agent-a (lost)'],
            connectedAgents: ['agent-b (busy)'],
          }),
        }),
      );
    });

    it('every agent lost: the instance is marked Unhealthy once', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.connected('agent-a', 1, T0 - MIN);
      await s.agents.connected('agent-b', 1, T0 - MIN);
      expect((await s.agents.lost('agent-a', 1, T0)).healed).toBe(false);
      expect((await s.agents.lost('agent-b', 1, T0 + 1_000)).healed).toBe(true);
      expect(await s.healAt(T0 + 2_000)).toEqual([]); // already Unhealthy
      expect(s.groups.calls).toEqual([`unhealthy ${I(1)}`]);
    });

    it('one lost, the other disconnected: healed once the disconnected one is past the grace', async () => {
      const s = setup({ agentsPerInstance: 2 });
      await s.agents.connected('agent-a', 1, T0 - MIN);
      await s.agents.connected('agent-b', 1, T0 - MIN);
      await s.agents.disconnected('agent-b', 1, T0);
      expect((await s.agents.lost('agent-a', 1, T0 + 1_000)).healed).toBe(false);
      expect(await s.healAt(T0 + 299_000)).toEqual([]);
      expect(await s.healAt(T0 + 300_000)).toEqual([I(1)]);
    });
  });
});

describe('replays and out-of-order delivery converge with two agents on one instance (property)', () => {
  // Two agents' lives on one instance: each connects and runs two jobs; the instance runs both.
  // Then, in one second shared by both agents, each runs a job shorter than a second and starts
  // its next one, which runs for 10 s (whole-second timestamps cannot order these); each ends
  // with a job shorter than a second, in one second too.
  const life = (['a', 'b'] as const).flatMap((id, k) => [
    { id, type: 'connected', at: T0 + k * 5_000 } as const,
    ...[1, 2].flatMap((n) => [
      { id, type: 'started', job: `job-${id}-${n}`, at: T0 + k * 5_000 + n * 20_000 } as const,
      { id, type: 'finished', job: `job-${id}-${n}`, at: T0 + k * 5_000 + n * 20_000 + 10_000 } as const,
    ]),
    { id, type: 'started', job: `job-${id}-short`, at: T0 + 60_000 } as const,
    { id, type: 'finished', job: `job-${id}-short`, at: T0 + 60_000 } as const,
    { id, type: 'started', job: `job-${id}-next`, at: T0 + 60_000 } as const,
    { id, type: 'finished', job: `job-${id}-next`, at: T0 + 70_000 } as const,
    { id, type: 'started', job: `job-${id}-last`, at: T0 + 80_000 } as const,
    { id, type: 'finished', job: `job-${id}-last`, at: T0 + 80_000 } as const,
  ]);

  async function deliver(order: readonly number[]) {
    const s = setup({ agentsPerInstance: 2 });
    for (const i of order) {
      const e = life[i] as (typeof life)[number];
      if (e.type === 'connected') await s.agents.connected(`agent-${e.id}`, 1, e.at);
      else if (e.type === 'started') await s.agents.started(`agent-${e.id}`, 1, e.job, e.at);
      else await s.agents.finished(`agent-${e.id}`, 1, e.job, e.at);
    }
    const members = (await s.fleet.members('linux')).sort((x, y) => x.agentId.localeCompare(y.agentId));
    return { members, protectedFromScaleIn: s.groups.instance(I(1))?.protectedFromScaleIn };
  }

  it('any order, with replays, ends with the same agent records and the instance unprotected', async () => {
    const inOrder = await deliver(life.map((_, i) => i));
    expect(inOrder.members.map((m) => [m.agentId, m.activity])).toEqual([
      ['agent-a', 'idle'],
      ['agent-b', 'idle'],
    ]);
    expect(inOrder.protectedFromScaleIn).toBe(false);
    await fc.assert(
      fc.asyncProperty(deliveryOrders(life.length), async (order) => {
        const result = await deliver(order);
        expect(result.members).toEqual(inOrder.members);
        expect(result.protectedFromScaleIn).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

describe('several agents on one instance, any interleaving of their jobs (property)', () => {
  it('the instance is never unprotected or terminated while one of its agents runs a job, and is released when all finish', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 4 }).chain((jobsPerAgent) => {
          // Each agent's events are start, finish, start, …: the interleaving picks whose comes next.
          const turns = jobsPerAgent.flatMap((jobs, agent) => Array.from({ length: 2 * jobs }, () => agent));
          return fc.tuple(
            fc.constant(jobsPerAgent.length),
            fc.shuffledSubarray(turns, { minLength: turns.length, maxLength: turns.length }),
            // Whether each event falls in the second of the one before (whole-second timestamps:
            // sub-second jobs, next jobs started in the second the last finished, neighbours alike).
            fc.array(fc.boolean(), { minLength: turns.length, maxLength: turns.length }),
          );
        }),
        async ([agentCount, turns, sameSecond]) => {
          const s = setup({ agentsPerInstance: agentCount, scaleInIdleSeconds: 0 });
          // A Buildkite API that always says idle: only the fleet records stand between a job and a termination.
          for (let a = 0; a < agentCount; a++) s.checker.answers.set(`agent-${a}`, { kind: 'idle' });
          for (let a = 0; a < agentCount; a++) await s.agents.connected(`agent-${a}`, 1, T0 - 60_000);
          const next = new Array<number>(agentCount).fill(0);
          const running = new Set<number>();
          let at = T0;
          for (const [k, agent] of turns.entries()) {
            if (!sameSecond[k]) at += 1_000;
            const callsBefore = s.groups.calls.length;
            const step = next[agent] as number;
            next[agent] = step + 1;
            const job = `job-${agent}-${Math.floor(step / 2)}`;
            if (step % 2 === 0) {
              running.add(agent);
              await s.agents.started(`agent-${agent}`, 1, job, at);
            } else {
              running.delete(agent);
              await s.agents.finished(`agent-${agent}`, 1, job, at);
            }
            if (running.size > 0) {
              // Not even for a moment: no clearing call while a job runs.
              expect(s.groups.calls.slice(callsBefore)).not.toContain(`protect ci-linux ${I(1)} false`);
              expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(true);
              const members = await s.fleet.members('linux');
              const result = await s.actions.scaleIn(
                s.q,
                members,
                s.groups.capacity('ci-linux'),
                3,
                at + 500,
              );
              expect(result.terminated).not.toContain(I(1));
            }
          }
          expect(s.groups.instance(I(1))?.protectedFromScaleIn).toBe(false);
          const members = await s.fleet.members('linux');
          const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, at + 1_000);
          expect(result.terminated).toEqual([I(1)]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
