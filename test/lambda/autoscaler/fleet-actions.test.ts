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
  /** The reconcile's healing pass over the queue's fleet as it stands, at `at`. */
  const healAt = async (at: number) =>
    actions.healQueue(q, await fleet.members('linux'), groups.capacity('ci-linux'), at);
  return { cfg, q, clock, groups, checker, metrics, health, log, fleet, actions, event, healAt };
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

  it('several agents per instance: held, since an idle agent does not make its instance idle', async () => {
    const s = setup({ agentsPerInstance: 2 });
    const members = await fleetOf(s);
    s.checker.answers.set('agent-1', idle).set('agent-3', idle);
    const result = await s.actions.scaleIn(s.q, members, s.groups.capacity('ci-linux'), 1, T0);
    expect(result).toEqual({ terminated: [], held: 'several-agents-per-instance' });
    expect(s.groups.calls.filter((c) => c.startsWith('terminate'))).toEqual([]);
    expect(s.checker.asked).toEqual([]);
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
    expect(first).toEqual({ unmatched: 1, stuck: 1 });
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
    expect(await s.actions.reviewWaits(s.q, counts(0, 0), [], T0)).toEqual({ unmatched: 0, stuck: 0 });
    expect(s.metrics.queueFigures).toEqual([{ queue: 'linux', oldest: 0, unsatisfiable: 0 }]);
  });
});

describe('replays and out-of-order delivery converge (property)', () => {
  // One agent's life on one instance: connect, three jobs, each started then finished 10 s apart.
  const life = [
    { type: 'connected', at: T0 },
    ...[1, 2, 3].flatMap((n) => [
      { type: 'started', job: `job-${n}`, at: T0 + n * 20_000 } as const,
      { type: 'finished', job: `job-${n}`, at: T0 + n * 20_000 + 10_000 } as const,
    ]),
  ] as const;

  async function deliver(order: readonly number[]) {
    const s = setup();
    for (const i of order) {
      const e = life[i] as (typeof life)[number];
      if (e.type === 'connected') await s.event.connected(1, e.at);
      else if (e.type === 'started') await s.event.started(1, e.job, e.at);
      else await s.event.finished(1, e.job, e.at);
    }
    const [member] = await s.fleet.members('linux');
    return { member, protectedFromScaleIn: s.groups.instance(I(1))?.protectedFromScaleIn };
  }

  it('any order, with any events repeated, ends where in-order delivery ends', async () => {
    const inOrder = await deliver(life.map((_, i) => i));
    expect(inOrder.member).toMatchObject({ activity: 'idle', since: T0 + 70_000 });
    expect(inOrder.protectedFromScaleIn).toBe(false);
    await fc.assert(
      fc.asyncProperty(
        // Every event once, plus up to four replays, all in one shuffled order.
        fc.array(fc.integer({ min: 0, max: life.length - 1 }), { maxLength: 4 }).chain((replays) => {
          const all = [...life.map((_, k) => k), ...replays];
          return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
        }),
        async (order) => {
          const result = await deliver(order);
          expect(result.member).toEqual(inOrder.member);
          expect(result.protectedFromScaleIn).toBe(inOrder.protectedFromScaleIn);
        },
      ),
      { numRuns: 200 },
    );
  });
});
