import fc from 'fast-check';
import { contentionDelayMs } from '../../../lambda/shared/contention';
import {
  EMPTY_PACING_STATE,
  gcraParams,
  reserve,
  type PacingState,
} from '../../../lambda/trigger-relay/gcra';
import { FetchTriggerPoster } from '../../../lambda/trigger-relay/http-poster';
import { MemoryIdempotencyStore, MemoryPacingStore } from '../../../local/adapters/memory-relay-stores';
import { Pacer, PacingContentionError } from '../../../lambda/trigger-relay/pacer';
import type {
  DeferredAttributes,
  PacingStore,
  RelayMessage,
  RelayQueue,
} from '../../../lambda/trigger-relay/ports';
import { TriggerRelayApp } from '../../../lambda/trigger-relay/app';
import {
  message,
  RecordingLog,
  RecordingQueue,
  startFakeBuildkite,
  triggerEvent,
  type FakeBuildkite,
} from './support';
import { maxInAnyWindow } from '../../../support/time-window';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const HOUR = 3_600_000;

describe('GCRA with slots handed out at arrival', () => {
  const params = gcraParams(300, 10); // one request every 12 s, bursts of 10

  it.each([
    ['a fresh state gives a slot now', EMPTY_PACING_STATE, NOW, { slot: NOW, next: { tat: NOW + 12_000 } }],
    [
      'a request within the burst tolerance goes now and pushes TAT one interval on',
      { tat: NOW + 108_000 },
      NOW,
      { slot: NOW, next: { tat: NOW + 120_000 } },
    ],
    [
      'a request beyond the tolerance gets the slot TAT - tolerance, and TAT moves on past it',
      { tat: NOW + 120_000 },
      NOW,
      { slot: NOW + 12_000, next: { tat: NOW + 132_000 } },
    ],
    [
      'the next arrival gets the slot one interval after the previous one',
      { tat: NOW + 132_000 },
      NOW + 1_000,
      { slot: NOW + 24_000, next: { tat: NOW + 144_000 } },
    ],
    [
      'an old TAT does not bank credit beyond the burst',
      { tat: NOW - 10 * HOUR },
      NOW,
      { slot: NOW, next: { tat: NOW + 12_000 } },
    ],
  ] as [string, PacingState, number, ReturnType<typeof reserve>][])('%s', (_name, state, now, expected) => {
    expect(reserve(state, now, params)).toEqual(expected);
  });

  it.each([
    [0, 10, /ratePerHour must be a positive number/],
    [300, 0, /burst must be an integer of at least 1/],
    [300, 1.5, /burst must be an integer/],
  ])('rejects rate %p with burst %p', (rate, burst, message) => {
    expect(() => gcraParams(rate, burst)).toThrow(message);
  });

  it('hands out slots in arrival order, never before the arrival, at most rate + burst - 1 in any hour', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 3 * HOUR }), { minLength: 1, maxLength: 600 }),
        (rate, burst, arrivals) => {
          const p = gcraParams(rate, burst);
          let state = EMPTY_PACING_STATE;
          const slots: number[] = [];
          for (const at of [...arrivals].sort((a, b) => a - b)) {
            const r = reserve(state, NOW + at, p);
            if (r.slot < NOW + at) return false;
            if (slots.length > 0 && r.slot < slots[slots.length - 1]!) return false;
            state = r.next;
            slots.push(r.slot);
          }
          return maxInAnyWindow(slots, HOUR) <= rate + burst - 1;
        },
      ),
    );
  });
});

describe('Pacer', () => {
  it('retries its compare-and-set when another relay wrote first, and gets the next slot', async () => {
    const store = new MemoryPacingStore();
    let raced = false;
    const racing: PacingStore = {
      read: () => store.read(),
      write: async (next, version) => {
        if (!raced) {
          raced = true;
          await store.write({ tat: NOW + 12_000 }, version); // another relay takes the slot
        }
        return store.write(next, version);
      },
    };
    const pacer = new Pacer(racing, gcraParams(300, 1), () => NOW, {
      sleep: async () => {},
      random: () => 0,
    });
    expect(await pacer.acquire()).toBe(NOW + 12_000);
    expect(store.reads).toBe(2);
    expect(store.conflicts).toBe(1);
  });

  it('waits a jittered, growing, capped time between attempts', async () => {
    const waits: number[] = [];
    const draws = [0.5, 0.999, 0.25, 0.999, 0.999, 0.999];
    const pacer = new Pacer(
      { read: async () => ({ state: EMPTY_PACING_STATE, version: 1 }), write: async () => false },
      gcraParams(300, 1),
      () => NOW,
      {
        maxAttempts: 7,
        backoff: { baseMs: 100, capMs: 1_000 },
        sleep: async (ms) => void waits.push(ms),
        random: () => draws.shift()!,
      },
    );
    await expect(pacer.acquire()).rejects.toBeInstanceOf(PacingContentionError);
    // Full jitter: uniform below min(cap, base · 2^(n-1)); no wait before the first attempt.
    expect(waits).toEqual([50, 199, 100, 799, 999, 999]);
  });

  it.each([
    [0, 1, 0],
    [0.5, 1, 50],
    [0.999, 1, 99],
    [0.999, 5, 999],
    [0.5, 40, 500],
  ])('contentionDelayMs(random %p, retry %p) = %p with base 100, cap 1000', (random, retry, expected) => {
    expect(contentionDelayMs(retry, { baseMs: 100, capMs: 1_000 }, () => random)).toBe(expected);
  });

  it('goes through at once when nobody else writes: no wait', async () => {
    const sleep = jest.fn(async () => {});
    const pacer = new Pacer(new MemoryPacingStore(), gcraParams(300, 1), () => NOW, { sleep });
    expect(await pacer.acquire()).toBe(NOW);
    expect(sleep).not.toHaveBeenCalled();
  });
});

/**
 * A pacing store whose operations wait until the test releases them, so a test can interleave
 * two relays' reads and writes exactly.
 */
class SteppedPacingStore implements PacingStore {
  readonly inner = new MemoryPacingStore();
  private readonly waiting: { label: string; run: () => void }[] = [];

  read() {
    return this.hold('read', () => this.inner.read());
  }

  write(next: PacingState, version: number) {
    return this.hold('write', () => this.inner.write(next, version));
  }

  /** Runs the oldest waiting operation of the given kind and lets its caller continue. */
  async step(label: 'read' | 'write'): Promise<void> {
    for (let i = 0; i < 10 && !this.waiting.some((w) => w.label === label); i++) await flush();
    const index = this.waiting.findIndex((w) => w.label === label);
    if (index < 0) throw new Error(`nothing is waiting to ${label}`);
    this.waiting.splice(index, 1)[0]!.run();
    await flush();
  }

  private hold<T>(label: string, op: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ label, run: () => op().then(resolve, reject) });
    });
  }
}

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('the relay under contention (explicit interleavings)', () => {
  const RATE = gcraParams(300, 1); // one slot every 12 s

  function relayOn(pacing: PacingStore, queue: RelayQueue, clock: () => number, overrides = {}) {
    const idempotency = new MemoryIdempotencyStore();
    const posted: string[] = [];
    const relay = new TriggerRelayApp({
      pacer: new Pacer(pacing, RATE, clock, { sleep: async () => {}, random: () => 0.5, ...overrides }),
      idempotency,
      urls: { url: async () => 'https://webhook.buildkite.com/deliver/bktr_x' },
      bodies: { get: async () => Buffer.alloc(0) },
      poster: {
        post: async (_url, body) => {
          posted.push((JSON.parse(String(body)) as { key: string }).key);
          return { kind: 'response', status: 201, body: '{"id":"bk"}' };
        },
      },
      queue,
      log: new RecordingLog(),
      clock,
      random: () => 0.5,
    });
    return { relay, posted };
  }

  it('re-sends, never fails or dead-letters, a message whose pacing writes all collided', async () => {
    const deferred: { delaySeconds: number; next: unknown }[] = [];
    const deadLetters: string[] = [];
    const queue: RelayQueue = {
      defer: async (_m, delaySeconds, next) => void deferred.push({ delaySeconds, next }),
      deadLetter: async (_m, reason) => void deadLetters.push(reason),
    };
    const alwaysBeaten: PacingStore = {
      read: async () => ({ state: EMPTY_PACING_STATE, version: 3 }),
      write: async () => false,
    };
    const { relay, posted } = relayOn(alwaysBeaten, queue, () => NOW);

    const outcome = await relay.process(
      message(triggerEvent({ payload: { key: 'a' } }), { attempt: 4, messageId: 'm-9' }),
    );

    expect(outcome).toEqual({ status: 'contended', delaySeconds: 3 });
    // Re-sent (the received copy is acknowledged, so no receive is counted), attempts unchanged,
    // no slot: it asks the pacer again when it comes back.
    expect(deferred).toEqual([{ delaySeconds: 3, next: { attempt: 4 } }]);
    expect(deadLetters).toEqual([]);
    expect(posted).toEqual([]);
  });

  it('keeps a waiter its slot: a later arrival waits behind it even when the waiter is late', async () => {
    let clock = NOW;
    const store = new SteppedPacingStore();
    const queue = new RecordingQueue();
    const { relay, posted } = relayOn(store, queue, () => clock);

    // 0 s: A takes the free slot; B and C arrive at the same time and race for the next one.
    const a = relay.process(
      message(triggerEvent({ dedupeKey: 'a', payload: { key: 'a' } }), { messageId: 'a' }),
    );
    await store.step('read');
    await store.step('write');
    expect(await a).toMatchObject({ status: 'delivered' });

    const b = relay.process(
      message(triggerEvent({ dedupeKey: 'b', payload: { key: 'b' } }), { messageId: 'b' }),
    );
    const c = relay.process(
      message(triggerEvent({ dedupeKey: 'c', payload: { key: 'c' } }), { messageId: 'c' }),
    );
    await store.step('read'); // B reads TAT
    await store.step('read'); // C reads the same TAT
    await store.step('write'); // B writes first and gets 12 s
    await store.step('write'); // C's write is refused…
    await store.step('read'); // …so it reads again (after its backoff)
    await store.step('write'); // and gets 24 s
    expect(await b).toEqual({ status: 'paced', delaySeconds: 12, notBefore: NOW + 12_000 });
    expect(await c).toEqual({ status: 'paced', delaySeconds: 24, notBefore: NOW + 24_000 });
    expect(store.inner.conflicts).toBe(1);

    // 13.5 s: B's wake-up is late; D arrives first. Before, D took the free slot and B was
    // re-queued behind every other waiter. Now D gets the slot after C's.
    clock = NOW + 13_500;
    const d = relay.process(
      message(triggerEvent({ dedupeKey: 'd', payload: { key: 'd' } }), { messageId: 'd' }),
    );
    await store.step('read');
    await store.step('write');
    expect(await d).toEqual({ status: 'paced', delaySeconds: 23, notBefore: NOW + 36_000 });

    // B comes back: its slot has come, it goes without asking the pacer (no read is waiting).
    clock = NOW + 14_000;
    const readsBefore = store.inner.reads;
    expect(await relay.process(queuedCopy(queue, 'b'))).toMatchObject({ status: 'delivered' });
    clock = NOW + 24_000;
    expect(await relay.process(queuedCopy(queue, 'c'))).toMatchObject({ status: 'delivered' });
    clock = NOW + 36_000;
    expect(await relay.process(queuedCopy(queue, 'd'))).toMatchObject({ status: 'delivered' });
    expect(store.inner.reads).toBe(readsBefore);

    expect(posted).toEqual(['a', 'b', 'c', 'd']);
  });

  it('asks for a new slot after a retry backoff, instead of going when the backoff ends', async () => {
    const clock = NOW + 60_000;
    const store = new MemoryPacingStore();
    await store.write({ tat: NOW + 120_000 }, 0); // a backlog: the next slot is at 120 s
    const queue = new RecordingQueue();
    const { relay, posted } = relayOn(store, queue, () => clock);
    const backedOff = message(triggerEvent({ payload: { key: 'r' } }), {
      attempt: 2,
      notBefore: NOW + 30_000,
      backoff: true,
    });
    expect(await relay.process(backedOff)).toEqual({
      status: 'paced',
      delaySeconds: 60,
      notBefore: NOW + 120_000,
    });
    expect(queue.deferred).toEqual([
      { message: backedOff, delaySeconds: 60, attempt: 2, notBefore: NOW + 120_000 },
    ]);
    expect(posted).toEqual([]);
  });
});

/** The message the relay re-sent for `messageId`, as the queue would hand it back. */
function queuedCopy(queue: RecordingQueue, messageId: string): RelayMessage {
  const entry = queue.deferred.find((d) => d.message.messageId === messageId);
  if (!entry) throw new Error(`${messageId} was not re-sent`);
  return {
    messageId,
    body: entry.message.body,
    attempt: entry.attempt,
    ...(entry.notBefore === undefined ? {} : { notBefore: entry.notBefore }),
    ...(entry.backoff === undefined ? {} : { backoff: entry.backoff }),
  };
}

interface Pending {
  readonly visibleAt: number;
  readonly seq: number;
  readonly message: RelayMessage;
}

/** An SQS queue on a simulated clock: DelaySeconds hides a message until the clock reaches it. */
class SimulatedQueue implements RelayQueue {
  readonly pending: Pending[] = [];
  readonly deadLetters: { message: RelayMessage; reason: string }[] = [];
  /** DelaySeconds values SQS would refuse. */
  readonly invalidDelays: number[] = [];
  private seq = 0;
  constructor(private readonly clock: () => number) {}

  enqueue(body: string, at: number): void {
    this.push({ messageId: `m-${this.seq}`, body, attempt: 0 }, at);
  }

  async defer(message: RelayMessage, delaySeconds: number, next: DeferredAttributes) {
    if (!(delaySeconds >= 0 && delaySeconds <= 900)) this.invalidDelays.push(delaySeconds);
    const resent: RelayMessage = {
      messageId: `m-${this.seq}`,
      body: message.body,
      attempt: next.attempt,
      ...(next.notBefore === undefined ? {} : { notBefore: next.notBefore }),
      ...(next.backoff === undefined ? {} : { backoff: next.backoff }),
    };
    this.push(resent, this.clock() + delaySeconds * 1000);
  }

  async deadLetter(message: RelayMessage, reason: string) {
    this.deadLetters.push({ message, reason });
  }

  /** Up to `max` messages visible at the current time, oldest first; removes them. */
  receive(max: number): RelayMessage[] {
    const now = this.clock();
    let count = 0;
    while (count < max && count < this.pending.length && this.pending[count]!.visibleAt <= now) count++;
    return this.pending.splice(0, count).map((p) => p.message);
  }

  nextVisibleAt(): number | undefined {
    return this.pending[0]?.visibleAt;
  }

  /** Keeps `pending` ordered by visibility time, then by send order. */
  private push(message: RelayMessage, visibleAt: number) {
    const entry = { visibleAt, seq: this.seq++, message };
    let lo = 0;
    let hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.pending[mid]!.visibleAt <= visibleAt) lo = mid + 1;
      else hi = mid;
    }
    this.pending.splice(lo, 0, entry);
  }
}

interface SimulationResult {
  /** Simulated time of each POST Buildkite received. */
  readonly postedAt: number[];
  /** The dedupe key of each POST, in order. */
  readonly postedKeys: string[];
  /** The pacing slot each relayed message held. */
  readonly slots: number[];
  readonly receives: number;
  readonly pacingReads: number;
  readonly deadLetters: number;
  readonly invalidDelays: readonly number[];
}

/**
 * Runs the relay as Lambda would on a simulated clock: two concurrent workers (the event source
 * mapping's maximum concurrency), batches of five, each message taking 50 ms, every POST going
 * to the real local HTTP server.
 */
async function simulate(
  buildkite: FakeBuildkite,
  arrivals: readonly { at: number; dedupeKey: string }[],
  ratePerHour: number,
  burst: number,
): Promise<SimulationResult> {
  let clock = NOW;
  const now = () => clock;
  const queue = new SimulatedQueue(now);
  const pacing = new MemoryPacingStore();
  const idempotency = new MemoryIdempotencyStore();
  const workers = [0, 1].map(
    () =>
      new TriggerRelayApp({
        pacer: new Pacer(pacing, gcraParams(ratePerHour, burst), now),
        idempotency,
        urls: { url: async () => buildkite.triggerUrl },
        bodies: { get: async () => Buffer.alloc(0) },
        poster: new FetchTriggerPoster({ timeoutMs: 5000 }),
        queue,
        log: new RecordingLog(),
        clock: now,
      }),
  );
  const postedAt: number[] = [];
  const postedKeys: string[] = [];
  buildkite.answer = (request, i) => {
    postedAt.push(clock);
    postedKeys.push((JSON.parse(request.body) as { key: string }).key);
    return { status: 201, body: { id: `bk-${i}` } };
  };
  const future = [...arrivals].sort((a, b) => a.at - b.at);
  let receives = 0;
  const slots: number[] = [];
  for (;;) {
    while (future.length > 0 && future[0]!.at <= clock) {
      const next = future.shift()!;
      queue.enqueue(triggerEvent({ dedupeKey: next.dedupeKey, payload: { key: next.dedupeKey } }), clock);
    }
    const batches = [queue.receive(5), queue.receive(5)];
    if (batches[0]!.length === 0) {
      const wake = Math.min(queue.nextVisibleAt() ?? Infinity, future[0]?.at ?? Infinity);
      if (wake === Infinity) break;
      clock = Math.max(clock, wake);
      continue;
    }
    receives += batches.flat().length;
    await Promise.all(
      batches.map(async (batch, w) => {
        for (const m of batch) {
          const outcome = await workers[w]!.process(m);
          if (outcome.status === 'delivered')
            slots.push(m.notBefore !== undefined && !m.backoff ? m.notBefore : clock);
        }
      }),
    );
    clock += 50 * Math.max(...batches.map((b) => b.length));
  }
  return {
    postedAt,
    postedKeys,
    slots,
    receives,
    pacingReads: pacing.reads,
    deadLetters: queue.deadLetters.length,
    invalidDelays: queue.invalidDelays,
  };
}

describe('pacing 1,000 queued requests at 300 an hour (simulated clock, real HTTP server)', () => {
  let buildkite: FakeBuildkite;
  beforeAll(async () => {
    buildkite = await startFakeBuildkite();
  });
  afterAll(() => buildkite.close());

  const backlog = Array.from({ length: 1000 }, (_, i) => ({ at: NOW, dedupeKey: `github:delivery-${i}` }));

  // Slots are handed out at arrival, so a late wake-up does not push the schedule back: the
  // backlog drains at the full rate, burst or not.
  it.each([
    [1, 300, 1.01],
    [10, 309, 1.01],
  ])(
    'with burst %p: at most %p in any hour, each request exactly once, near the full rate, no herd',
    async (burst, perHour, slack) => {
      const result = await simulate(buildkite, backlog, 300, burst);

      // None lost, none doubled.
      expect(result.deadLetters).toBe(0);
      expect(result.invalidDelays).toEqual([]);
      expect(result.postedKeys).toHaveLength(1000);
      expect(new Set(result.postedKeys).size).toBe(1000);
      // The slots never exceed the limit, and nobody goes before its slot…
      expect(maxInAnyWindow(result.slots, HOUR)).toBeLessThanOrEqual(perHour);
      expect(result.postedAt.every((at, i) => at >= result.slots[i]!)).toBe(true);
      // …but a wake-up that lands late (here: behind the initial 1,000 in the queue, up to
      // 25 s) posts closer to the next one, so on Buildkite's clock an hour may hold a few more.
      expect(maxInAnyWindow(result.postedAt, HOUR)).toBeLessThanOrEqual(perHour + 2);
      const first = result.postedAt[0]!;
      const last = result.postedAt[result.postedAt.length - 1]!;
      expect(last - first).toBeGreaterThanOrEqual((1000 - burst) * 12_000);
      // …and not much slower: slots are not wasted.
      expect(last - first).toBeLessThanOrEqual((1000 - burst) * 12_000 * slack);
      // Waiting messages sleep in the queue (≤ 900 s per hop) and ask the pacer about once each.
      expect(result.pacingReads / 1000).toBeLessThan(2.5);
      const longestWaitHops = Math.ceil(((1000 - burst) * 12_000) / 900_000);
      expect(result.receives).toBeLessThan(1000 * (longestWaitHops / 2 + 3));
    },
  );

  it('sends each delivery once when every request was queued twice', async () => {
    const twice = [...backlog, ...backlog].slice(0, 1200);
    const result = await simulate(buildkite, twice, 300, 10);
    expect(result.postedKeys).toHaveLength(1000);
    expect(new Set(result.postedKeys).size).toBe(1000);
    expect(maxInAnyWindow(result.slots, HOUR)).toBeLessThanOrEqual(309);
  });

  it('keeps the limit when requests keep arriving while a backlog drains', async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const arrivals = Array.from({ length: 1000 }, (_, i) => ({
      at: NOW + Math.floor(random() * 2 * HOUR),
      dedupeKey: `linear:${i}`,
    }));
    const result = await simulate(buildkite, arrivals, 300, 10);
    expect(new Set(result.postedKeys).size).toBe(1000);
    expect(result.postedKeys).toHaveLength(1000);
    expect(maxInAnyWindow(result.slots, HOUR)).toBeLessThanOrEqual(309);
    expect(maxInAnyWindow(result.postedAt, HOUR)).toBeLessThanOrEqual(309 + 2);
  });
});
