import { Webhook } from 'standardwebhooks';
import { NOW } from '../../../support/api-event';
import { credentialsFor, runTrigger, TRIGGER_OF_KIND, triggerEvent } from './trigger-support';

/**
 * A `standard-webhooks` trigger end to end through the verify function's core. Every signature
 * here is made by the spec's reference library (`standardwebhooks` on npm).
 */
const trigger = TRIGGER_OF_KIND['standard-webhooks'];
const BODY = JSON.stringify({
  type: 'deployment.approved',
  timestamp: '2026-11-23T11:58:02Z',
  data: { id: 'dep_1' },
});
const run = (headers: Record<string, string | readonly string[]>, body = BODY) =>
  runTrigger(triggerEvent(trigger.name, body, headers), [trigger]);

describe('standard-webhooks trigger requests', () => {
  it('publishes a verified message with webhook-id as dedupe key and the identifying headers, never the signature', async () => {
    const { outcome, deliverer } = await run(credentialsFor(trigger, BODY));
    expect(outcome.answer).toEqual({ statusCode: 202, body: { id: 'req-1', status: 'published' } });
    expect(deliverer.delivered[0]).toMatchObject({
      kind: 'trigger',
      trigger: 'svix-app',
      body: JSON.parse(BODY),
      headers: {
        'webhook-id': 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
        'webhook-timestamp': String(NOW.getTime() / 1000),
      },
      delivery: { auth: 'standard-webhooks', dedupeKey: 'standard-webhooks:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W' },
    });
    expect(JSON.stringify(deliverer.delivered[0])).not.toContain('v1,');
  });

  it('keeps the dedupe key when the sender retries the message later (new timestamp, new signature)', async () => {
    const first = await run(credentialsFor(trigger, BODY));
    const retry = await run(credentialsFor(trigger, BODY, { time: new Date(NOW.getTime() - 120_000) }));
    expect(retry.outcome.answer.statusCode).toBe(202);
    expect(retry.deliverer.delivered[0]?.delivery.dedupeKey).toBe(
      first.deliverer.delivered[0]?.delivery.dedupeKey,
    );
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'refuses a message without %s',
    async (header) => {
      const headers = credentialsFor(trigger, BODY);
      delete headers[header];
      const { outcome, deliverer } = await run(headers);
      expect(outcome.answer).toMatchObject({ statusCode: 401, body: { error: 'missing_auth' } });
      expect(outcome.answer.body.message).toContain(header);
      expect(deliverer.delivered).toHaveLength(0);
    },
  );

  it.each([
    ['a tampered body', credentialsFor(trigger, BODY), BODY.replace('dep_1', 'dep_2'), 'invalid_signature'],
    [
      'another secret',
      credentialsFor(trigger, BODY, { secret: 'whsec_' + 'A'.repeat(32) }),
      BODY,
      'invalid_signature',
    ],
    [
      'an expired timestamp',
      credentialsFor(trigger, BODY, { time: new Date(NOW.getTime() - 301_000) }),
      BODY,
      'signature_expired',
    ],
    [
      'a future timestamp',
      credentialsFor(trigger, BODY, { time: new Date(NOW.getTime() + 301_000) }),
      BODY,
      'signature_expired',
    ],
  ])('refuses %s', async (_name, headers, body, code) => {
    const { outcome, deliverer } = await run(headers, body);
    expect(outcome.answer).toMatchObject({ statusCode: 401, body: { error: code } });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('accepts several signatures when one v1 matches (the sender rotating its secret)', async () => {
    const headers = credentialsFor(trigger, BODY);
    const old = new Webhook('whsec_' + 'B'.repeat(32)).sign(headers['webhook-id'] as string, NOW, BODY);
    const { outcome } = await run({
      ...headers,
      'webhook-signature': `${old} ${headers['webhook-signature']}`,
    });
    expect(outcome.answer.statusCode).toBe(202);
  });

  it('accepts the Svix-branded names svix-id, svix-timestamp and svix-signature', async () => {
    const headers = credentialsFor(trigger, BODY);
    const { outcome, deliverer } = await run({
      'svix-id': headers['webhook-id'] as string,
      'svix-timestamp': headers['webhook-timestamp'] as string,
      'svix-signature': headers['webhook-signature'] as string,
    });
    expect(outcome.answer.statusCode).toBe(202);
    expect(deliverer.delivered[0]?.delivery.dedupeKey).toBe(
      'standard-webhooks:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    );
  });

  it('refuses a header sent twice with different values, under either name', async () => {
    const headers = credentialsFor(trigger, BODY);
    const twice = await run({ ...headers, 'webhook-id': [headers['webhook-id'] as string, 'msg_other'] });
    expect(twice.outcome.answer).toMatchObject({ statusCode: 401, body: { error: 'ambiguous_auth' } });
    const mixed = await run({ ...headers, 'svix-id': 'msg_other' });
    expect(mixed.outcome.answer).toMatchObject({ statusCode: 401, body: { error: 'ambiguous_auth' } });
  });
});
