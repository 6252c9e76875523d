import fc from 'fast-check';
import { decide, EMPTY_PACING_STATE, gcraParams, type PacingState } from '../../../lambda/trigger-relay/gcra';
import { FetchTriggerPoster } from '../../../lambda/trigger-relay/http';
import { MemoryIdempotencyStore, MemoryPacingStore } from '../../../lambda/trigger-relay/memory-stores';
import { Pacer, PacingContentionError } from '../../../lambda/trigger-relay/pacer';
import type { PacingStore, RelayMessage, RelayQueue } from '../../../lambda/trigger-relay/ports';
import { Relay } from '../../../lambda/trigger-relay/relay';
import { RecordingLog, startFakeBuildkite, triggerEvent, type FakeBuildkite } from './support';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const HOUR = 3_600_000;

describe('GCRA', () => {
  const params = gcraParams(300, 10); // one request every 12 s, bursts of 10

  it.each([
    [
      'a fresh state lets a request go',
      EMPTY_PACING_STATE,
      NOW,
      { allowed: true, next: { tat: NOW + 12_000, tail: 0 } },
    ],
    [
      'a request within the burst tolerance goes and pushes TAT one interval on',
      { tat: NOW + 108_000, tail: 0 },
      NOW,
      { allowed: true, next: { tat: NOW + 120_000, tail: 0 } },
    ],
    [
      'a request beyond the tolerance waits until TAT - tolerance',
      { tat: NOW + 120_000, tail: 0 },
      NOW,
      { allowed: false, wakeAt: NOW + 12_000, next: { tat: NOW + 120_000, tail: NOW + 24_000 } },
    ],
    [
      'the next waiter wakes one interval after the previous one',
      { tat: NOW + 120_000, tail: NOW + 24_000 },
      NOW,
      { allowed: false, wakeAt: NOW + 24_000, next: { tat: NOW + 120_000, tail: NOW + 36_000 } },
    ],
    [
      'an old TAT does not bank credit beyond the burst',
      { tat: NOW - 10 * HOUR, tail: 0 },
      NOW,
      { allowed: true, next: { tat: NOW + 12_000, tail: 0 } },
    ],
  ] as [string, PacingState, number, ReturnType<typeof decide>][])('%s', (_name, state, now, expected) => {
    expect(decide(state, now, params)).toEqual(expected);
  });

  it.each([
    [0, 10, /ratePerHour must be a positive number/],
    [300, 0, /burst must be an integer of at least 1/],
    [300, 1.5, /burst must be an integer/],
  ])('rejects rate %p with burst %p', (rate, burst, message) => {
    expect(() => gcraParams(rate, burst)).toThrow(message);
  });

  it('never lets more than rate + burst - 1 requests through in any hour, whatever the arrivals', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 3 * HOUR }), { minLength: 1, maxLength: 600 }),
        (rate, burst, arrivals) => {
          const p = gcraParams(rate, burst);
          let state = EMPTY_PACING_STATE;
          const sent: number[] = [];
          for (const at of [...arrivals].sort((a, b) => a - b)) {
            const d = decide(state, NOW + at, p);
            state = d.next;
            if (d.allowed) sent.push(NOW + at);
          }
          return maxInAnyWindow(sent, HOUR) <= rate + burst - 1;
        },
      ),
    );
  });
});

describe('Pacer', () => {
  it('retries its compare-and-set when another relay wrote first', async () => {
    const store = new MemoryPacingStore();
    let raced = false;
    const racing: PacingStore = {
      read: () => store.read(),
      write: async (next, version) => {
        if (!raced) {
          raced = true;
          await store.write({ tat: NOW + 12_000, tail: 0 }, version); // another relay takes the slot
        }
        return store.write(next, version);
      },
    };
    const pacer = new Pacer(racing, gcraParams(300, 1), () => NOW);
    expect(await pacer.acquire()).toEqual({ allowed: false, wakeAt: NOW + 12_000 });
    expect(store.reads).toBe(2);
  });

  it('gives up after repeated races, so the message is retried by SQS', async () => {
    const pacer = new Pacer(
      { read: async () => ({ state: EMPTY_PACING_STATE, version: 1 }), write: async () => false },
      gcraParams(300, 1),
      () => NOW,
      3,
    );
    await expect(pacer.acquire()).rejects.toBeInstanceOf(PacingContentionError);
  });
});

/** The most timestamps that fall in any half-open window of `width` ms. */
function maxInAnyWindow(times: readonly number[], width: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= width) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
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

  async defer(message: RelayMessage, delaySeconds: number, next: { attempt: number; notBefore?: number }) {
    if (!(delaySeconds >= 0 && delaySeconds <= 900)) this.invalidDelays.push(delaySeconds);
    const resent: RelayMessage = {
      messageId: `m-${this.seq}`,
      body: message.body,
      attempt: next.attempt,
      ...(next.notBefore === undefined ? {} : { notBefore: next.notBefore }),
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
      new Relay({
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
        for (const m of batch) await workers[w]!.process(m);
      }),
    );
    clock += 50 * Math.max(...batches.map((b) => b.length));
  }
  return {
    postedAt,
    postedKeys,
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

  // With no burst tolerance, each wake-up that lands late (DelaySeconds is whole seconds) is
  // lost for good, so the rate comes out a few per cent under the limit; a burst absorbs it.
  it.each([
    [1, 300, 1.05],
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
      // Never faster than the limit.
      expect(maxInAnyWindow(result.postedAt, HOUR)).toBeLessThanOrEqual(perHour);
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
    expect(maxInAnyWindow(result.postedAt, HOUR)).toBeLessThanOrEqual(309);
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
    expect(maxInAnyWindow(result.postedAt, HOUR)).toBeLessThanOrEqual(309);
  });
});
