import { parseAutoscalerConfig } from '../../../lib/config/autoscaler';
import { AutoscalerController, triggerOf, type Trigger } from '../../../lambda/autoscaler/controller';
import type { GroupCapacity, QueueCounts } from '../../../lambda/autoscaler/decision';
import type { MetricsResult, MetricsSource } from '../../../lambda/autoscaler/metrics-api';
import type { AutoscalerLog, GroupScaler } from '../../../lambda/autoscaler/ports';
import { MemoryAutoscalerStateStore } from '../../../local/adapters/memory-autoscaler-stores';
import { MAX_JOB_CHECKS_PER_EVALUATION } from '../../../lambda/autoscaler/fleet-actions';
import {
  memoryFleetActions,
  MemoryGroups,
  TableAgentChecker,
  TableJobChecker,
} from '../../../support/autoscaler-fakes';
import { SimulatedClock } from '../../../support/simulated-clock';
import { busEvent as envelope, queueCounts as counts } from '../../support/autoscaler';

const config = parseAutoscalerConfig({
  org: 'acme',
  queues: [
    { queue: 'linux', asgName: 'ci-linux', max: 20, agentsPerInstance: 2 },
    { queue: 'dry', max: 5 },
  ],
});

class FakeMetrics implements MetricsSource {
  calls = 0;
  constructor(public result: MetricsResult) {}
  async fetchMetrics(): Promise<MetricsResult> {
    this.calls++;
    return this.result;
  }
}
const okMetrics = (queues: Record<string, QueueCounts>, pollDurationSeconds?: number): MetricsResult => ({
  ok: true,
  metrics: { org: 'acme', queues: new Map(Object.entries(queues)) },
  ...(pollDurationSeconds ? { pollDurationSeconds } : {}),
});

class FakeGroups implements GroupScaler {
  readonly sets: [string, number][] = [];
  failOn = new Set<string>();
  constructor(readonly groups: Map<string, GroupCapacity>) {}
  async describe(names: readonly string[]) {
    return new Map([...this.groups].filter(([name]) => names.includes(name)));
  }
  async setDesired(name: string, desired: number) {
    if (this.failOn.has(name)) throw new Error(`throttled on ${name}`);
    this.sets.push([name, desired]);
    const g = this.groups.get(name);
    if (g) this.groups.set(name, { ...g, desired });
  }
  async terminateInstance(): Promise<'done'> {
    throw new Error('no instance is terminated in these tests');
  }
  async setScaleInProtection(): Promise<'done'> {
    throw new Error('no instance is protected in these tests');
  }
  async markUnhealthy(): Promise<'done'> {
    throw new Error('no instance is healed in these tests');
  }
}

function setup(metricsResult: MetricsResult = okMetrics({ linux: counts(5), dry: counts(3) })) {
  const logs: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const log: AutoscalerLog = {
    info: (message, attributes) => logs.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => logs.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => logs.push({ level: 'error', message, attributes }),
  };
  const store = new MemoryAutoscalerStateStore();
  const metrics = new FakeMetrics(metricsResult);
  const groups = new FakeGroups(new Map([['ci-linux', { desired: 0, min: 0, max: 20 }]]));
  const published: [string, string, QueueCounts][] = [];
  const clock = new SimulatedClock(Date.parse('2026-06-03T04:15:00Z'));
  const controller = new AutoscalerController({
    config,
    store,
    metrics,
    groups,
    counts: { publish: (org, queue, c) => published.push([org, queue, c]) },
    fleet: memoryFleetActions(config, clock, { groups, log }).actions,
    log,
    clock,
  });
  return { controller, store, metrics, groups, logs, published, clock };
}

const jobEvent = (n = 0): Trigger => ({
  kind: 'event',
  queue: 'linux',
  detailType: 'job.scheduled',
  eventId: `e${n}`,
});

describe('AutoscalerController', () => {
  it('acts on the first event at once: one metrics call, SetDesiredCapacity, a decision log with inputs', async () => {
    const { controller, metrics, groups, logs, published } = setup();
    const outcome = await controller.handle(jobEvent());
    expect(outcome.gate).toBe('now');
    expect(metrics.calls).toBe(1);
    expect(groups.sets).toEqual([['ci-linux', 3]]);
    expect(published.map(([org, queue]) => `${org}/${queue}`)).toEqual(['acme/linux', 'acme/dry']);
    const decisions = logs.filter((l) => l.message === 'Autoscaler decision').map((l) => l.attributes);
    expect(decisions).toEqual([
      expect.objectContaining({
        queue: 'linux',
        asgName: 'ci-linux',
        dryRun: false,
        applied: true,
        action: 'scale-out',
        current: 0,
        desired: 3,
        scheduled: 5,
        running: 0,
        trigger: 'event',
        eventId: 'e0',
      }),
      expect.objectContaining({
        queue: 'dry',
        dryRun: true,
        applied: false,
        action: 'scale-out',
        current: 0,
        desired: 3,
      }),
    ]);
  });

  it('collapses a burst: one evaluation now, one trailing evaluation at the interval, none lost', async () => {
    const { controller, metrics, clock } = setup();
    const first = await controller.handle(jobEvent(0));
    expect(first.gate).toBe('now');
    const gates: string[] = [];
    for (let i = 1; i <= 100; i++) {
      await clock.advance(50); // 100 more events over 5 s
      // The trailing claimant sleeps; later events do not wait for it.
      void controller.handle(jobEvent(i)).then((o) => gates.push(o.gate));
    }
    await clock.settle();
    expect(gates.filter((g) => g === 'collapsed')).toHaveLength(99);
    expect(clock.sleepers).toBe(1);
    await clock.advance(5_000);
    expect(gates.filter((g) => g === 'trailing')).toHaveLength(1);
    expect(metrics.calls).toBe(2);
  });

  it('a duplicate delivery of the same event acts once', async () => {
    const { controller, groups, clock } = setup();
    await controller.handle(jobEvent(1));
    const again = controller.handle(jobEvent(1)); // becomes the trailing evaluation
    await clock.advance(10_000);
    expect((await again).decisions.find((d) => d.queue === 'linux')?.decision.reason).toBe('at-target');
    expect(groups.sets).toEqual([['ci-linux', 3]]);
  });

  it('evaluates again after the interval and honours a longer poll duration', async () => {
    const { controller, metrics, clock, store } = setup(okMetrics({ linux: counts(5) }, 30));
    await controller.handle(jobEvent(0));
    expect((await store.readGate()).pollDurationSeconds).toBe(30);
    await clock.advance(10_000);
    const pending = controller.handle(jobEvent(1));
    await clock.advance(20_000);
    const second = await pending;
    expect(second.gate).toBe('trailing');
    expect(second.evaluatedAt).toBe(Date.parse('2026-06-03T04:15:30Z'));
    expect(metrics.calls).toBe(2);
  });

  it('a reconcile holds the next event back only for the poll duration, and skips when an evaluation is recent', async () => {
    const { controller, metrics, clock } = setup();
    expect((await controller.handle({ kind: 'reconcile' })).gate).toBe('now');
    await clock.advance(1_000);
    expect((await controller.handle(jobEvent(1))).gate).toBe('now');
    await clock.advance(1_000);
    expect((await controller.handle({ kind: 'reconcile' })).gate).toBe('collapsed');
    expect(metrics.calls).toBe(2);
  });

  it('after a reconcile, the API poll duration still holds the next event back', async () => {
    const { controller, metrics, clock } = setup(okMetrics({ linux: counts(5) }, 15));
    await controller.handle(jobEvent(0)); // learns the poll duration
    await clock.advance(60_000);
    metrics.calls = 0;
    await controller.handle({ kind: 'reconcile' });
    await clock.advance(5_000);
    const pending = controller.handle(jobEvent(1));
    await clock.advance(5_000);
    expect(metrics.calls).toBe(1);
    await clock.advance(5_000);
    expect((await pending).gate).toBe('trailing');
    expect(metrics.calls).toBe(2);
  });

  it('does nothing when the metrics API fails, and says so', async () => {
    const { controller, groups, logs, published } = setup({
      ok: false,
      failure: 'unauthorized',
      status: 401,
      message: 'no',
    });
    const outcome = await controller.handle(jobEvent());
    expect(groups.sets).toEqual([]);
    expect(published).toEqual([]);
    expect(outcome.decisions.map((d) => d.decision.reason)).toEqual([
      'metrics-unavailable',
      'metrics-unavailable',
    ]);
    expect(logs.find((l) => l.level === 'warn')?.attributes).toMatchObject({
      failure: 'unauthorized',
      status: 401,
    });
  });

  it('never calls Auto Scaling in dry run, and remembers the dry-run capacity', async () => {
    const { controller, groups, store, clock, metrics } = setup();
    await controller.handle(jobEvent(0));
    expect(groups.sets.map(([name]) => name)).toEqual(['ci-linux']);
    expect((await store.readQueue('dry')).dryRunDesired).toBe(3);
    metrics.result = okMetrics({ linux: counts(5), dry: counts(0) });
    await clock.advance(60_000);
    const outcome = await controller.handle({ kind: 'reconcile' });
    expect(outcome.decisions.find((d) => d.queue === 'dry')?.decision).toMatchObject({
      current: 3,
      reason: 'scale-in-disabled',
    });
  });

  it('rethrows Auto Scaling failures after deciding every queue, so the event is retried', async () => {
    const { controller, groups, store } = setup();
    groups.failOn.add('ci-linux');
    await expect(controller.handle(jobEvent())).rejects.toThrow('throttled on ci-linux');
    expect((await store.readQueue('dry')).dryRunDesired).toBe(3);
    expect((await store.readQueue('linux')).lastScaleOutAt).toBeUndefined();
  });

  it('logs a missing group as an error without failing the other queues', async () => {
    const { controller, groups, logs } = setup();
    groups.groups.clear();
    const outcome = await controller.handle(jobEvent());
    expect(outcome.decisions.map((d) => d.queue)).toEqual(['dry']);
    expect(logs.find((l) => l.level === 'error')?.message).toMatch(/not found/);
  });
});

describe('triggerOf', () => {
  it('reads the schedule, configured queues, and ignores the rest', () => {
    expect(triggerOf(envelope('aws.events', 'Scheduled Event', {}), config)).toEqual({
      kind: 'reconcile',
      eventId: 'id-1',
    });
    expect(
      triggerOf(
        envelope('buildkite', 'job.scheduled', { job: { agent_query_rules: ['queue=linux'] } }),
        config,
      ),
    ).toEqual({
      kind: 'event',
      queue: 'linux',
      detailType: 'job.scheduled',
      eventId: 'id-1',
    });
    expect(
      triggerOf(envelope('buildkite', 'agent.lost', { agent: { meta_data: ['queue=dry'] } }), config),
    ).toMatchObject({ queue: 'dry' });
    expect(
      triggerOf(
        envelope('buildkite', 'job.scheduled', { job: { agent_query_rules: ['queue=mac'] } }),
        config,
      ),
    ).toBeUndefined();
    expect(
      triggerOf(envelope('buildkite', 'job.scheduled', { job: { agent_query_rules: [] } }), config),
    ).toBeUndefined();
    expect(triggerOf(envelope('buildkite', 'build.finished', {}), config)).toBeUndefined();
  });
});

describe('AutoscalerController: scale-in never lets the group choose', () => {
  it('terminates the idle instance it knows, never SetDesiredCapacity downwards, and records the cooldown', async () => {
    const cfg = parseAutoscalerConfig({
      org: 'acme',
      queues: [
        { queue: 'linux', asgName: 'ci-linux', max: 20, scaleInEnabled: true, scaleInCooldownSeconds: 0 },
      ],
    });
    const clock = new SimulatedClock(Date.parse('2026-06-03T04:15:00Z'));
    const groups = new MemoryGroups().add('ci-linux', {
      instances: ['i-00000001', 'i-00000002', 'i-00000003'],
      max: 20,
    });
    const checker = new TableAgentChecker(new Map([['agent-1', { kind: 'idle' as const }]]));
    const { actions } = memoryFleetActions(cfg, clock, { groups, checker });
    await actions.track(
      'agent.connected',
      { agent: { id: 'agent-1', meta_data: ['queue=linux', 'aws:instance-id=i-00000001'] } },
      clock.now() - 3_600_000,
    );
    const store = new MemoryAutoscalerStateStore();
    const controller = new AutoscalerController({
      config: cfg,
      store,
      metrics: new FakeMetrics(okMetrics({ linux: counts(0) })),
      groups,
      counts: { publish: () => undefined },
      fleet: actions,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      clock,
    });
    const outcome = await controller.handle({ kind: 'reconcile' });
    expect(outcome.decisions[0]).toMatchObject({
      decision: { action: 'scale-in', current: 3, desired: 0 },
      terminated: ['i-00000001'],
      applied: true,
    });
    // The two instances kitebridge knows nothing about stay; the group picked no victim.
    expect(groups.calls).toEqual(['terminate i-00000001']);
    expect(groups.groupTerminated).toEqual([]);
    expect(groups.capacity('ci-linux').desired).toBe(2);
    expect((await store.readQueue('linux')).lastScaleInAt).toBe(clock.now());
  });
});

describe('AutoscalerController: stuck-job re-checks', () => {
  it(`asks Buildkite about at most ${MAX_JOB_CHECKS_PER_EVALUATION} jobs per evaluation, all queues together`, async () => {
    const cfg = parseAutoscalerConfig({
      org: 'acme',
      dryRun: true,
      queues: [
        { queue: 'linux', max: 5, stuckJobSeconds: 600 },
        { queue: 'mac', max: 5, stuckJobSeconds: 600 },
      ],
    });
    const clock = new SimulatedClock(Date.parse('2026-06-03T04:15:00Z'));
    const jobChecker = new TableJobChecker();
    const { actions } = memoryFleetActions(cfg, clock, { jobChecker });
    for (const queue of ['linux', 'mac']) {
      for (let k = 0; k < 8; k++) {
        const id = `${queue}-${k}`;
        jobChecker.answers.set(id, { kind: 'waiting', state: 'scheduled' });
        await actions.track(
          'job.scheduled',
          {
            job: {
              id,
              agent_query_rules: [`queue=${queue}`],
              scheduled_at: new Date(clock.now() - 3_600_000 - k * 1000).toISOString(),
            },
            build: { number: 7 },
            pipeline: { slug: 'app' },
          },
          clock.now(),
        );
      }
    }
    const controller = new AutoscalerController({
      config: cfg,
      store: new MemoryAutoscalerStateStore(),
      metrics: new FakeMetrics(okMetrics({ linux: counts(8), mac: counts(8) })),
      groups: new MemoryGroups(),
      counts: { publish: () => undefined },
      fleet: actions,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      clock,
    });
    await controller.handle({ kind: 'reconcile' });
    expect(jobChecker.asked).toHaveLength(MAX_JOB_CHECKS_PER_EVALUATION);
    // The first queue's eight, oldest first, then the second queue's two oldest.
    expect(jobChecker.asked.map((j) => j.jobId)).toEqual([
      ...[7, 6, 5, 4, 3, 2, 1, 0].map((k) => `linux-${k}`),
      'mac-7',
      'mac-6',
    ]);
  });
});
