/**
 * Fault injection on the publish path. Over real HTTP to the local gateway (the deployed verify
 * handler, the real EventDeliverer and the file spool), the bus publisher is wrapped with faults:
 * throttling, random failures, hangs cut short by a timeout, a total outage, and an outage with
 * an unwritable spool. Whatever the fault, each 202 answer's request must end up exactly once
 * in (events that reached a consumer) ∪ (spool entries), and nothing refused may appear in either.
 *
 * Deterministic by construction, so the exact counts asserted hold on any machine at any load:
 * - Which delivery meets which fault is a function of that delivery alone (its build number, and
 *   for retries its attempt number), never of arrival order: 20 concurrent requests arrive in any
 *   order, and a fault chosen by "the n-th call" would hit different requests on different runs.
 * - "Random" faults come from a seeded PRNG drawn once per build number, before any request.
 * - No timer races anything. The retrying publisher's backoff sleep resolves at once. A hung
 *   publish never settles, so the timeout that cuts it short always wins. A publish whose answer
 *   was lost is held and released only after every HTTP answer is in (`settled`): it lands on the
 *   bus after its request was answered "spooled", never before. (The timeout used to race a
 *   120 ms delayed publish; under CPU load timers fired late and out of deadline order, and a few
 *   late publishes won: 163 published / 37 spooled instead of 160 / 40.)
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
import { buildFinishedDedupeKey, type BusEntry, type EventEnvelope } from '../../lambda/shared/contract';
import { EventBridgePublisher, PublishError } from '../../lambda/shared/event-bridge-publisher';
import type { Publisher } from '../../lambda/verify/ports';
import { computeSignature } from '../../lambda/verify/signature';
import { loadLocalConfig } from '../../local/local-config';
import { startLocal } from '../../local/server';
import { prng } from '../support/prng';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The verify function's key: build and state for a build.finished it can read, else the body's SHA-256. */
const dedupeKeyOf = (body: string): string => {
  try {
    return buildFinishedDedupeKey((JSON.parse(body) as { build?: unknown }).build) ?? sha256(body);
  } catch {
    return sha256(body);
  }
};

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });
const throttled = () => awsError('ThrottlingException', 'Rate exceeded');

// ---------------------------------------------------------------------------------------------
// Fault injectors: each wraps the local bus publisher and picks its victims by build number.

/** The build number of the delivery an entry carries: what every injector decides on. */
function buildOf(entry: BusEntry): number {
  const detail = JSON.parse(entry.detail) as { build?: { number?: unknown } };
  const number = detail.build?.number;
  if (typeof number !== 'number') throw new Error(`not a scenario delivery: ${entry.detail.slice(0, 80)}`);
  return number;
}

interface Injector {
  readonly wrap: (inner: Publisher) => Publisher;
  /** Called once every HTTP answer is in; resolves when no injected work is still pending. */
  readonly settled: () => Promise<unknown>;
}

const simple = (wrap: Injector['wrap']): Injector => ({ wrap, settled: async () => undefined });

/** Publishes of the builds `faulty` picks fail with `error()`; the others go through. */
const failWhen = (faulty: (build: number) => boolean, error: () => Error): Injector =>
  simple((inner) => ({
    publish: async (entry) => {
      if (faulty(buildOf(entry))) throw error();
      return inner.publish(entry);
    },
  }));

/** `n` booleans drawn from a seeded PRNG, each true with probability `p`: the same on every run. */
function seededPlan(n: number, p: number, seed: number): boolean[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => random() < p);
}

/**
 * A publish that never settles (the request was lost), cut short by a timeout as the SDK's
 * requestTimeout would. The timer races nothing: the hung side cannot win.
 */
function hangThenTimeOut(timeoutMs: number): Promise<never> {
  return new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(awsError('TimeoutError', `PutEvents timed out after ${timeoutMs} ms`)),
      timeoutMs,
    ),
  );
}

/** Publishes of the builds `hangs` picks hang until a 20 ms timeout rejects them; nothing lands. */
const hangWhen = (hangs: (build: number) => boolean): Injector =>
  simple((inner) => ({
    publish: (entry) => (hangs(buildOf(entry)) ? hangThenTimeOut(20) : inner.publish(entry)),
  }));

/**
 * Publishes of the builds `late` picks time out, but their request did reach the bus: the event
 * lands after the timeout gave up on it (the answer was lost). Held until every HTTP answer is
 * in, so it always lands after its delivery was answered "spooled".
 */
const lateSuccessWhen = (late: (build: number) => boolean): Injector => {
  const held: (() => Promise<unknown>)[] = [];
  return {
    wrap: (inner) => ({
      publish: (entry) => {
        if (!late(buildOf(entry))) return inner.publish(entry);
        held.push(() => inner.publish(entry));
        return hangThenTimeOut(20);
      },
    }),
    settled: () => Promise.all(held.splice(0).map((publish) => publish())),
  };
};

const outage = (): Injector =>
  failWhen(
    () => true,
    () => awsError('ServiceUnavailableException', 'The service is unavailable'),
  );

/** What the fake EventBridge answers to one PutEvents call. */
type Answer = 'ok' | 'throttled' | 'failed-entry';

/**
 * The real, retrying EventBridgePublisher (3 attempts, backoff sleep resolving at once) in front
 * of the local bus, through a fake client that answers attempt k of build b with `answers[b][k]`:
 * a ThrottlingException, a 200 with the entry failed, or success.
 */
const retryingPublisher = (answers: readonly (readonly Answer[])[]): Injector => {
  const attempts = new Map<number, number>();
  return simple((inner) => {
    const client = {
      send: async (command: PutEventsCommand): Promise<Partial<PutEventsCommandOutput>> => {
        const e = command.input.Entries?.[0];
        if (!e?.Source || !e.DetailType || !e.Detail) throw new Error('malformed PutEvents entry');
        const entry: BusEntry = {
          source: e.Source,
          detailType: e.DetailType,
          detail: e.Detail,
          ...(e.Time ? { time: e.Time.toISOString() } : {}),
        };
        const build = buildOf(entry);
        const attempt = attempts.get(build) ?? 0;
        attempts.set(build, attempt + 1);
        const answer = answers[build]?.[attempt] ?? 'ok';
        if (answer === 'throttled') throw throttled();
        if (answer === 'failed-entry') {
          return {
            FailedEntryCount: 1,
            Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
          };
        }
        const id = await inner.publish(entry);
        return { FailedEntryCount: 0, Entries: [{ EventId: id }] };
      },
    };
    return new EventBridgePublisher(client as unknown as EventBridgeClient, 'local', {
      attempts: 3,
      baseDelayMs: 2,
      sleep: async () => undefined,
    });
  });
};

// ---------------------------------------------------------------------------------------------
// One scenario: start kitebridge locally with the injector, send, collect.

interface Sent {
  /** The build number in the body: what the injectors decide on. */
  readonly build: number;
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
      if (i < n) return { build: i, body, key: local.token, authentic: true };
      return i % 2
        ? { build: i, body, key: 'not-the-token', authentic: false }
        : { build: i, body: body.slice(0, -1), key: local.token, authentic: false };
    });
    await pool(plan, concurrency, async ({ build, body, key, authentic }) => {
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
      sent.push({ build, authentic, dedupeKey: dedupeKeyOf(body), status: response.status, answer });
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

/** The build numbers whose delivery was answered 202 "spooled", in order. */
const spooledBuilds = (result: ScenarioResult) =>
  result.sent
    .filter((s) => s.status === 202 && s.answer.status === 'spooled')
    .map((s) => s.build)
    .sort((a, b) => a - b);

/** The numbers 0 … n-1 that `pick` picks. */
const buildsWhere = (n: number, pick: (build: number) => boolean) =>
  Array.from({ length: n }, (_, build) => build).filter(pick);

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
  /** Every 202 is delivered exactly once: the builds `spooled` (in order) are in the spool, the rest on the bus. */
  const expectPublishedOrSpooled = (result: ScenarioResult, spooled: number[]) => {
    expectExactlyOnce(result);
    expect(statusesOf(result)).toEqual({
      '202 published': N - spooled.length,
      '202 spooled': spooled.length,
      ...refusedAnswers,
    });
    expect(spooledBuilds(result)).toEqual(spooled);
  };

  it('throttling: PutEvents throws ThrottlingException for 50 of the 200 deliveries', async () => {
    const throttledBuild = (build: number) => build < 50;
    const result = await runScenario('throttling', failWhen(throttledBuild, throttled));
    expect(buildsWhere(N, throttledBuild)).toHaveLength(50);
    expectPublishedOrSpooled(result, buildsWhere(N, throttledBuild));
  });

  it('throttling and 200s with FailedEntryCount behind the retrying EventBridgePublisher', async () => {
    // Each attempt of each build fails with probability 0.5 (throttled or a failed entry, half
    // and half), from a seeded plan; a build is spooled only when all 3 attempts fail.
    const random = prng(7);
    const answers: Answer[][] = Array.from({ length: N }, () =>
      Array.from({ length: 3 }, (): Answer => {
        const r = random();
        return r < 0.25 ? 'throttled' : r < 0.5 ? 'failed-entry' : 'ok';
      }),
    );
    const allFail = (build: number) => answers[build]?.every((a) => a !== 'ok') ?? false;
    const expectedSpooled = buildsWhere(N, allFail);
    const retriedThenPublished = buildsWhere(N, (b) => answers[b]?.[0] !== 'ok' && !allFail(b));
    // The plan exercises every path: spooled builds, and builds saved by a retry.
    expect(expectedSpooled.length).toBeGreaterThan(10);
    expect(retriedThenPublished.length).toBeGreaterThan(50);

    const result = await runScenario('retrying', retryingPublisher(answers));
    expectPublishedOrSpooled(result, expectedSpooled);
  });

  it('partial failures: each publish fails with probability 0.3 (seeded)', async () => {
    const fails = seededPlan(N, 0.3, 42);
    const failing = (build: number) => fails[build] === true;
    const expectedSpooled = buildsWhere(N, failing);
    expect(expectedSpooled.length).toBeGreaterThan(30); // the seed gives a real mix
    expect(expectedSpooled.length).toBeLessThan(100);

    const result = await runScenario(
      'random',
      failWhen(failing, () => awsError('InternalException', 'Internal service error')),
    );
    expectPublishedOrSpooled(result, expectedSpooled);
  });

  it("timeouts: every 4th delivery's publish hangs; a timeout rejects it and the event is spooled", async () => {
    const hangs = (build: number) => build % 4 === 3;
    const result = await runScenario('timeouts', hangWhen(hangs));
    expect(buildsWhere(N, hangs)).toHaveLength(50);
    expectPublishedOrSpooled(result, buildsWhere(N, hangs));
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
    const late = (build: number) => build % 5 === 4;
    const result = await runScenario('late', lateSuccessWhen(late));
    const statuses = statusesOf(result);
    expect(statuses).toEqual({ '202 published': 160, '202 spooled': 40, ...refusedAnswers });
    expect(spooledBuilds(result)).toEqual(buildsWhere(N, late));
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
