/**
 * Autoscaler fleet simulation: safe scale-in, queue wait metrics and lost-agent healing, on a
 * seeded trace of long jobs replayed on a simulated clock.
 *
 * Run: npm run bench:autoscaler-fleet  (npx tsx bench/autoscaler-fleet.ts [--seed 11])
 *
 * 1. Jobs killed by scale-in. A group of 10 one-agent instances, 70 jobs of 20–60 min arriving
 *    over the first 40 min, then none: demand falls while long jobs still run, and the group is
 *    scaled in. (a) today's scalers: the same decision function every 60 s, applied with
 *    SetDesiredCapacity, the group picking the victims (seeded random, and oldest first); (b)
 *    kitebridge: the real controller, fleet tracking, protection and safe scale-in, fed the
 *    trace's job and agent events with a modelled delivery delay, its re-check answered from the
 *    simulation's truth at the moment of the call. A job running on a terminated instance is
 *    killed. Then the same trace on instances that run 2 and 4 agents each (Elastic CI Stack
 *    `AgentsPerInstance`): (a) with the group picking at random, (b) kitebridge's per-agent
 *    records, an instance terminated only when all its agents are idle and re-checked; and (b)
 *    again with a re-check that always answers idle, so only the fleet records guard the jobs.
 * 2. JobWaitTime error: the waits kitebridge publishes against the trace's true waits, with
 *    payload timestamps in Buildkite's whole-second webhook format, and without them (the wait
 *    then runs from job.scheduled's delivery to job.started's).
 * 3. Lost-agent time to replacement: agent.lost at seeded times, through the real fleet
 *    actions, against a poller that lists agents every 60 s.
 *
 * Modelled (assumptions, not measurements): webhook → Lambda delivery 0.5–2 s, instance boot to
 * agent connected 90 s, metrics and Auto Scaling calls instantaneous apart from that.
 */
import { parseAutoscalerConfig } from '../lib/config/autoscaler';
import type { AutoscalerQueueConfig } from '../lambda/autoscaler/config';
import { AutoscalerController } from '../lambda/autoscaler/controller';
import { decide, type QueueCounts } from '../lambda/autoscaler/decision';
import type { MetricsResult } from '../lambda/autoscaler/metrics-api';
import type { AgentChecker } from '../lambda/autoscaler/ports';
import type { AgentCheck, GroupInstance } from '../lambda/autoscaler/scale-in';
import { percentile } from '../lambda/autoscaler/waits';
import { MemoryAutoscalerStateStore, MemoryFleetStore } from '../local/adapters/memory-autoscaler-stores';
import {
  memoryFleetActions,
  MemoryGroups,
  oldestFirst,
  RecordingFleetMetrics,
  RecordingLog,
  type VictimPicker,
} from '../support/autoscaler-fakes';
import { prng } from '../support/prng';
import { SimulatedClock } from '../support/simulated-clock';

const T0 = Date.parse('2026-06-03T08:00:00Z');
const MIN = 60_000;
const BOOT_MS = 90_000;
const TICK_MS = 60_000;
const HORIZON_MS = 240 * MIN;
const GROUP = 'ci-linux';
const QUEUE = 'linux';

function seedArg(): number {
  const i = process.argv.indexOf('--seed');
  const value = i >= 0 ? Number(process.argv[i + 1]) : 11;
  if (!Number.isInteger(value)) throw new Error('--seed takes a whole number, e.g. --seed 11');
  return value;
}

interface TraceJob {
  readonly id: string;
  /** Epoch ms it became ready for an agent. */
  readonly readyAt: number;
  readonly durationMs: number;
}

/** 70 jobs of 20–60 min, arriving uniformly over the first 40 minutes. */
export function longJobTrace(seed: number): TraceJob[] {
  const random = prng(seed);
  return Array.from({ length: 70 }, (_, i) => ({
    id: `job-${String(i).padStart(3, '0')}`,
    readyAt: T0 + Math.floor(random() * 40 * MIN),
    durationMs: Math.floor((20 + random() * 40) * MIN),
  })).sort((a, b) => a.readyAt - b.readyAt);
}

const configFor = (agentsPerInstance: number) =>
  parseAutoscalerConfig({
    org: 'acme',
    queues: [
      {
        queue: QUEUE,
        asgName: GROUP,
        max: 30,
        agentsPerInstance,
        scaleInEnabled: true,
        scaleInCooldownSeconds: 300,
        scaleInIdleSeconds: 300,
      },
    ],
  });
const config = configFor(1);
const policy = config.queues[0] as AutoscalerQueueConfig;

type Timestamps = 'seconds' | 'absent';

/** Buildkite's webhook time format: whole seconds. */
const webhookTime = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');

interface Agent {
  readonly agentId: string;
  job?: { readonly id: string; readonly endsAt: number };
}

interface Instance {
  readonly id: string;
  /** `agentsPerInstance` agents, all connecting when the instance has booted. */
  readonly agents: Agent[];
  /** Epoch ms its agents connect. */
  readonly readyAt: number;
  gone?: boolean;
}

interface RunResult {
  readonly killed: number;
  /** Instances that left the group (terminated by scale-in), idle or not. */
  readonly terminated: number;
  readonly completed: number;
  readonly terminatedIdle: number;
  readonly savedByRecheck: number;
  readonly peak: number;
  readonly trueWaits: Map<string, number>;
  readonly measuredWaits: number[];
}

/**
 * One run of the trace. `mode` (a) applies decisions with SetDesiredCapacity and lets the group
 * pick; (b) runs kitebridge's controller and fleet actions.
 */
async function run(
  trace: readonly TraceJob[],
  mode: 'set-desired' | 'kitebridge',
  options: {
    seed: number;
    picker?: VictimPicker;
    timestamps?: Timestamps;
    agentsPerInstance?: number;
    /** The re-check answers idle whatever the agent does: only the fleet records guard the jobs. */
    recheckSaysIdle?: boolean;
  },
): Promise<RunResult> {
  const perInstance = options.agentsPerInstance ?? 1;
  const runConfig = configFor(perInstance);
  const runPolicy = runConfig.queues[0] as AutoscalerQueueConfig;
  const random = prng(options.seed * 7 + 1);
  const delivery = () => 500 + Math.floor(random() * 1500);
  const clock = new SimulatedClock(T0 - 30 * MIN);
  const groups = new MemoryGroups(options.picker ?? oldestFirst);
  const instances = new Map<string, Instance>();
  let serial = 0;
  const launch = (at: number): Instance => {
    serial++;
    const id = `i-${serial.toString(16).padStart(8, '0')}`;
    const agents = Array.from({ length: perInstance }, (_, k) => ({
      agentId: perInstance === 1 ? `agent-${serial}` : `agent-${serial}-${k}`,
    }));
    const instance = { id, agents, readyAt: at + BOOT_MS };
    instances.set(id, instance);
    return instance;
  };
  groups.add(GROUP, { max: 30, desired: 10, instances: [] });
  for (let i = 0; i < 10; i++) {
    const instance = launch(T0 - 30 * MIN - BOOT_MS);
    groups.launch(GROUP, instance.id);
  }

  // kitebridge's parts (used in mode b only).
  const metrics = new RecordingFleetMetrics();
  const fleet = new MemoryFleetStore();
  let savedByRecheck = 0;
  const checker: AgentChecker = {
    async check(agentId): Promise<AgentCheck> {
      const agent = [...instances.values()]
        .filter((i) => !i.gone)
        .flatMap((i) => i.agents)
        .find((a) => a.agentId === agentId);
      if (!agent) return { kind: 'doubt', reason: 'agent gone' };
      if (options.recheckSaysIdle) return { kind: 'idle' };
      if (agent.job) {
        savedByRecheck++;
        return { kind: 'busy', jobId: agent.job.id };
      }
      return { kind: 'idle' };
    },
  };
  const { actions } = memoryFleetActions(runConfig, clock, {
    fleet,
    groups,
    metrics,
    checker,
    log: new RecordingLog(),
  });
  const counts = (): QueueCounts => {
    const now = clock.now();
    const live = [...instances.values()].filter((i) => !i.gone);
    const running = live.flatMap((i) => i.agents).filter((a) => a.job).length;
    const connected = live.filter((i) => i.readyAt <= now).length * perInstance;
    return {
      scheduled: waiting.length,
      running,
      waiting: 0,
      idleAgents: connected - running,
      busyAgents: running,
      totalAgents: connected,
    };
  };
  const controller = new AutoscalerController({
    config: runConfig,
    store: new MemoryAutoscalerStateStore(),
    metrics: {
      fetchMetrics: async (): Promise<MetricsResult> => ({
        ok: true,
        metrics: { org: 'acme', queues: new Map([[QUEUE, counts()]]) },
      }),
    },
    groups,
    counts: { publish: () => undefined },
    fleet: actions,
    log: new RecordingLog(),
    clock,
  });

  // Deliveries to kitebridge, in order of arrival.
  const deliveries: { at: number; seq: number; detailType: string; detail: Record<string, unknown> }[] = [];
  let seq = 0;
  const emit = (detailType: string, detail: Record<string, unknown>, happenedAt: number) => {
    if (mode === 'kitebridge')
      deliveries.push({ at: happenedAt + delivery(), seq: seq++, detailType, detail });
  };
  const stamp = (name: string, ms: number) =>
    options.timestamps === 'absent' ? {} : { [name]: webhookTime(ms) };
  /** A job event of the queue: the job's id and rules, then `fields`. */
  const emitJob = (detailType: string, jobId: string, fields: Record<string, unknown>, happenedAt: number) =>
    emit(detailType, { job: { id: jobId, agent_query_rules: [`queue=${QUEUE}`], ...fields } }, happenedAt);
  const agentBody = (i: Instance, a: Agent) => ({
    id: a.agentId,
    meta_data: [`queue=${QUEUE}`, `aws:instance-id=${i.id}`],
  });
  for (const i of instances.values())
    for (const a of i.agents)
      emit(
        'agent.connected',
        { agent: { ...agentBody(i, a), ...stamp('connected_at', i.readyAt) } },
        i.readyAt,
      );

  const waiting: TraceJob[] = [];
  const trueWaits = new Map<string, number>();
  let next = 0;
  let killed = 0;
  let terminated = 0;
  let completed = 0;
  let terminatedIdle = 0;
  let peak = 10;
  const lastActions: { lastScaleOutAt?: number; lastScaleInAt?: number } = {};

  /** Booted instances no longer in the group were terminated: a job running there is killed. */
  const reap = (now: number) => {
    for (const i of instances.values()) {
      if (i.gone || i.readyAt > now || groups.instance(i.id)) continue;
      i.gone = true;
      terminated++;
      const running = i.agents.filter((a) => a.job);
      killed += running.length;
      for (const a of running) a.job = undefined;
      if (running.length === 0) terminatedIdle++;
    }
  };

  for (let now = T0 - 30 * MIN; now <= T0 + HORIZON_MS; now += 1000) {
    await clock.advanceTo(now);
    // Instances that finished booting join the group and their agent connects.
    for (const i of instances.values()) {
      if (!i.gone && i.readyAt === now && !groups.instance(i.id)) {
        groups.launch(GROUP, i.id);
        for (const a of i.agents)
          emit('agent.connected', { agent: { ...agentBody(i, a), ...stamp('connected_at', now) } }, now);
      }
    }
    // Jobs finish.
    for (const i of instances.values()) {
      if (i.gone) continue;
      for (const a of i.agents) {
        if (!a.job || a.job.endsAt > now) continue;
        const job = a.job;
        a.job = undefined;
        completed++;
        emitJob('job.finished', job.id, { ...stamp('finished_at', now), agent: agentBody(i, a) }, now);
      }
    }
    // Jobs become ready.
    while (next < trace.length && (trace[next] as TraceJob).readyAt <= now) {
      const job = trace[next++] as TraceJob;
      waiting.push(job);
      emitJob(
        'job.scheduled',
        job.id,
        { ...stamp('scheduled_at', job.readyAt), ...stamp('runnable_at', job.readyAt) },
        job.readyAt,
      );
    }
    // Idle agents take waiting jobs, first come first served.
    for (const i of instances.values()) {
      if (i.gone || i.readyAt > now || !groups.instance(i.id)) continue;
      for (const a of i.agents) {
        if (waiting.length === 0 || a.job) continue;
        const job = waiting.shift() as TraceJob;
        a.job = { id: job.id, endsAt: now + job.durationMs };
        trueWaits.set(job.id, (now - job.readyAt) / 1000);
        emitJob(
          'job.started',
          job.id,
          {
            ...stamp('scheduled_at', job.readyAt),
            ...stamp('runnable_at', job.readyAt),
            ...stamp('started_at', now),
            agent: agentBody(i, a),
          },
          now,
        );
      }
    }
    // kitebridge receives what was delivered by now.
    deliveries.sort((a, b) => a.at - b.at || a.seq - b.seq);
    while (deliveries.length > 0 && (deliveries[0] as { at: number }).at <= now) {
      const d = deliveries.shift() as (typeof deliveries)[number];
      await actions.track(d.detailType, d.detail, d.at);
    }
    // Every minute: a decision.
    if ((now - T0) % TICK_MS === 0 && now >= T0) {
      if (mode === 'kitebridge') {
        await controller.handle({ kind: 'reconcile' });
      } else {
        const group = groups.capacity(GROUP);
        const decision = decide({ policy: runPolicy, counts: counts(), group, now, ...lastActions });
        if (decision.action !== 'none') {
          await groups.setDesired(GROUP, decision.desired);
          lastActions[decision.action === 'scale-out' ? 'lastScaleOutAt' : 'lastScaleInAt'] = now;
        }
      }
      reap(now);
      // Launch what the group's desired capacity asks for beyond what is running or booting.
      const live = [...instances.values()].filter((i) => !i.gone).length;
      for (let k = live; k < groups.capacity(GROUP).desired; k++) launch(now);
      peak = Math.max(peak, [...instances.values()].filter((i) => !i.gone).length);
    }
  }
  return {
    killed,
    terminated,
    completed,
    terminatedIdle,
    savedByRecheck,
    peak,
    trueWaits,
    measuredWaits: metrics.waits.map((w) => w.seconds),
  };
}
/** Picks victims at random (seeded): Auto Scaling's default policy is not job-aware either. */
const randomPicker = (seed: number): VictimPicker => {
  const random = prng(seed);
  return (candidates, count) => {
    const pool = [...candidates];
    const out: GroupInstance[] = [];
    while (out.length < count && pool.length > 0)
      out.push(...pool.splice(Math.floor(random() * pool.length), 1));
    return out;
  };
};

/** Lost agents: kitebridge (event, real fleet actions) against a 60 s agent poll. */
async function lostAgents(seed: number): Promise<{ event: number[]; poll: number[]; healed: number }> {
  const random = prng(seed * 13 + 5);
  const count = 200;
  const event: number[] = [];
  const poll: number[] = [];
  const phase = Math.floor(random() * TICK_MS);
  const clock = new SimulatedClock(T0);
  // A group of 2,000, so the 10 % cap (200 a window) does not bind: this measures latency.
  const ids = Array.from({ length: count }, (_, n) => `i-${(n + 1).toString(16).padStart(8, '0')}`);
  const groups = new MemoryGroups().add(GROUP, {
    max: 3000,
    instances: [...ids, ...Array.from({ length: 1800 }, (_, n) => `i-f${n.toString(16).padStart(7, '0')}`)],
  });
  const { actions } = memoryFleetActions(config, clock, { groups });
  let healed = 0;
  for (let n = 0; n < count; n++) {
    const lostAt = T0 + Math.floor(random() * 24 * 60 * MIN);
    const delivered = lostAt + 500 + Math.floor(random() * 1500);
    await clock.advanceTo(Math.max(clock.now(), delivered));
    const result = await actions.track(
      'agent.lost',
      { agent: { id: `agent-${n}`, meta_data: [`queue=${QUEUE}`, `aws:instance-id=${ids[n]}`] } },
      delivered,
    );
    if (result.healed) {
      healed++;
      event.push((delivered - lostAt) / 1000);
    }
    const nextTick = lostAt + ((phase - ((lostAt - T0) % TICK_MS) + TICK_MS) % TICK_MS || TICK_MS);
    poll.push((nextTick - lostAt) / 1000);
  }
  return { event, poll, healed };
}

/** A Buildkite-side outage "loses" every agent of a 50-instance group at once. */
async function outage(): Promise<{ healedFirstWindow: number; healedHour: number }> {
  const clock = new SimulatedClock(T0);
  const ids = Array.from({ length: 50 }, (_, n) => `i-${(n + 1).toString(16).padStart(8, '0')}`);
  const groups = new MemoryGroups().add(GROUP, { max: 50, instances: ids });
  const { actions, fleet } = memoryFleetActions(config, clock, { groups });
  for (const [n, id] of ids.entries()) {
    await actions.track(
      'agent.lost',
      { agent: { id: `agent-${n}`, meta_data: [`queue=${QUEUE}`, `aws:instance-id=${id}`] } },
      T0,
    );
  }
  const healedFirstWindow = groups.calls.filter((c) => c.startsWith('unhealthy')).length;
  for (let t = T0 + TICK_MS; t <= T0 + 60 * MIN; t += TICK_MS) {
    await clock.advanceTo(t);
    await actions.healQueue(policy, await fleet.members(QUEUE), groups.capacity(GROUP), t);
  }
  return { healedFirstWindow, healedHour: groups.calls.filter((c) => c.startsWith('unhealthy')).length };
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined ? 'n/a' : v.toFixed(digits));

async function main(): Promise<void> {
  const seed = seedArg();
  const trace = longJobTrace(seed);
  const started = Date.now();
  const a1 = await run(trace, 'set-desired', { seed, picker: randomPicker(seed) });
  const a2 = await run(trace, 'set-desired', { seed, picker: oldestFirst });
  const b = await run(trace, 'kitebridge', { seed, timestamps: 'seconds' });
  const bAbsent = await run(trace, 'kitebridge', { seed, timestamps: 'absent' });

  console.log(
    `Trace (seed ${seed}): ${trace.length} jobs of ${fmt(Math.min(...trace.map((j) => j.durationMs)) / MIN, 0)}–${fmt(Math.max(...trace.map((j) => j.durationMs)) / MIN, 0)} min over the first 40 min; a group of 10 one-agent instances; decisions every 60 s; scale-in on, cooldown 300 s.\n`,
  );
  console.log('### 1. Jobs killed by scale-in\n');
  console.log(
    '| scale-in | jobs killed | jobs completed | idle instances terminated | re-check said busy | peak instances |',
  );
  console.log('|---|---|---|---|---|---|');
  console.log(
    `| (a) SetDesiredCapacity, group picks at random | ${a1.killed} | ${a1.completed} | ${a1.terminatedIdle} | n/a | ${a1.peak} |`,
  );
  console.log(
    `| (a) SetDesiredCapacity, group picks oldest first | ${a2.killed} | ${a2.completed} | ${a2.terminatedIdle} | n/a | ${a2.peak} |`,
  );
  console.log(
    `| (b) kitebridge | ${b.killed} | ${b.completed} | ${b.terminatedIdle} | ${b.savedByRecheck} | ${b.peak} |`,
  );
  console.log(`\nTarget (b) kills none: ${b.killed === 0 ? 'met' : 'NOT met'}.\n`);

  console.log('### 1b. Several agents per instance (the same trace)\n');
  console.log(
    '| agents per instance | scale-in | jobs killed | jobs completed | instances terminated | of them idle | re-check said busy | peak instances |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  let multiKilled = 0;
  for (const agentsPerInstance of [2, 4]) {
    const ma = await run(trace, 'set-desired', { seed, picker: randomPicker(seed), agentsPerInstance });
    const mb = await run(trace, 'kitebridge', { seed, timestamps: 'seconds', agentsPerInstance });
    const mc = await run(trace, 'kitebridge', {
      seed,
      timestamps: 'seconds',
      agentsPerInstance,
      recheckSaysIdle: true,
    });
    multiKilled += mb.killed;
    console.log(
      `| ${agentsPerInstance} | (a) SetDesiredCapacity, group picks at random | ${ma.killed} | ${ma.completed} | ${ma.terminated} | ${ma.terminatedIdle} | n/a | ${ma.peak} |`,
    );
    console.log(
      `| ${agentsPerInstance} | (b) kitebridge | ${mb.killed} | ${mb.completed} | ${mb.terminated} | ${mb.terminatedIdle} | ${mb.savedByRecheck} | ${mb.peak} |`,
    );
    console.log(
      `| ${agentsPerInstance} | (b) kitebridge, re-check always says idle | ${mc.killed} | ${mc.completed} | ${mc.terminated} | ${mc.terminatedIdle} | n/a | ${mc.peak} |`,
    );
  }
  console.log(
    `\nTarget (b) kills none with several agents per instance: ${multiKilled === 0 ? 'met' : 'NOT met'}.\n`,
  );

  console.log('### 2. JobWaitTime against the true waits\n');
  console.log(
    '| waits from | jobs | p50 true / published (s) | p95 true / published (s) | max true / published (s) | largest error of the three (s) |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [name, r] of [
    ['payload timestamps (whole seconds)', b],
    ['no payload timestamps (delivery times)', bAbsent],
  ] as const) {
    const t = [...r.trueWaits.values()];
    const m = r.measuredWaits;
    const pairs = [
      [percentile(t, 50), percentile(m, 50)],
      [percentile(t, 95), percentile(m, 95)],
      [Math.max(...t), Math.max(...m)],
    ] as const;
    const error = Math.max(...pairs.map(([x, y]) => Math.abs((x ?? 0) - (y ?? 0))));
    console.log(
      `| ${name} | ${m.length} of ${t.length} | ${pairs.map(([x, y]) => `${fmt(x)} / ${fmt(y)}`).join(' | ')} | ${fmt(error, 2)} |`,
    );
  }

  const lost = await lostAgents(seed);
  console.log('\n### 3. agent.lost → SetInstanceHealth (replacement starts)\n');
  console.log('| detection | instances healed | mean (s) | p95 (s) | max (s) |');
  console.log('|---|---|---|---|---|');
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  console.log(
    `| kitebridge (agent.lost event) | ${lost.healed} of 200 | ${fmt(mean(lost.event))} | ${fmt(percentile(lost.event, 95))} | ${fmt(Math.max(...lost.event))} |`,
  );
  console.log(
    `| 60 s agent poll | 200 of 200 | ${fmt(mean(lost.poll))} | ${fmt(percentile(lost.poll, 95))} | ${fmt(Math.max(...lost.poll))} |`,
  );
  const o = await outage();
  console.log(
    `\nRate cap: an outage "loses" all 50 agents of a group at once: ${o.healedFirstWindow} healed at once, ${o.healedHour} within the hour (cap: 10 % = 5 per 10 min).`,
  );
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s wall clock)`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
