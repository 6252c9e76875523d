import fc from 'fast-check';
import { buildFinishedDedupeKey } from '../../../lambda/shared/contract';
import { toInboundRequest } from '../../../lambda/verify/request';
import type { VerifySettings } from '../../../lambda/verify/types';
import { deliveryJson, verifyDelivery } from '../../../lambda/verify/verify';
import { TokenSource } from '../../../lambda/verify/token-source';
import {
  apiEvent,
  BUILD_FINISHED,
  NOW,
  NOW_SECONDS,
  PING,
  signatureHeader,
  TOKEN,
  type EventOptions,
} from '../../../support/api-event';
import { RecordingDeliverer, staticTokens } from '../../../support/fakes';

const settings: VerifySettings = { replayWindowSeconds: 300, maxBodyBytes: 1_000_000 };

async function run(options: EventOptions, tokens = staticTokens(JSON.stringify({ token: TOKEN }))) {
  const deliverer = new RecordingDeliverer();
  const outcome = await verifyDelivery(
    toInboundRequest(apiEvent(options)),
    { tokens, deliverer, now: () => NOW },
    settings,
  );
  return { outcome, deliverer };
}

describe('verifyDelivery: bad inputs are refused with a specific answer and nothing is delivered', () => {
  const pretty = JSON.stringify(JSON.parse(BUILD_FINISHED), null, 2);
  it.each<[string, EventOptions, number, string]>([
    ['missing auth', { body: PING }, 401, 'missing_auth'],
    ['wrong token', { body: PING, headers: { 'X-Buildkite-Token': 'nope' } }, 401, 'invalid_token'],
    ['empty token', { body: PING, headers: { 'X-Buildkite-Token': '' } }, 401, 'invalid_token'],
    [
      'wrong signature',
      { body: PING, headers: { 'X-Buildkite-Signature': signatureHeader(PING, 'other-token') } },
      401,
      'invalid_signature',
    ],
    [
      'signature over re-serialised JSON instead of the raw bytes',
      { body: pretty, headers: { 'X-Buildkite-Signature': signatureHeader(BUILD_FINISHED) } },
      401,
      'invalid_signature',
    ],
    [
      'stale timestamp',
      { body: PING, headers: { 'X-Buildkite-Signature': signatureHeader(PING, TOKEN, NOW_SECONDS - 301) } },
      401,
      'signature_expired',
    ],
    [
      'future timestamp',
      { body: PING, headers: { 'X-Buildkite-Signature': signatureHeader(PING, TOKEN, NOW_SECONDS + 301) } },
      401,
      'signature_expired',
    ],
    [
      'malformed signature header',
      { body: PING, headers: { 'X-Buildkite-Signature': 'sha256=abc' } },
      401,
      'malformed_signature',
    ],
    [
      'token and signature together',
      { body: PING, headers: { 'X-Buildkite-Token': TOKEN, 'X-Buildkite-Signature': signatureHeader(PING) } },
      401,
      'ambiguous_auth',
    ],
    ['not JSON', { body: 'event=ping', headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'invalid_json'],
    [
      'JSON array',
      { body: '[{"event":"ping"}]', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'not_an_object',
    ],
    ['JSON string', { body: '"ping"', headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'not_an_object'],
    ['JSON null', { body: 'null', headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'not_an_object'],
    ['no event', { body: '{"build":{}}', headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'missing_event'],
    [
      'non-string event',
      { body: '{"event":5}', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'missing_event',
    ],
    [
      'empty type, no event',
      { body: '{"type":"","timestamp":"2026-01-01"}', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'missing_event',
    ],
    [
      'non-string type, no event',
      { body: '{"type":3}', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'missing_event',
    ],
    [
      'type with spaces',
      {
        body: '{"type":"passed on retry","timestamp":"2026-01-01"}',
        headers: { 'X-Buildkite-Token': TOKEN },
      },
      400,
      'invalid_type',
    ],
    [
      'type too long for a detail-type',
      {
        body: JSON.stringify({ type: 'a'.repeat(120), timestamp: '2026-01-01' }),
        headers: { 'X-Buildkite-Token': TOKEN },
      },
      400,
      'invalid_type',
    ],
    [
      'a type but no timestamp (not Test Engine: PagerDuty sends such bodies)',
      { body: '{"type":"incident_status_update","id":"x"}', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'missing_event',
    ],
    [
      'event present but not a string, with a type',
      { body: '{"event":null,"type":"passed_on_retry"}', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'missing_event',
    ],
    [
      'event with spaces',
      { body: '{"event":"build finished"}', headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'invalid_event',
    ],
    [
      'event too long',
      { body: JSON.stringify({ event: 'a'.repeat(129) }), headers: { 'X-Buildkite-Token': TOKEN } },
      400,
      'invalid_event',
    ],
    [
      'header/body event mismatch',
      { body: PING, headers: { 'X-Buildkite-Token': TOKEN, 'X-Buildkite-Event': 'build.finished' } },
      400,
      'event_mismatch',
    ],
    [
      'wrong content type',
      { body: PING, headers: { 'Content-Type': 'text/plain', 'X-Buildkite-Token': TOKEN } },
      415,
      'unsupported_media_type',
    ],
    [
      'form content type',
      {
        body: PING,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Buildkite-Token': TOKEN },
      },
      415,
      'unsupported_media_type',
    ],
    ['empty body', { body: '', headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'empty_body'],
    ['white-space body', { body: ' \n', headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'empty_body'],
    ['null body', { headers: { 'X-Buildkite-Token': TOKEN } }, 400, 'empty_body'],
    ['path token wrong', { body: PING, pathToken: 'not-the-token' }, 401, 'invalid_token'],
    [
      'too large',
      {
        body: JSON.stringify({ event: 'ping', pad: 'x'.repeat(1_000_000) }),
        headers: { 'X-Buildkite-Token': TOKEN },
      },
      413,
      'body_too_large',
    ],
  ])('%s → %i %s', async (_name, options, status, code) => {
    const { outcome, deliverer } = await run(options);
    expect(outcome.answer.statusCode).toBe(status);
    expect(outcome.answer.body).toEqual({ error: code, message: expect.any(String) });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('a request without Content-Type is refused with 415', async () => {
    const event = apiEvent({ body: PING, headers: { 'X-Buildkite-Token': TOKEN } });
    delete event.headers['Content-Type'];
    event.multiValueHeaders = {};
    const deliverer = new RecordingDeliverer();
    const outcome = await verifyDelivery(
      toInboundRequest(event),
      { tokens: staticTokens(TOKEN), deliverer },
      settings,
    );
    expect(outcome.answer.statusCode).toBe(415);
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('a token header sent twice with different values is ambiguous', async () => {
    const event = apiEvent({ body: PING });
    event.multiValueHeaders['X-Buildkite-Token'] = [TOKEN, 'other'];
    const deliverer = new RecordingDeliverer();
    const outcome = await verifyDelivery(
      toInboundRequest(event),
      { tokens: staticTokens(TOKEN), deliverer },
      settings,
    );
    expect(outcome.answer.body).toMatchObject({ error: 'ambiguous_auth' });
  });

  it('no answer or message ever contains the token or the signature', async () => {
    const header = signatureHeader(PING, 'wrong');
    const cases: EventOptions[] = [
      { body: PING, headers: { 'X-Buildkite-Token': 'wrong-token-value' } },
      { body: PING, headers: { 'X-Buildkite-Signature': header } },
      { body: PING, pathToken: 'wrong-path-token' },
    ];
    for (const options of cases) {
      const { outcome } = await run(options);
      const text = JSON.stringify(outcome);
      expect(text).not.toContain('wrong-token-value');
      expect(text).not.toContain('wrong-path-token');
      expect(text).not.toContain(header.split('signature=')[1]);
      expect(text).not.toContain(TOKEN);
    }
  });
});

describe('verifyDelivery: accepted deliveries', () => {
  it.each<[string, EventOptions, string]>([
    ['token header', { body: BUILD_FINISHED, headers: { 'X-Buildkite-Token': TOKEN } }, 'token'],
    [
      'lower-case header names',
      { body: BUILD_FINISHED, headers: { 'content-type': 'application/json', 'x-buildkite-token': TOKEN } },
      'token',
    ],
    [
      'signature',
      { body: BUILD_FINISHED, headers: { 'X-Buildkite-Signature': signatureHeader(BUILD_FINISHED) } },
      'signature',
    ],
    ['path token', { body: BUILD_FINISHED, pathToken: TOKEN }, 'path-token'],
    [
      'charset in content type',
      {
        body: BUILD_FINISHED,
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Buildkite-Token': TOKEN },
      },
      'token',
    ],
    [
      'matching event header',
      {
        body: BUILD_FINISHED,
        headers: { 'X-Buildkite-Token': TOKEN, 'X-Buildkite-Event': 'build.finished' },
      },
      'token',
    ],
    [
      'base64 body (signature over the decoded bytes)',
      {
        body: Buffer.from(BUILD_FINISHED).toString('base64'),
        isBase64Encoded: true,
        headers: { 'X-Buildkite-Signature': signatureHeader(BUILD_FINISHED) },
      },
      'signature',
    ],
  ])('%s', async (_name, options, auth) => {
    const { outcome, deliverer } = await run(options);
    expect(outcome.answer).toEqual({ statusCode: 202, body: { id: 'req-1', status: 'published' } });
    expect(deliverer.delivered).toHaveLength(1);
    const [delivered] = deliverer.delivered;
    expect(delivered?.body).toEqual(JSON.parse(BUILD_FINISHED));
    expect(delivered?.delivery).toEqual({
      receivedAt: NOW.toISOString(),
      requestId: 'req-1',
      // build.finished is keyed by build and state, so a reconciled copy shares the key.
      dedupeKey: buildFinishedDedupeKey((JSON.parse(BUILD_FINISHED) as { build: unknown }).build),
      auth,
      sourceIp: '192.0.2.10',
      ...(auth === 'signature' ? { signedAt: NOW.toISOString() } : {}),
    });
  });

  it('accepts the previous token during a rotation', async () => {
    const tokens = staticTokens(JSON.stringify({ token: 'new-token', previousToken: TOKEN }));
    const { outcome } = await run({ body: PING, headers: { 'X-Buildkite-Token': TOKEN } }, tokens);
    expect(outcome.answer.statusCode).toBe(202);
  });

  it('picks up a rotated token with one forced refetch', async () => {
    const values = ['{"token":"old"}', '{"token":"new"}'];
    const calls: boolean[] = [];
    const tokens = new TokenSource(async (fresh) => {
      calls.push(fresh);
      return fresh ? (values[1] as string) : (values[0] as string);
    });
    const { outcome } = await run({ body: PING, headers: { 'X-Buildkite-Token': 'new' } }, tokens);
    expect(outcome.answer.statusCode).toBe(202);
    expect(calls).toEqual([false, true]);
  });

  it('answers 503 auth_unavailable, not 401, when the secret cannot be read', async () => {
    const tokens = new TokenSource(async () => {
      throw new Error('AccessDeniedException');
    });
    const { outcome, deliverer } = await run({ body: PING, headers: { 'X-Buildkite-Token': TOKEN } }, tokens);
    expect(outcome.answer).toMatchObject({ statusCode: 503, body: { error: 'auth_unavailable' } });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('answers 503 persist_failed when the deliverer fails', async () => {
    const deliverer = new RecordingDeliverer(new Error('down'));
    const outcome = await verifyDelivery(
      toInboundRequest(apiEvent({ body: PING, headers: { 'X-Buildkite-Token': TOKEN } })),
      { tokens: staticTokens(TOKEN), deliverer },
      settings,
    );
    expect(outcome.answer).toMatchObject({ statusCode: 503, body: { error: 'persist_failed' } });
  });
});

describe('verifyDelivery: Test Engine monitor bodies (no "event", a "type")', () => {
  const MONITOR = JSON.stringify({
    type: 'passed_on_retry',
    timestamp: '2026-11-01T00:00:00Z',
    test: { name: 't' },
  });

  it.each<[string, EventOptions]>([
    ['token', { body: MONITOR, headers: { 'X-Buildkite-Token': TOKEN } }],
    ['signature', { body: MONITOR, headers: { 'X-Buildkite-Signature': signatureHeader(MONITOR) } }],
    ['path token', { body: MONITOR, pathToken: TOKEN }],
    [
      'header naming the type',
      { body: MONITOR, pathToken: TOKEN, headers: { 'X-Buildkite-Event': 'passed_on_retry' } },
    ],
    [
      'header naming the detail-type',
      { body: MONITOR, pathToken: TOKEN, headers: { 'X-Buildkite-Event': 'workflow.passed_on_retry' } },
    ],
  ])('are delivered as workflow.<type> (%s)', async (_name, options) => {
    const { outcome, deliverer } = await run(options);
    expect(outcome.answer.statusCode).toBe(202);
    expect(outcome.event).toBe('workflow.passed_on_retry');
    expect(deliverer.delivered).toEqual([
      expect.objectContaining({ kind: 'buildkite', detailType: 'workflow.passed_on_retry', text: MONITOR }),
    ]);
  });

  it('a header naming another event is a mismatch', async () => {
    const { outcome, deliverer } = await run({
      body: MONITOR,
      pathToken: TOKEN,
      headers: { 'X-Buildkite-Event': 'workflow.alarm' },
    });
    expect(outcome.answer.body).toMatchObject({ error: 'event_mismatch' });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('a body with "event" keeps its event name even when it also has a "type"', async () => {
    const body = JSON.stringify({ event: 'workflow.alarm', type: 'transition_count', timestamp: 'x' });
    const { outcome } = await run({ body, headers: { 'X-Buildkite-Token': TOKEN } });
    expect(outcome.event).toBe('workflow.alarm');
  });
});

describe('deliveryJson', () => {
  it('is JSON.stringify of the delivery metadata literal, for any request id, key and address', () => {
    const iso = fc.date({ noInvalidDate: true }).map((date) => date.toISOString());
    fc.assert(
      fc.property(
        iso,
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.constantFrom('token', 'signature', 'path-token' as const),
        fc.option(iso, { nil: undefined }),
        fc.string({ unit: 'binary' }),
        (receivedAt, requestId, dedupeKey, auth, signedAt, sourceIp) => {
          const literal =
            signedAt !== undefined
              ? { receivedAt, requestId, dedupeKey, auth, signedAt, sourceIp }
              : { receivedAt, requestId, dedupeKey, auth, sourceIp };
          expect(deliveryJson(receivedAt, requestId, dedupeKey, auth, signedAt, sourceIp)).toBe(
            JSON.stringify(literal),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});
