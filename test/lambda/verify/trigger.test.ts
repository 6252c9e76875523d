import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createHash } from 'node:crypto';
import type { TriggerDetail } from '../../../lambda/shared/contract';
import { triggerDetailText } from '../../../lambda/verify/event-publishing';
import { bodyHmac } from '../../../lambda/verify/trigger-auth';
import { type TriggerDefinition } from '../../../lambda/shared/triggers';
import { apiEvent, NOW, TOKEN } from '../../../support/api-event';
import { recordingEventDeliverer, verifiedTrigger } from '../../support/event-deliverer';
import { runTrigger, SETTINGS, triggerEvent } from './trigger-support';

const SECRET = 'gh-shared-secret';
const DEFINITIONS: readonly TriggerDefinition[] = [
  { name: 'github-deploy', kind: 'github' },
  { name: 'linear', kind: 'linear' },
];
const pr = JSON.stringify({ action: 'closed', pull_request: { merged: true, number: 7 } });
const sign = (body: string) => `sha256=${bodyHmac(SECRET, Buffer.from(body), 'hex')}`;

/** Runs one request through the verify function's core with a GitHub and a Linear trigger keyed with SECRET. */
const run = (event: APIGatewayProxyEvent) => runTrigger(event, DEFINITIONS, SETTINGS, SECRET);

describe('trigger requests', () => {
  it('publishes a verified GitHub request with the payload, safe headers and the delivery id as dedupe key', async () => {
    const { outcome, deliverer } = await run(
      triggerEvent('github-deploy', pr, {
        'X-Hub-Signature-256': sign(pr),
        'X-GitHub-Event': 'pull_request',
        'X-GitHub-Delivery': 'd-123',
        Authorization: 'Bearer should-not-travel',
      }),
    );
    expect(outcome.answer).toEqual({ statusCode: 202, body: { id: 'req-1', status: 'published' } });
    const delivered = deliverer.delivered[0];
    expect(delivered).toMatchObject({
      kind: 'trigger',
      trigger: 'github-deploy',
      body: JSON.parse(pr),
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-github-delivery': 'd-123',
      },
      delivery: { dedupeKey: 'github:d-123', auth: 'github' },
    });
    expect(JSON.stringify(delivered?.kind === 'trigger' ? delivered.headers : {})).not.toMatch(
      /authorization|hub-signature/i,
    );
  });

  it('uses the body hash as dedupe key when the sender sends no delivery id', async () => {
    const { deliverer } = await run(triggerEvent('github-deploy', pr, { 'X-Hub-Signature-256': sign(pr) }));
    expect(deliverer.delivered[0]?.delivery.dedupeKey).toBe(createHash('sha256').update(pr).digest('hex'));
  });

  it.each<[string, APIGatewayProxyEvent, number, string]>([
    [
      'unknown trigger',
      triggerEvent('nope', pr, { 'X-Hub-Signature-256': sign(pr) }),
      404,
      'unknown_trigger',
    ],
    ['missing signature', triggerEvent('github-deploy', pr, {}), 401, 'missing_auth'],
    [
      'wrong secret',
      triggerEvent('github-deploy', pr, {
        'X-Hub-Signature-256': `sha256=${bodyHmac('x', Buffer.from(pr), 'hex')}`,
      }),
      401,
      'invalid_signature',
    ],
    [
      'wrong prefix',
      triggerEvent('github-deploy', pr, { 'X-Hub-Signature-256': bodyHmac(SECRET, Buffer.from(pr), 'hex') }),
      401,
      'malformed_signature',
    ],
    [
      'not JSON',
      triggerEvent('github-deploy', 'a=b', { 'X-Hub-Signature-256': sign('a=b') }),
      400,
      'invalid_json',
    ],
    [
      'not JSON content type',
      triggerEvent('github-deploy', pr, {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Hub-Signature-256': sign(pr),
      }),
      415,
      'unsupported_media_type',
    ],
    [
      'stale Linear timestamp',
      (() => {
        const body = JSON.stringify({ action: 'create', webhookTimestamp: NOW.getTime() - 61_000 });
        return triggerEvent('linear', body, {
          'Linear-Signature': bodyHmac(SECRET, Buffer.from(body), 'hex'),
        });
      })(),
      401,
      'signature_expired',
    ],
  ])('%s → %i %s, nothing published', async (_name, event, status, code) => {
    const { outcome, deliverer } = await run(event);
    expect(outcome.answer).toMatchObject({ statusCode: status, body: { error: code } });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('accepts a fresh Linear request', async () => {
    const body = JSON.stringify({ action: 'create', webhookTimestamp: NOW.getTime() - 5_000 });
    const { outcome } = await run(
      triggerEvent('linear', body, {
        'Linear-Signature': bodyHmac(SECRET, Buffer.from(body), 'hex'),
        'Linear-Delivery': 'l-1',
      }),
    );
    expect(outcome.answer.statusCode).toBe(202);
  });

  it('a Buildkite token does not open a trigger, and a trigger secret does not open /buildkite', async () => {
    const viaTrigger = await run(
      triggerEvent('github-deploy', pr, {
        'X-Hub-Signature-256': `sha256=${bodyHmac(TOKEN, Buffer.from(pr), 'hex')}`,
      }),
    );
    expect(viaTrigger.outcome.answer.statusCode).toBe(401);
    const viaBuildkite = await run(
      apiEvent({ body: '{"event":"ping"}', headers: { 'X-Buildkite-Token': SECRET } }),
    );
    expect(viaBuildkite.outcome.answer.statusCode).toBe(401);
  });
});

describe('trigger event detail', () => {
  it('is { trigger, headers, delivery, payload } with the payload spliced in unchanged', () => {
    const verified = verifiedTrigger('t', '{ "a" : [1, 2] }', { headers: { 'x-github-event': 'push' } });
    const detail = JSON.parse(triggerDetailText(verified)) as TriggerDetail;
    expect(detail).toEqual({
      trigger: 't',
      headers: { 'x-github-event': 'push' },
      delivery: verified.delivery,
      payload: { a: [1, 2] },
    });
  });

  it('publishes source kitebridge.trigger and detail-type trigger.<name>, with a pointer when oversized', async () => {
    const { deliverer, published } = recordingEventDeliverer();
    const big = JSON.stringify({ blob: 'x'.repeat(300_000) });
    for (const text of ['{"a":1}', big]) await deliverer.deliver(verifiedTrigger('gh', text));
    expect(published.map((e) => [e.source, e.detailType])).toEqual([
      ['kitebridge.trigger', 'trigger.gh'],
      ['kitebridge.trigger', 'trigger.gh'],
    ]);
    const pointer = JSON.parse(published[1]?.detail ?? '{}') as TriggerDetail;
    expect(pointer.payload).toBeUndefined();
    expect(pointer.delivery.oversized).toMatchObject({ bucket: 'bodies', bytes: Buffer.byteLength(big) });
  });
});
