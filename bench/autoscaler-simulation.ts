/**
 * Autoscaler simulation: a burst of 500 job.scheduled events over 60 s for two queues, replayed
 * on a simulated clock through the real controller (collapse gate, decision function, memory
 * state store with the DynamoDB store's claim semantics), against a buildkite-agent-scaler style
 * 10 s poll loop replayed on the same trace with the same decision function.
 *
 * Run: npx tsx bench/autoscaler-simulation.ts
 *
 * Modelled latencies (assumptions, not measurements): webhook → verify → EventBridge → Lambda
 * delivery DELIVERY_MS; each metrics API call API_MS. Lambda cold starts, DynamoDB and Auto
 * Scaling latencies are not modelled (they add the same to both sides, except cold starts).
 */
import { parseAutoscalerConfig } from '../lib/config/autoscaler';
import { AutoscalerController } from '../lambda/autoscaler/controller';
import { decide, type GroupCapacity, type QueueCounts } from '../lambda/autoscaler/decision';
import type { MetricsResult, MetricsSource } from '../lambda/autoscaler/metrics-api';
import type { GroupScaler } from '../lambda/autoscaler/ports';
import { MemoryAutoscalerStateStore } from '../local/adapters/memory-autoscaler-stores';
import { memoryFleetActions, MemoryGroups } from '../support/autoscaler-fakes';
import { prng } from '../support/prng';
import { SimulatedClock } from '../support/simulated-clock';

const DELIVERY_MS = 500;
const API_MS = 150;
const POLL_INTERVAL_MS = 10_000;
/** The trace starts this long after the poll loop's (and the minute schedule's) tick. */
const TRACE_OFFSET_MS = 4_300;
const BURST_MS = 60_000;
const EVENTS = 500;
const QUEUES = ['linux', 'arm64'] as const;

interface TraceEvent {
  readonly at: number;
  readonly queue: string;
}

/**
 * The trace: 500 job.scheduled events in 60 s, front-loaded like a pipeline upload fanning out
 * (arrival times squared-uniform), 60 % on `linux`, 40 % on `arm64`.
 */
export function burstTrace(seed = 5): TraceEvent[] {
  const random = prng(seed);
  const events: TraceEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const u = random();
    events.push({
      at: TRACE_OFFSET_MS + Math.floor(u * u * BURST_MS),
      queue: random() < 0.6 ? 'linux' : 'arm64',
    });
  }
  return events.sort((a, b) => a.at - b.at);
}

/** Buildkite's view at time t: every job scheduled so far is still waiting for an agent. */
function countsAt(trace: readonly TraceEvent[], queue: string, t: number): QueueCounts {
  const scheduled = trace.filter((e) => e.queue === queue && e.at <= t).length;
  return { scheduled, running: 0, waiting: 0, idleAgents: 0, busyAgents: 0, totalAgents: 0 };
}

const config = parseAutoscalerConfig({
  org: 'acme',
  queues: QUEUES.map((queue) => ({ queue, asgName: `ci-${queue}`, agentsPerInstance: 4, max: 50 })),
});

interface Result {
  readonly firstDecisionAt?: number;
  readonly callsInBurst: number;
  readonly callsInHour: number;
}

async function eventDriven(trace: readonly TraceEvent[], horizonMs: number): Promise<Result> {
  const clock = new SimulatedClock(0);
  let calls = 0;
  let callsInBurst = 0;
  const burstEnd = TRACE_OFFSET_MS + BURST_MS + POLL_INTERVAL_MS;
  const metrics: MetricsSource = {
    async fetchMetrics(): Promise<MetricsResult> {
      calls++;
      if (clock.now() <= burstEnd) callsInBurst++;
      await clock.sleep(API_MS);
      const queues = new Map(QUEUES.map((q) => [q, countsAt(trace, q, clock.now())] as const));
      return { ok: true, metrics: { org: 'acme', queues } };
    },
  };
  const capacity = new Map<string, GroupCapacity>(
    QUEUES.map((q) => [`ci-${q}`, { desired: 0, min: 0, max: 50 }]),
  );
  let firstDecisionAt: number | undefined;
  const unused = new MemoryGroups();
  const groups: GroupScaler = {
    describe: async (names) => new Map([...capacity].filter(([n]) => names.includes(n))),
    setDesired: async (name, desired) => {
      const g = capacity.get(name)!;
      if (desired > g.desired && firstDecisionAt === undefined) firstDecisionAt = clock.now();
      capacity.set(name, { ...g, desired });
    },
    terminateInstance: (id) => unused.terminateInstance(id),
    setScaleInProtection: (group, id, protect) => unused.setScaleInProtection(group, id, protect),
    markUnhealthy: (id) => unused.markUnhealthy(id),
  };
  const controller = new AutoscalerController({
    config,
    store: new MemoryAutoscalerStateStore(),
    metrics,
    groups,
    counts: { publish: () => undefined },
    fleet: memoryFleetActions(config, clock, { groups }).actions,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    clock,
  });
  const tasks: { at: number; run: () => Promise<unknown> }[] = [
    ...trace.map((e, i) => ({
      at: e.at + DELIVERY_MS,
      run: () =>
        controller.handle({ kind: 'event', queue: e.queue, detailType: 'job.scheduled', eventId: `e${i}` }),
    })),
  ];
  for (let t = 0; t < horizonMs; t += 60_000)
    tasks.push({ at: t, run: () => controller.handle({ kind: 'reconcile' }) });
  tasks.sort((a, b) => a.at - b.at);
  const running: Promise<unknown>[] = [];
  for (const task of tasks) {
    await clock.advanceTo(task.at);
    running.push(task.run());
  }
  await clock.advanceTo(horizonMs + 120_000);
  await Promise.all(running);
  return { firstDecisionAt, callsInBurst, callsInHour: calls };
}

/** buildkite-agent-scaler: one scaler per group, each polling its queue every 10 s. */
function pollLoop(trace: readonly TraceEvent[], horizonMs: number, callsPerTick: number): Result {
  const desired = new Map<string, number>(QUEUES.map((q) => [q, 0]));
  let firstDecisionAt: number | undefined;
  let calls = 0;
  let callsInBurst = 0;
  const burstEnd = TRACE_OFFSET_MS + BURST_MS + POLL_INTERVAL_MS;
  for (let tick = 0; tick < horizonMs; tick += POLL_INTERVAL_MS) {
    calls += callsPerTick;
    if (tick <= burstEnd) callsInBurst += callsPerTick;
    const at = tick + API_MS;
    for (const [i, queue] of QUEUES.entries()) {
      const policy = config.queues[i]!;
      const current = desired.get(queue)!;
      const d = decide({
        policy,
        counts: countsAt(trace, queue, at),
        group: { desired: current, min: 0, max: 50 },
        now: at,
      });
      if (d.action === 'scale-out' && firstDecisionAt === undefined) firstDecisionAt = at;
      desired.set(queue, d.desired);
    }
  }
  return { firstDecisionAt, callsInBurst, callsInHour: calls };
}

async function main(): Promise<void> {
  const trace = burstTrace();
  const first = trace[0]!.at;
  const hour = 3_600_000;
  const events = await eventDriven(trace, hour);
  const perQueue = pollLoop(trace, hour, QUEUES.length);
  const orgWide = pollLoop(trace, hour, 1);
  const since = (t?: number) => (t === undefined ? 'none' : `${((t - first) / 1000).toFixed(2)} s`);
  const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
  const perQueueCount = QUEUES.map((q) => `${q} ${trace.filter((e) => e.queue === q).length}`).join(', ');

  console.log(
    `Trace: ${trace.length} job.scheduled events (${perQueueCount}) from t=${(first / 1000).toFixed(1)} s to t=${(trace.at(-1)!.at / 1000).toFixed(1)} s (seed 5).`,
  );
  console.log(
    `Modelled: delivery ${DELIVERY_MS} ms, metrics API ${API_MS} ms; interval 10 s; poll loop ticks at t=0, 10, 20 … s.\n`,
  );
  console.log(
    '| | first event → first scale-out decision | metrics API calls, burst window (to 10 s after the last event) | metrics API calls, one hour |',
  );
  console.log('|---|---|---|---|');
  console.log(
    `| event-driven (kitebridge) | ${since(events.firstDecisionAt)} | ${events.callsInBurst} | ${events.callsInHour} |`,
  );
  console.log(
    `| 10 s poll loop, one call per queue (buildkite-agent-scaler, one scaler per group) | ${since(perQueue.firstDecisionAt)} | ${perQueue.callsInBurst} | ${perQueue.callsInHour} |`,
  );
  console.log(
    `| 10 s poll loop, one org-wide call per tick | ${since(orgWide.firstDecisionAt)} | ${orgWide.callsInBurst} | ${orgWide.callsInHour} |`,
  );
  console.log(
    `\nRatios (event-driven / per-queue poll loop): latency ${ratio(events.firstDecisionAt! - first, perQueue.firstDecisionAt! - first)}, ` +
      `burst-window calls ${ratio(events.callsInBurst, perQueue.callsInBurst)}, hourly calls ${ratio(events.callsInHour, perQueue.callsInHour)}.`,
  );
  const ok =
    events.firstDecisionAt !== undefined &&
    events.firstDecisionAt - first < 1000 &&
    events.callsInHour < perQueue.callsInHour;
  console.log(
    `Targets (first decision < 1 s simulated; fewer calls than polling over the hour): ${ok ? 'met' : 'NOT met'}.`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
