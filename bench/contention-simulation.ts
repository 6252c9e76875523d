/**
 * Contention simulation: 10, 50 and 200 relay workers share the one pacing item, each running
 * the real relay (pacer, GCRA slots, idempotency, re-sends) against an in-memory store with
 * DynamoDB's conditional-write semantics. Every store call takes a seeded random 2–12 ms and is
 * evaluated when it completes, so reads and writes of different workers interleave
 * deterministically for a seed. 1,000 requests arrive in bursts as large as the worker pool
 * (one burst every 10 s), so every burst is that many concurrent pacing updates.
 *
 * Run: npx tsx bench/contention-simulation.ts [--seed 7] [--requests 1000] [--rate 300] [--burst 1]
 *
 * Modelled (assumptions, not measurements): a simulated SQS queue (DelaySeconds in whole
 * seconds, a message whose processing throws is received again after VISIBILITY_MS and
 * dead-lettered on its MAX_RECEIVES-th receive), POSTs that take 100–300 ms and always answer
 * 201. Each configuration is also run with the pacer's jittered backoff switched off, for
 * comparison; the old fixed 8 attempts without backoff that threw past its budget is not
 * modelled (the relay now re-sends instead of throwing either way).
 */
import { gcraParams } from '../lambda/trigger-relay/gcra';
import { MemoryIdempotencyStore, MemoryPacingStore } from '../local/adapters/memory-relay-stores';
import { Pacer, type PacerOptions } from '../lambda/trigger-relay/pacer';
import type {
  DeferredAttributes,
  PacingStore,
  RelayLog,
  RelayMessage,
  RelayQueue,
} from '../lambda/trigger-relay/ports';
import { TriggerRelayApp } from '../lambda/trigger-relay/app';
import { fmt, numberFlag } from './support';
import { prng } from '../support/prng';
import { maxInAnyWindow } from '../support/time-window';

const T0 = Date.parse('2026-11-23T12:00:00.000Z');
const HOUR = 3_600_000;
const BURST_EVERY_MS = 10_000;
const VISIBILITY_MS = 540_000;
const MAX_RECEIVES = 5;

/** A discrete-event clock: callbacks run in time order (ties in scheduling order). */
class Simulation {
  now = T0;
  private seq = 0;
  private readonly events: { at: number; seq: number; fire: () => void }[] = [];

  at(time: number, fire: () => void): void {
    const entry = { at: Math.max(time, this.now), seq: this.seq++, fire };
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.events[mid]!;
      if (e.at < entry.at || (e.at === entry.at && e.seq < entry.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.events.splice(lo, 0, entry);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(this.now + ms, resolve));
  }

  /** Runs events until none are left, letting every promise chain settle after each one. */
  async run(): Promise<void> {
    for (let event = this.events.shift(); event; event = this.events.shift()) {
      this.now = event.at;
      event.fire();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** The pacing item with DynamoDB's semantics: each call completes after a latency, evaluated then. */
class InterleavedPacingStore implements PacingStore {
  readonly inner = new MemoryPacingStore();
  constructor(
    private readonly sim: Simulation,
    private readonly latency: () => number,
  ) {}

  read() {
    return new Promise<Awaited<ReturnType<PacingStore['read']>>>((resolve) =>
      this.sim.at(this.sim.now + this.latency(), () => resolve(this.inner.read())),
    );
  }

  write(next: Parameters<PacingStore['write']>[0], version: number) {
    return new Promise<boolean>((resolve) =>
      this.sim.at(this.sim.now + this.latency(), () => resolve(this.inner.write(next, version))),
    );
  }
}

interface Envelope {
  readonly message: RelayMessage;
  readonly request: number;
  receives: number;
}

/** SQS as the relay sees it: delayed sends, receives, and redelivery of what failed. */
class SimulatedQueue implements RelayQueue {
  private readonly ready: Envelope[] = [];
  private readonly waiting: ((e: Envelope) => void)[] = [];
  private seq = 0;
  /** Which request each message id belongs to. */
  readonly requestOf = new Map<string, number>();
  deadLetters = 0;
  redeliveries = 0;

  constructor(private readonly sim: Simulation) {}

  send(message: RelayMessage, request: number, delayMs: number, receives = 0): void {
    this.requestOf.set(message.messageId, request);
    const envelope = { message, request, receives };
    this.sim.at(this.sim.now + delayMs, () => {
      const worker = this.waiting.shift();
      if (worker) worker(envelope);
      else this.ready.push(envelope);
    });
  }

  receive(): Promise<Envelope> {
    const next = this.ready.shift();
    return next ? Promise.resolve(next) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A receive that ended in an error: visible again after the timeout, or dead-lettered. */
  failed(envelope: Envelope): void {
    if (envelope.receives >= MAX_RECEIVES) {
      this.deadLetters++;
      return;
    }
    this.redeliveries++;
    this.send(envelope.message, envelope.request, VISIBILITY_MS, envelope.receives);
  }

  async defer(message: RelayMessage, delaySeconds: number, next: DeferredAttributes): Promise<void> {
    const request = this.requestOf.get(message.messageId)!;
    const resent: RelayMessage = {
      messageId: `m-${this.seq++}`,
      body: message.body,
      attempt: next.attempt,
      ...(next.notBefore === undefined ? {} : { notBefore: next.notBefore }),
      ...(next.backoff === undefined ? {} : { backoff: next.backoff }),
    };
    this.send(resent, request, delaySeconds * 1000);
  }

  async deadLetter(): Promise<void> {
    this.deadLetters++;
  }
}

const quiet: RelayLog = { info: () => {}, warn: () => {}, error: () => {} };

interface Result {
  readonly casAttempts: number;
  readonly collisions: number;
  readonly contended: number;
  readonly redeliveries: number;
  readonly overtaken: number;
  readonly deadLetters: number;
  readonly relayed: number;
  readonly duplicates: number;
  readonly ratePerHour: number;
  readonly maxSlotsPerHour: number;
  readonly maxPostsPerHour: number;
  readonly maxLateSeconds: number;
  readonly lastPostHours: number;
}

async function simulate(
  workers: number,
  options: { seed: number; requests: number; rate: number; burst: number; backoff: boolean },
): Promise<Result> {
  const sim = new Simulation();
  const random = prng(options.seed * 1_000 + workers);
  const pacing = new InterleavedPacingStore(sim, () => 2 + Math.floor(random() * 10));
  const idempotency = new MemoryIdempotencyStore();
  const queue = new SimulatedQueue(sim);
  const clock = () => sim.now;
  const pacerOptions: PacerOptions = {
    sleep: (ms) => sim.sleep(ms),
    random,
    ...(options.backoff ? {} : { backoff: { baseMs: 0, capMs: 0 } }),
  };
  const posted: { request: number; at: number; slot: number }[] = [];
  /** The slot each request's message in hand holds (one message per request at a time). */
  const slotOf = new Map<number, number>();
  let owner = 0;
  const relay = new TriggerRelayApp({
    pacer: new Pacer(pacing, gcraParams(options.rate, options.burst), clock, pacerOptions),
    idempotency,
    urls: { url: async () => 'https://webhook.buildkite.com/deliver/bktr_simulated' },
    bodies: { get: async () => Buffer.alloc(0) },
    poster: {
      post: async (_url, body) => {
        const request = (JSON.parse(String(body)) as { request: number }).request;
        posted.push({ request, at: sim.now, slot: slotOf.get(request)! });
        await sim.sleep(100 + Math.floor(random() * 200));
        return { kind: 'response', status: 201, body: `{"id":"bk-${request}"}` };
      },
    },
    queue,
    log: quiet,
    clock,
    random,
    newOwner: () => `owner-${owner++}`,
  });

  let contended = 0;
  let duplicates = 0;
  const worker = async () => {
    for (;;) {
      const envelope = await queue.receive();
      envelope.receives++;
      const m = envelope.message;
      // The slot a message holds, or (asked for now) the time it asked: what its post is measured against.
      slotOf.set(envelope.request, m.notBefore !== undefined && !m.backoff ? m.notBefore : sim.now);
      try {
        const outcome = await relay.process(m);
        if (outcome.status === 'contended') contended++;
        if (outcome.status === 'duplicate') duplicates++;
      } catch {
        queue.failed(envelope);
      }
    }
  };
  for (let w = 0; w < workers; w++) void worker();

  const arrival: number[] = [];
  for (let i = 0; i < options.requests; i++) {
    const at = T0 + Math.floor(i / workers) * BURST_EVERY_MS;
    arrival.push(at);
    const body = JSON.stringify({
      version: '0',
      id: `event-${i}`,
      'detail-type': 'trigger.github-deploy',
      source: 'kitebridge.trigger',
      account: '123456789012',
      time: new Date(at).toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: {
        trigger: 'github-deploy',
        headers: {},
        delivery: {
          receivedAt: new Date(at).toISOString(),
          requestId: `req-${i}`,
          dedupeKey: `github:delivery-${i}`,
          auth: 'github',
          sourceIp: '192.0.2.10',
        },
        payload: { request: i },
      },
    });
    queue.send({ messageId: `arrival-${i}`, body, attempt: 0 }, i, at - T0);
  }
  await sim.run();

  // A request is overtaken when one that arrived strictly later was posted before it.
  const byPost = [...posted].sort((a, b) => a.at - b.at);
  let latestArrival = -Infinity;
  let overtaken = 0;
  for (const p of byPost) {
    if (latestArrival > arrival[p.request]!) overtaken++;
    latestArrival = Math.max(latestArrival, arrival[p.request]!);
  }
  const lateness = posted.map((p) => p.at - p.slot);
  return {
    casAttempts: pacing.inner.writes,
    collisions: pacing.inner.conflicts,
    contended,
    redeliveries: queue.redeliveries,
    overtaken,
    deadLetters: queue.deadLetters,
    relayed: new Set(posted.map((p) => p.request)).size,
    duplicates: posted.length - new Set(posted.map((p) => p.request)).size + duplicates,
    ratePerHour: options.rate,
    maxSlotsPerHour: maxInAnyWindow(
      posted.map((p) => p.slot),
      HOUR,
    ),
    maxPostsPerHour: maxInAnyWindow(
      posted.map((p) => p.at),
      HOUR,
    ),
    maxLateSeconds: Math.max(...lateness) / 1000,
    lastPostHours: (Math.max(...posted.map((p) => p.at)) - T0) / HOUR,
  };
}

async function main(): Promise<void> {
  const seed = numberFlag('seed', 7);
  const requests = numberFlag('requests', 1000);
  const rate = numberFlag('rate', 300);
  const burst = numberFlag('burst', 1);
  console.log(
    `Contention simulation: ${requests} requests in bursts the size of the worker pool every ${BURST_EVERY_MS / 1000} s, ` +
      `${rate}/h with a burst of ${burst}, seed ${seed}`,
  );
  console.log('');
  console.log(
    '| workers | pacer backoff | CAS writes | collisions | contention re-sends | SQS redeliveries | overtaken | dead letters | relayed once | max slots in an hour | max posts in an hour | max lateness (s) | last post (h) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const workers of [10, 50, 200]) {
    for (const backoff of [true, false]) {
      const r = await simulate(workers, { seed, requests, rate, burst, backoff });
      console.log(
        `| ${workers} | ${backoff ? 'jittered' : 'none'} | ${r.casAttempts} | ${r.collisions} | ${r.contended} | ${r.redeliveries} | ${r.overtaken} | ${r.deadLetters} | ${r.relayed}${r.duplicates > 0 ? ` (+${r.duplicates} doubled)` : ''} | ${r.maxSlotsPerHour} | ${r.maxPostsPerHour} | ${fmt(r.maxLateSeconds, 1)} | ${fmt(r.lastPostHours, 2)} |`,
      );
    }
  }
}

void main();
