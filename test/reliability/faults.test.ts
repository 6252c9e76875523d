/**
 * Fault injection on the publish path. Over real HTTP to the local gateway (the deployed verify
 * handler, the real EventDeliverer and the file spool), the bus publisher is wrapped with faults:
 * throttling, random failures, hangs cut short by a timeout, a total outage, and an outage with
 * an unwritable spool. Whatever the fault, each 202 answer's request must end up exactly once
 * in (events that reached a consumer) ∪ (spool entries), and nothing refused may appear in either.
 *
 * Then, unit level: EventBridgePublisher against a fake EventBridge client.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type {
  EventBridgeClient,
  PutEventsCommand,
  PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import fc from 'fast-check';
import type { BusEntry, EventEnvelope } from '../../lambda/shared/contract';
import { EventBridgePublisher, PublishError } from '../../lambda/shared/event-bridge-publisher';
import type { Publisher } from '../../lambda/verify/delivery';
import { computeSignature } from '../../lambda/verify/signature';
import { loadLocalConfig } from '../../local/local-config';
import { startLocal } from '../../local/server';
import { prng } from '../support/prng';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });
const throttled = () => awsError('ThrottlingException', 'Rate exceeded');

// ---------------------------------------------------------------------------------------------
// Fault injectors: each wraps the local bus publisher.

interface Injector {
  readonly wrap: (inner: Publisher) => Publisher;
  /** Resolves when no injected work is still pending (late publishes). */
  readonly settled: () => Promise<unknown>;
}

const simple = (wrap: Injector['wrap']): Injector => ({ wrap, settled: async () => undefined });

/** Rejects a publish that has not settled within `ms`; what it was doing carries on. */
function withTimeout(publisher: Publisher, ms: number): Publisher {
  return {
    publish: (entry) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(awsError('TimeoutError', `PutEvents timed out after ${ms} ms`)), ms);
      });
      return Promise.race([publisher.publish(entry), timeout]).finally(() => clearTimeout(timer));
    },
  };
}

const throttleFirst = (k: number): Injector => {
  let calls = 0;
  return simple((inner) => ({
    publish: async (entry) => {
      if (calls++ < k) throw throttled();
      return inner.publish(entry);
    },
  }));
};

const failRandomly = (p: number, seed: number): Injector => {
  const random = prng(seed);
  return simple((inner) => ({
    publish: async (entry) => {
      if (random() < p) throw awsError('InternalException', 'Internal service error');
      return inner.publish(entry);
    },
  }));
};

/** Every `every`-th publish hangs forever (the request was lost); a 50 ms timeout cuts it short. */
const hangEvery = (every: number, timeoutMs = 50): Injector => {
  let calls = 0;
  return simple((inner) =>
    withTimeout(
      {
        publish: (entry) =>
          ++calls % every === 0 ? new Promise<string>(() => undefined) : inner.publish(entry),
      },
      timeoutMs,
    ),
  );
};

/** Every `every`-th publish succeeds, but only after the timeout gave up on it (the answer was lost). */
const lateSuccessEvery = (every: number, timeoutMs = 50, delayMs = 120): Injector => {
  let calls = 0;
  const late: Promise<unknown>[] = [];
  return {
    wrap: (inner) =>
      withTimeout(
        {
          publish: (entry) => {
            if (++calls % every !== 0) return inner.publish(entry);
            const delayed = new Promise<void>((resolve) => setTimeout(resolve, delayMs)).then(() =>
              inner.publish(entry),
            );
            late.push(delayed.catch(() => undefined));
            return delayed;
          },
        },
        timeoutMs,
      ),
    settled: () => Promise.all(late),
  };
};

const outage = (): Injector =>
  simple(() => ({
    publish: async () => {
      throw awsError('ServiceUnavailableException', 'The service is unavailable');
    },
  }));

/**
 * The real, retrying EventBridgePublisher in front of the local bus, through a fake client whose
 * first `k` PutEvents calls throw ThrottlingException and every `partialEvery`-th later call
 * answers 200 with the entry failed.
 */
const retryingPublisherThrottled = (k: number, partialEvery: number): Injector => {
  let sends = 0;
  return simple((inner) => {
    const client = {
      send: async (command: PutEventsCommand): Promise<Partial<PutEventsCommandOutput>> => {
        sends++;
        if (sends <= k) throw throttled();
        if (sends % partialEvery === 0) {
          return {
            FailedEntryCount: 1,
            Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
          };
        }
        const e = command.input.Entries?.[0];
        if (!e?.Source || !e.DetailType || !e.Detail) throw new Error('malformed PutEvents entry');
        const id = await inner.publish({
          source: e.Source,
          detailType: e.DetailType,
          detail: e.Detail,
          ...(e.Time ? { time: e.Time.toISOString() } : {}),
        });
        return { FailedEntryCount: 0, Entries: [{ EventId: id }] };
      },
    };
    return new EventBridgePublisher(client as unknown as EventBridgeClient, 'local', {
      attempts: 3,
      baseDelayMs: 2,
    });
  });
};

// ---------------------------------------------------------------------------------------------
// One scenario: start kitebridge locally with the injector, send, collect.

interface Sent {
  readonly authentic: boolean;
  readonly dedupeKey: string;
  readonly status: number;
  readonly answer: { id?: string; status?: string; error?: string };
}

interface ScenarioResult {
  readonly sent: readonly Sent[];
  /** `detail.delivery` of every event that reached the consumer rule. */
  readonly consumed: readonly { requestId: string; dedupeKey: string }[];
  /** `detail.delivery` of every spool entry. */
  readonly spooled: readonly { requestId: string; dedupeKey: string }[];
  readonly spoolIsDirectory: boolean;
}

const config = loadLocalConfig();

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function runScenario(
  name: string,
  injector: Injector,
  options: { n?: number; refused?: number; concurrency?: number; unwritableSpool?: boolean } = {},
): Promise<ScenarioResult> {
  const { n = 200, refused = 20, concurrency = 20 } = options;
  const dataDir = mkdtempSync(path.join(tmpdir(), `kitebridge-faults-${name}-`));
  const spoolFile = path.join(dataDir, 'spool.jsonl');
  if (options.unwritableSpool) mkdirSync(spoolFile);
  const consumed: { requestId: string; dedupeKey: string }[] = [];
  const sent: Sent[] = [];
  const local = await startLocal({
    config,
    dataDir,
    rules: [
      {
        id: 'Counting',
        pattern: { source: ['buildkite'] },
        target: (event: EventEnvelope) => void consumed.push(deliveryOf(event.detail)),
      },
    ],
    wrapPublisher: injector.wrap,
  });
  try {
    // Authentic deliveries (signature mode), then refused ones: signed with the wrong key, or
    // authentic but not JSON. Every body is distinct, so its SHA-256 identifies it.
    const plan = Array.from({ length: n + refused }, (_, i) => {
      const body = JSON.stringify({
        event: 'build.finished',
        build: { id: `${name}-${i}`, number: i, state: i % 2 ? 'passed' : 'failed', branch: 'main' },
        pipeline: { slug: `faults-${name}` },
      });
      if (i < n) return { body, key: local.token, authentic: true };
      return i % 2
        ? { body, key: 'not-the-token', authentic: false }
        : { body: body.slice(0, -1), key: local.token, authentic: false };
    });
    await pool(plan, concurrency, async ({ body, key, authentic }) => {
      const ts = String(Math.floor(Date.now() / 1000));
      const response = await fetch(`${local.url}/buildkite`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Buildkite-Signature': `timestamp=${ts},signature=${computeSignature(key, ts, Buffer.from(body))}`,
        },
        body,
      });
      const answer = (await response.json()) as Sent['answer'];
      sent.push({ authentic, dedupeKey: sha256(body), status: response.status, answer });
    });
    await injector.settled();
    await local.bus.drain();
  } finally {
    await local.close();
  }
  const spoolIsDirectory = existsSync(spoolFile) && statSync(spoolFile).isDirectory();
  const spooled =
    spoolIsDirectory || !existsSync(spoolFile)
      ? []
      : readFileSync(spoolFile, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => deliveryOf(JSON.parse((JSON.parse(line) as BusEntry).detail)));
  rmSync(dataDir, { recursive: true, force: true });
  return { sent, consumed, spooled, spoolIsDirectory };
}

function deliveryOf(detail: unknown): { requestId: string; dedupeKey: string } {
  const { requestId, dedupeKey } = (detail as { delivery: { requestId: string; dedupeKey: string } })
    .delivery;
  return { requestId, dedupeKey };
}

const count = <T>(items: readonly T[], key: T) => items.filter((item) => item === key).length;

/**
 * The exactly-once invariant: each 202 answer's request is in consumed ∪ spooled exactly once,
 * where its answer said ("published" → consumed, "spooled" → spool); nothing else is in either.
 */
function expectExactlyOnce(result: ScenarioResult): void {
  const accepted = result.sent.filter((s) => s.status === 202);
  const consumedIds = result.consumed.map((d) => d.requestId);
  const spooledIds = result.spooled.map((d) => d.requestId);
  const everywhere = [...consumedIds, ...spooledIds];

  expect(new Set(everywhere).size).toBe(everywhere.length); // none twice, across both
  expect(everywhere.length).toBe(accepted.length);
  const problems: string[] = [];
  for (const s of accepted) {
    const id = s.answer.id as string;
    const where = s.answer.status === 'published' ? consumedIds : spooledIds;
    if (count(where, id) !== 1)
      problems.push(`${id} answered ${s.answer.status} but is not there exactly once`);
    const record = [...result.consumed, ...result.spooled].find((d) => d.requestId === id);
    if (record?.dedupeKey !== s.dedupeKey) problems.push(`${id} carries another body's dedupeKey`);
  }
  const keys = new Set([...result.consumed, ...result.spooled].map((d) => d.dedupeKey));
  for (const s of result.sent.filter((x) => x.status !== 202)) {
    if (keys.has(s.dedupeKey)) problems.push(`a request answered ${s.status} reached the bus or the spool`);
  }
  expect(problems).toEqual([]);
}

function statusesOf(result: ScenarioResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of result.sent) {
    const key = s.status === 202 ? `202 ${s.answer.status}` : `${s.status} ${s.answer.error}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('publish-path faults over real HTTP: every 202 is on the bus or in the spool, exactly once', () => {
  const N = 200;
  const refusedAnswers = { '400 invalid_json': 10, '401 invalid_signature': 10 };

  it('throttling: the first 50 PutEvents calls throw ThrottlingException', async () => {
    const result = await runScenario('throttling', throttleFirst(50));
    expectExactlyOnce(result);
    expect(statusesOf(result)).toEqual({ '202 published': 150, '202 spooled': 50, ...refusedAnswers });
  });

  it('throttling behind the retrying EventBridgePublisher (and 200s with FailedEntryCount)', async () => {
    const result = await runScenario('retrying', retryingPublisherThrottled(60, 7));
    expectExactlyOnce(result);
    const statuses = statusesOf(result);
    expect((statuses['202 published'] ?? 0) + (statuses['202 spooled'] ?? 0)).toBe(N);
    // Retries absorb most of the throttling: far fewer than the 60 throttled calls end up spooled.
    expect(statuses['202 spooled'] ?? 0).toBeLessThan(60);
    expect(result.consumed.length).toBeGreaterThan(140);
  });

  it('partial failures: each publish fails with probability 0.3', async () => {
    const result = await runScenario('random', failRandomly(0.3, 42));
    expectExactlyOnce(result);
    const statuses = statusesOf(result);
    expect((statuses['202 published'] ?? 0) + (statuses['202 spooled'] ?? 0)).toBe(N);
    expect(statuses['202 spooled']).toBeGreaterThan(30);
    expect(statuses['202 spooled']).toBeLessThan(100);
  });

  it('timeouts: every 4th publish hangs; a 50 ms timeout rejects it and the event is spooled', async () => {
    const result = await runScenario('timeouts', hangEvery(4));
    expectExactlyOnce(result);
    expect(statusesOf(result)).toEqual({ '202 published': 150, '202 spooled': 50, ...refusedAnswers });
  });

  it('total outage: every delivery is answered 202 "spooled" and is in the spool', async () => {
    const result = await runScenario('outage', outage());
    expectExactlyOnce(result);
    expect(statusesOf(result)).toEqual({ '202 spooled': N, ...refusedAnswers });
    expect(result.consumed).toHaveLength(0);
    expect(result.spooled).toHaveLength(N);
  });

  it('outage and an unwritable spool: every delivery is refused 503 persist_failed; nothing is delivered', async () => {
    const result = await runScenario('no-spool', outage(), { unwritableSpool: true });
    expect(result.spoolIsDirectory).toBe(true);
    expect(statusesOf(result)).toEqual({ '503 persist_failed': N, ...refusedAnswers });
    expect(result.consumed).toHaveLength(0);
    expect(result.spooled).toHaveLength(0);
  });

  it('a timeout whose publish succeeds later: at least once, and the duplicate carries the same ids', async () => {
    // Not exactly-once, by design (the README: consumers dedupe on delivery.dedupeKey): the
    // timed-out publish landed after the event was spooled, so the redrive will publish it again.
    const result = await runScenario('late', lateSuccessEvery(5));
    const statuses = statusesOf(result);
    expect(statuses).toEqual({ '202 published': 160, '202 spooled': 40, ...refusedAnswers });
    const spooledIds = new Set(result.spooled.map((d) => d.requestId));
    const consumedIds = result.consumed.map((d) => d.requestId);
    for (const s of result.sent.filter((x) => x.status === 202)) {
      const id = s.answer.id as string;
      expect(count(consumedIds, id)).toBe(1); // every one reached the bus, the late ones too
      expect(spooledIds.has(id)).toBe(s.answer.status === 'spooled');
    }
    const dedupeKeys = new Map(result.sent.map((s) => [s.answer.id, s.dedupeKey]));
    for (const d of [...result.consumed, ...result.spooled])
      expect(d.dedupeKey).toBe(dedupeKeys.get(d.requestId));
  });
});

// ---------------------------------------------------------------------------------------------

describe('EventBridgePublisher with a fake EventBridge client', () => {
  const entry: BusEntry = {
    source: 'buildkite',
    detailType: 'build.finished',
    detail: '{"event":"build.finished"}',
    time: '2026-11-23T12:00:00.000Z',
  };
  type Reply = Partial<PutEventsCommandOutput> | Error;
  const ok = (id: string): Reply => ({ FailedEntryCount: 0, Entries: [{ EventId: id }] });
  const failedEntry = (code = 'ThrottlingException'): Reply => ({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: code, ErrorMessage: 'Rate exceeded' }],
  });

  /** A client that answers each call with the next reply (the last one repeats). */
  function fakeClient(replies: readonly Reply[]) {
    const commands: PutEventsCommand[] = [];
    const client = {
      send: async (command: PutEventsCommand) => {
        commands.push(command);
        const reply = replies[Math.min(commands.length, replies.length) - 1];
        if (reply instanceof Error) throw reply;
        return reply;
      },
    };
    return { client: client as unknown as EventBridgeClient, commands };
  }
  const publisher = (client: EventBridgeClient, sleeps: number[] = []) =>
    new EventBridgePublisher(client, 'kitebridge-bus', {
      attempts: 3,
      baseDelayMs: 50,
      sleep: async (ms) => void sleeps.push(ms),
    });

  it('throttling, then success: publishes once, after backing off', async () => {
    const { client, commands } = fakeClient([throttled(), throttled(), ok('evt-1')]);
    const sleeps: number[] = [];
    await expect(publisher(client, sleeps).publish(entry)).resolves.toBe('evt-1');
    expect(commands).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeLessThanOrEqual(50);
    expect(sleeps[1]).toBeLessThanOrEqual(100);
    expect(commands[0]?.input.Entries).toEqual([
      {
        EventBusName: 'kitebridge-bus',
        Source: 'buildkite',
        DetailType: 'build.finished',
        Detail: entry.detail,
        Time: new Date('2026-11-23T12:00:00.000Z'),
      },
    ]);
  });

  it('a 200 answer with FailedEntryCount > 0 is retried', async () => {
    const { client, commands } = fakeClient([failedEntry('InternalFailure'), ok('evt-2')]);
    await expect(publisher(client).publish(entry)).resolves.toBe('evt-2');
    expect(commands).toHaveLength(2);
  });

  it('gives up after `attempts` with a PublishError naming the last error', async () => {
    const { client, commands } = fakeClient([throttled(), failedEntry('ThrottlingException')]);
    const sleeps: number[] = [];
    const failure = publisher(client, sleeps).publish(entry);
    await expect(failure).rejects.toBeInstanceOf(PublishError);
    await expect(failure).rejects.toMatchObject({ lastErrorCode: 'ThrottlingException' });
    expect(commands).toHaveLength(3);
    expect(sleeps).toHaveLength(2); // no pointless sleep after the last attempt
  });

  it('never reports success for a failed entry, whatever the replies (property)', async () => {
    const replyArb: fc.Arbitrary<Reply> = fc.oneof(
      fc.uuid().map((id) => ok(id)),
      fc.constantFrom('ThrottlingException', 'InternalFailure', 'AccessDeniedException').map(failedEntry),
      fc.constantFrom(throttled(), awsError('TimeoutError', 'socket hang up'), new Error('ECONNRESET')),
      // Malformed or contradictory answers: none of them is a success.
      fc.constantFrom<Reply>(
        { FailedEntryCount: 0, Entries: [] },
        { FailedEntryCount: 0 },
        { FailedEntryCount: 0, Entries: [{ ErrorCode: 'InternalFailure' }] },
        { FailedEntryCount: 1, Entries: [{ EventId: 'contradiction' }] },
        {},
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(replyArb, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 4 }),
        async (replies, attempts) => {
          const { client, commands } = fakeClient(replies);
          const p = new EventBridgePublisher(client, 'bus', { attempts, sleep: async () => undefined });
          const isSuccess = (r: Reply | undefined) =>
            r !== undefined &&
            !(r instanceof Error) &&
            !r.FailedEntryCount &&
            Boolean(r.Entries?.[0]?.EventId);
          const tried = Array.from({ length: attempts }, (_, i) => replies[Math.min(i, replies.length - 1)]);
          const firstSuccess = tried.findIndex(isSuccess);
          const outcome = await p.publish(entry).then(
            (id) => ({ id }),
            (error: unknown) => ({ error }),
          );
          if (firstSuccess < 0) {
            expect(outcome).toEqual({ error: expect.any(PublishError) });
            expect(commands).toHaveLength(attempts);
          } else {
            const reply = tried[firstSuccess] as Partial<PutEventsCommandOutput>;
            expect(outcome).toEqual({ id: reply.Entries?.[0]?.EventId });
            expect(commands).toHaveLength(firstSuccess + 1); // stops at the first success
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
