import { gcraParams } from '../../../lambda/trigger-relay/gcra';
import {
  FetchTriggerPoster,
  TRIGGER_URL_PLACEHOLDER,
  checkTriggerUrl,
} from '../../../lambda/trigger-relay/http-poster';
import { MemoryIdempotencyStore, MemoryPacingStore } from '../../../local/adapters/memory-relay-stores';
import { Pacer } from '../../../lambda/trigger-relay/pacer';
import type { IdempotencyStore, OversizedBodySource } from '../../../lambda/trigger-relay/ports';
import {
  PermanentRelayError,
  TriggerRelayApp,
  type TriggerRelayDeps,
  type RelayOutcome,
} from '../../../lambda/trigger-relay/app';
import { SkipReporter } from '../../../lambda/shared/skipped';
import {
  RecordingLog,
  RecordingQueue,
  startFakeBuildkite,
  TRIGGER_TOKEN,
  triggerEvent,
  message,
  type FakeAnswer,
  type FakeBuildkite,
} from './support';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');

let buildkite: FakeBuildkite;
beforeAll(async () => {
  buildkite = await startFakeBuildkite();
});
afterAll(() => buildkite.close());
beforeEach(() => {
  buildkite.requests.length = 0;
});

interface Harness {
  readonly relay: TriggerRelayApp;
  readonly queue: RecordingQueue;
  readonly log: RecordingLog;
  readonly idempotency: MemoryIdempotencyStore;
  clock: number;
}

function harness(overrides: Partial<TriggerRelayDeps> = {}, settings = {}): Harness {
  const h = {
    queue: new RecordingQueue(),
    log: new RecordingLog(),
    idempotency: new MemoryIdempotencyStore(),
    clock: NOW,
  } as Harness;
  const clock = () => h.clock;
  const deps: TriggerRelayDeps = {
    pacer: new Pacer(new MemoryPacingStore(), gcraParams(3600, 100), clock),
    idempotency: h.idempotency,
    urls: { url: async (trigger) => checkTriggerUrl(trigger, buildkite.triggerUrl, true) },
    bodies: { get: async () => Buffer.from('{"big":true}') },
    // Generous: an answer from the local stand-in never times out, however busy the machine.
    poster: new FetchTriggerPoster({ timeoutMs: 30_000 }),
    queue: h.queue,
    log: h.log,
    clock,
    random: () => 0.5,
    ...overrides,
  };
  return Object.assign(h, { relay: new TriggerRelayApp(deps, settings) });
}

describe('relaying to a Buildkite pipeline trigger (a real HTTP server on 127.0.0.1)', () => {
  const cases: {
    name: string;
    answer: FakeAnswer;
    expected: Partial<RelayOutcome> & { status: RelayOutcome['status'] };
    reason?: RegExp;
    /** The poster's timeout, for the case that tests it. */
    timeoutMs?: number;
  }[] = [
    {
      name: '201 → delivered, Buildkite delivery id recorded',
      answer: { status: 201, body: { id: 'f62a1b4d-10f9-4790-bc1c-e2c3a0c80983' } },
      expected: { status: 'delivered', buildkiteId: 'f62a1b4d-10f9-4790-bc1c-e2c3a0c80983', recorded: true },
    },
    {
      name: '400 invalid token → dead-lettered',
      answer: { status: 400, body: { message: 'Invalid pipeline trigger token' } },
      expected: { status: 'dead-lettered' },
      reason: /^Buildkite answered 400 \(invalid pipeline trigger token\): Invalid pipeline trigger token$/,
    },
    {
      name: '403 disabled → dead-lettered',
      answer: { status: 403, body: { message: 'Pipeline trigger is disabled' } },
      expected: { status: 'dead-lettered' },
      reason: /^Buildkite answered 403 \(the pipeline trigger is disabled\)/,
    },
    {
      name: '404 not found → dead-lettered',
      answer: { status: 404, body: { message: 'Not Found' } },
      expected: { status: 'dead-lettered' },
      reason: /^Buildkite answered 404 \(the pipeline trigger was not found\)/,
    },
    {
      name: '429 → retried after Retry-After',
      answer: { status: 429, body: { message: 'Too many requests' }, headers: { 'retry-after': '120' } },
      expected: { status: 'retrying', attempt: 1, delaySeconds: 120 },
      reason: /^Buildkite answered 429 \(rate limited\)/,
    },
    {
      name: '500 → retried with backoff',
      answer: { status: 500, body: { message: 'Internal Server Error' } },
      expected: { status: 'retrying', attempt: 1, delaySeconds: 23 },
      reason: /^Buildkite answered 500 \(Buildkite error\)/,
    },
    {
      name: 'no answer in time → retried with backoff',
      // The stand-in answers long after the poster's 250 ms: a late timer cannot change the outcome.
      answer: { status: 201, body: { id: 'too-late' }, delayMs: 60_000 },
      timeoutMs: 250,
      expected: { status: 'retrying', attempt: 1, delaySeconds: 23 },
      reason: /^no answer within 250 ms$/,
    },
  ];

  it.each(cases)('$name', async ({ answer, expected, reason, timeoutMs }) => {
    // Prepare
    buildkite.answer = () => answer;
    const h = harness(timeoutMs ? { poster: new FetchTriggerPoster({ timeoutMs }) } : {});
    const body = triggerEvent({ payload: { action: 'closed', pull_request: { number: 123 } } });

    // Act
    const outcome = await h.relay.process(message(body));

    // Assess
    expect(outcome).toMatchObject(expected);
    expect(buildkite.requests).toHaveLength(1);
    expect(buildkite.requests[0]).toMatchObject({
      path: `/deliver/${TRIGGER_TOKEN}`,
      body: '{"action":"closed","pull_request":{"number":123}}',
      headers: expect.objectContaining({ 'content-type': 'application/json' }),
    });
    if (expected.status === 'dead-lettered') {
      expect(h.queue.deadLetters).toEqual([
        { message: message(body), reason: expect.stringMatching(reason!) },
      ]);
      expect(h.queue.deferred).toEqual([]);
      expect(h.log.lines.find((l) => l.level === 'error')?.attributes.reason).toMatch(reason!);
    }
    if (expected.status === 'retrying') {
      expect(outcome).toMatchObject({ reason: expect.stringMatching(reason!) });
      expect(h.queue.deferred).toEqual([
        {
          message: message(body),
          delaySeconds: (expected as { delaySeconds: number }).delaySeconds,
          attempt: 1,
          notBefore: NOW + (expected as { delaySeconds: number }).delaySeconds * 1000,
          backoff: true,
        },
      ]);
      expect(h.queue.deadLetters).toEqual([]);
    }
    if (expected.status === 'delivered') {
      expect(h.queue.deferred).toEqual([]);
      expect(h.queue.deadLetters).toEqual([]);
      expect([...h.idempotency.records.values()]).toEqual([
        expect.objectContaining({ status: 'done', buildkiteId: 'f62a1b4d-10f9-4790-bc1c-e2c3a0c80983' }),
      ]);
    } else {
      // A failed attempt releases its claim, so the retry (or a redrive) may try again.
      expect(h.idempotency.records.size).toBe(0);
    }
    // The trigger URL is a secret: never in a log line, an outcome or a dead-letter reason.
    const everything = JSON.stringify([h.log.lines, outcome, h.queue.deadLetters.map((d) => d.reason)]);
    expect(everything).not.toContain(TRIGGER_TOKEN);
    expect(everything).not.toContain(buildkite.url);
  });

  it('starts one build for a delivery the third party sent twice (same dedupe key)', async () => {
    buildkite.answer = (_r, i) => ({ status: 201, body: { id: `bk-${i}` } });
    const h = harness();
    const first = triggerEvent({ dedupeKey: 'github:abc', id: 'event-1' });
    const second = triggerEvent({ dedupeKey: 'github:abc', id: 'event-2' });

    const outcomes = [await h.relay.process(message(first)), await h.relay.process(message(second))];

    expect(outcomes).toEqual([
      { status: 'delivered', buildkiteId: 'bk-0', recorded: true },
      { status: 'duplicate', buildkiteId: 'bk-0' },
    ]);
    expect(buildkite.requests).toHaveLength(1);
  });

  it('starts one build when both copies arrive at once (the second waits for the first claim)', async () => {
    buildkite.answer = () => ({ status: 201, body: { id: 'bk-1' }, delayMs: 50 });
    const h = harness();
    const body = triggerEvent({ dedupeKey: 'sha-of-body' });

    const outcomes = await Promise.all([
      h.relay.process(message(body, { messageId: 'a' })),
      h.relay.process(message(body, { messageId: 'b' })),
    ]);

    expect(outcomes.map((o) => o.status).sort()).toEqual(['busy', 'delivered']);
    expect(h.queue.deferred).toEqual([expect.objectContaining({ delaySeconds: 10, attempt: 0 })]);
    const retried = await h.relay.process(h.queue.deferred[0]!.message);
    expect(retried).toEqual({ status: 'duplicate', buildkiteId: 'bk-1' });
    expect(buildkite.requests).toHaveLength(1);
  });

  it('relays the same dedupe key once per trigger (two pipelines may want the same body)', async () => {
    buildkite.answer = () => ({ status: 201, body: { id: 'x' } });
    const h = harness();
    await h.relay.process(message(triggerEvent({ trigger: 'deploy', dedupeKey: 'k' })));
    await h.relay.process(message(triggerEvent({ trigger: 'pagerduty', dedupeKey: 'k' })));
    expect(buildkite.requests).toHaveLength(2);
  });

  it('relays again once the idempotency window has passed', async () => {
    buildkite.answer = () => ({ status: 201, body: { id: 'x' } });
    const h = harness({}, { idempotencyTtlSeconds: 60 });
    await h.relay.process(message(triggerEvent()));
    h.clock += 61_000;
    expect(await h.relay.process(message(triggerEvent()))).toMatchObject({ status: 'delivered' });
    expect(buildkite.requests).toHaveLength(2);
  });

  it('dead-letters after the last allowed attempt, saying why', async () => {
    buildkite.answer = () => ({ status: 503, body: { message: 'Service Unavailable' } });
    const h = harness({}, { maxAttempts: 3 });
    const outcome = await h.relay.process(message(triggerEvent(), { attempt: 2 }));
    expect(outcome).toEqual({
      status: 'dead-lettered',
      reason: 'gave up after 3 attempts; last: Buildkite answered 503 (Buildkite error): Service Unavailable',
    });
  });

  it('retries when nothing listens at the URL (connection refused)', async () => {
    const closed = await startFakeBuildkite();
    await closed.close();
    const h = harness({ urls: { url: async () => closed.triggerUrl } });
    const outcome = await h.relay.process(message(triggerEvent()));
    expect(outcome).toMatchObject({ status: 'retrying', reason: 'network error ECONNREFUSED' });
  });

  it('posts the raw body of an oversized delivery from the body store', async () => {
    buildkite.answer = () => ({ status: 201, body: { id: 'x' } });
    const raw = Buffer.from(`{"big":"${'x'.repeat(300_000)}"}`);
    const seen: unknown[] = [];
    const bodies: OversizedBodySource = {
      get: async (pointer) => {
        seen.push(pointer);
        return raw;
      },
    };
    const h = harness({ bodies });
    const pointer = { bucket: 'kb-oversized', key: 'oversized/2026/11/23/req-1.json', bytes: raw.length };
    await h.relay.process(message(triggerEvent({ oversized: pointer })));
    expect(seen).toEqual([pointer]);
    expect(buildkite.requests[0]?.body).toBe(raw.toString());
  });

  it('dead-letters when the URL secret still holds the placeholder, without posting', async () => {
    const h = harness({ urls: { url: async (t) => checkTriggerUrl(t, TRIGGER_URL_PLACEHOLDER) } });
    const outcome = await h.relay.process(message(triggerEvent()));
    expect(outcome).toEqual({
      status: 'dead-lettered',
      reason: expect.stringContaining('trigger URL of trigger "github-deploy" is not set'),
    });
    expect(buildkite.requests).toHaveLength(0);
    expect(h.idempotency.records.size).toBe(0);
  });

  const event = (mutate: (e: Record<string, unknown> & { detail: Record<string, unknown> }) => void) => {
    const parsed = JSON.parse(triggerEvent()) as Record<string, unknown> & {
      detail: Record<string, unknown>;
    };
    mutate(parsed);
    return JSON.stringify(parsed);
  };
  it.each([
    ['not JSON', 'nope', 'not-json'],
    ['a JSON array', '[1]', 'not-an-object'],
    [
      'another source',
      JSON.stringify({ source: 'buildkite', 'detail-type': 'ping', detail: {} }),
      'other-source',
    ],
    ['without a detail', event((e) => delete (e as Record<string, unknown>).detail), 'missing-detail'],
    ['without a trigger name', event((e) => delete e.detail.trigger), 'missing-trigger'],
    [
      'a detail-type for another trigger',
      triggerEvent().replace('trigger.github-deploy', 'trigger.other'),
      'detail-type-mismatch',
    ],
    ['without a dedupe key', triggerEvent().replace(/"dedupeKey":"[^"]*",/, ''), 'missing-dedupe-key'],
    ['without a payload', event((e) => delete e.detail.payload), 'missing-payload'],
    [
      'an oversized pointer without a key',
      event((e) => ((e.detail.delivery as Record<string, unknown>).oversized = { bucket: 'kb-oversized' })),
      'malformed-oversized-pointer',
    ],
  ])(
    'skips a message that is %s: no post, no dead letter, one warning with the reason',
    async (_name, body, reason) => {
      const points: string[] = [];
      const log = new RecordingLog();
      const skips = new SkipReporter(log, {
        singleMetric: () => {
          const dims: string[] = [];
          return {
            addDimension: (name: string, value: string) => void dims.push(`${name}=${value}`),
            addMetric: (name: string, _unit: 'Count', value: number) =>
              void points.push(`${name}:${value} ${dims.join(',')}`),
          };
        },
      });
      const h = harness({ log, skips });
      const outcome = await h.relay.process(message(body, { messageId: 'm-bad' }));
      expect(outcome).toEqual({ status: 'skipped', reason });
      expect(buildkite.requests).toHaveLength(0);
      expect(h.queue.deadLetters).toEqual([]);
      expect(h.queue.deferred).toEqual([]);
      expect(h.idempotency.records.size).toBe(0);
      expect(log.lines).toEqual([
        {
          level: 'warn',
          message: 'Delivery skipped',
          attributes: expect.objectContaining({
            reason,
            messageId: 'm-bad',
            problem: expect.stringMatching(/^Not a kitebridge trigger event/),
          }),
        },
      ]);
      expect(points).toEqual([`Skipped:1 Reason=${reason}`]);
    },
  );

  it('names the event id and detail-type of a skipped event when it has them', async () => {
    const h = harness();
    await h.relay.process(message(event((e) => delete e.detail.payload)));
    expect(h.log.lines[0]?.attributes).toMatchObject({
      eventId: 'event-1',
      detailType: 'trigger.github-deploy',
    });
  });

  it('still dead-letters a pointer whose stored body is gone: an accepted request never started its build', async () => {
    const h = harness({
      bodies: {
        get: async () => {
          throw new PermanentRelayError('The stored body oversized/k.json no longer exists (expired?).');
        },
      },
    });
    const pointer = { bucket: 'kb-oversized', key: 'oversized/k.json', bytes: 300_000 };
    expect(await h.relay.process(message(triggerEvent({ oversized: pointer })))).toEqual({
      status: 'dead-lettered',
      reason: expect.stringContaining('no longer exists'),
    });
    expect(h.queue.deadLetters).toHaveLength(1);
  });

  it('rethrows infrastructure errors, so SQS redelivers the message, and frees the claim', async () => {
    const h = harness({
      urls: {
        url: async () => {
          throw new Error('Secrets Manager is unreachable');
        },
      },
    });
    await expect(h.relay.process(message(triggerEvent()))).rejects.toThrow('Secrets Manager is unreachable');
    expect(h.idempotency.records.size).toBe(0);
    expect(h.queue.deferred).toEqual([]);
    expect(h.queue.deadLetters).toEqual([]);
  });

  it('rethrows when the idempotency store cannot be reached, before posting', async () => {
    const failing: IdempotencyStore = {
      claim: async () => {
        throw new Error('DynamoDB throttled');
      },
      complete: async () => undefined,
      release: async () => undefined,
    };
    const h = harness({ idempotency: failing });
    await expect(h.relay.process(message(triggerEvent()))).rejects.toThrow('DynamoDB throttled');
    expect(buildkite.requests).toHaveLength(0);
  });

  it('still acknowledges a relayed request when recording it fails (a retry would start a second build)', async () => {
    buildkite.answer = () => ({ status: 201, body: { id: 'bk-9' } });
    const store = new MemoryIdempotencyStore();
    const h = harness({
      idempotency: {
        claim: (...args) => store.claim(...args),
        release: (...args) => store.release(...args),
        complete: async () => {
          throw new Error('DynamoDB throttled');
        },
      },
    });
    expect(await h.relay.process(message(triggerEvent()))).toEqual({
      status: 'delivered',
      buildkiteId: 'bk-9',
      recorded: false,
    });
    expect(h.log.lines.find((l) => l.level === 'error')?.message).toMatch(/could not be written/);
  });

  it('re-queues a message that arrives before its not-before time, without taking a slot', async () => {
    const store = new MemoryPacingStore();
    const h = harness({ pacer: new Pacer(store, gcraParams(300, 1), () => NOW) });
    const outcome = await h.relay.process(message(triggerEvent(), { notBefore: NOW + 5_000_000 }));
    expect(outcome).toEqual({ status: 'paced', delaySeconds: 900, notBefore: NOW + 5_000_000 });
    expect(store.reads).toBe(0);
    expect(buildkite.requests).toHaveLength(0);
  });
});
