import githubExamples from '@octokit/webhooks-examples';
import { matchesPattern } from '../../../lambda/shared/event-pattern';
import { triggerEvents, type BusEntry, type EventEnvelope } from '../../../lambda/shared/contract';
import { pingOf } from '../../../lambda/verify/trigger';
import type { TriggerDefinition } from '../../../lambda/shared/triggers';
import { NOW } from '../../../support/api-event';
import { recordingEventDeliverer, verifiedTrigger } from '../../support/event-deliverer';
import { credentialsFor, runTrigger, TRIGGER_OF_KIND, triggerEvent, WRONG_SECRET } from './trigger-support';

/** GitHub's own ping bodies (the payload a webhook sends when it is saved), from @octokit/webhooks-examples. */
const GITHUB_PINGS = githubExamples.find((event) => event.name === 'ping')?.examples ?? [];
const PULL_REQUEST = githubExamples.find((event) => event.name === 'pull_request')?.examples[0];
const PAGEY_PING = JSON.stringify({
  event: {
    id: '01FKZOXA868SHYEE4DVNWB5P9W',
    event_type: 'pagey.ping',
    resource_type: 'pagey',
    occurred_at: '2026-11-23T11:59:55.532Z',
    agent: { id: 'PVE0ZR9', type: 'user_reference' },
    client: null,
    data: { message: 'Hello from your friend Pagey!', type: 'ping' },
  },
});
/** What Svix's "Send example" of the svix.ping event type posts. */
const SVIX_PING = '{"success": true}';

const github = TRIGGER_OF_KIND.github;

/** A verified request of `definition`'s kind, with extra headers. */
function signedEvent(definition: TriggerDefinition, body: string, headers: Record<string, string> = {}) {
  return triggerEvent(definition.name, body, { ...credentialsFor(definition, body), ...headers });
}

describe('pings: verified, answered 2xx, recorded as trigger.<name>.ping, never relayed', () => {
  it('has real GitHub ping examples to test with', () => {
    expect(GITHUB_PINGS.length).toBeGreaterThan(0);
  });

  it.each(GITHUB_PINGS.map((body, i) => [i, JSON.stringify(body)] as const))(
    "GitHub's ping example %i is recorded as a ping",
    async (_i, body) => {
      const { outcome, deliverer } = await runTrigger(
        signedEvent(github, body, { 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': 'ping-1' }),
      );
      expect(outcome.answer).toMatchObject({
        statusCode: 202,
        body: {
          id: 'req-1',
          status: 'published',
          ping: true,
          message: expect.stringMatching(/^GitHub's ping/),
        },
      });
      expect(outcome.event).toBe('trigger.github-deploy.ping');
      expect(deliverer.delivered).toHaveLength(1);
      expect(deliverer.delivered[0]).toMatchObject({
        kind: 'trigger',
        trigger: 'github-deploy',
        detailType: 'trigger.github-deploy.ping',
        headers: { 'x-github-event': 'ping' },
        delivery: { auth: 'github', dedupeKey: 'github:ping-1' },
      });
    },
  );

  it('a ping with a bad signature is still 401, and nothing is recorded', async () => {
    const body = JSON.stringify(GITHUB_PINGS[0]);
    const { outcome, deliverer } = await runTrigger(
      triggerEvent(github.name, body, {
        ...credentialsFor(github, body, { secret: WRONG_SECRET }),
        'X-GitHub-Event': 'ping',
      }),
    );
    expect(outcome.answer).toMatchObject({ statusCode: 401, body: { error: 'invalid_signature' } });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('an unsigned ping is 401 too', async () => {
    const { outcome, deliverer } = await runTrigger(
      triggerEvent(github.name, JSON.stringify(GITHUB_PINGS[0]), { 'X-GitHub-Event': 'ping' }),
    );
    expect(outcome.answer).toMatchObject({ statusCode: 401, body: { error: 'missing_auth' } });
    expect(deliverer.delivered).toHaveLength(0);
  });

  it('a real pull_request delivery is not a ping', async () => {
    const body = JSON.stringify(PULL_REQUEST);
    const { outcome, deliverer } = await runTrigger(
      signedEvent(github, body, { 'X-GitHub-Event': 'pull_request' }),
    );
    expect(outcome.answer).toEqual({ statusCode: 202, body: { id: 'req-1', status: 'published' } });
    expect(outcome.event).toBe('trigger.github-deploy');
    expect(deliverer.delivered[0]).not.toHaveProperty('detailType');
  });

  it.each<[string, TriggerDefinition, string, Record<string, string>, string | undefined]>([
    [
      "PagerDuty's pagey.ping on an hmac-sha256 trigger",
      TRIGGER_OF_KIND['hmac-sha256'],
      PAGEY_PING,
      {},
      "PagerDuty's pagey.ping",
    ],
    [
      "PagerDuty's pagey.ping on a token trigger",
      TRIGGER_OF_KIND.token,
      PAGEY_PING,
      {},
      "PagerDuty's pagey.ping",
    ],
    [
      "Svix's svix.ping example on a standard-webhooks trigger",
      TRIGGER_OF_KIND['standard-webhooks'],
      SVIX_PING,
      {},
      'The svix.ping test message',
    ],
    [
      'a svix.ping-typed message on a standard-webhooks trigger',
      TRIGGER_OF_KIND['standard-webhooks'],
      JSON.stringify({ type: 'svix.ping', data: {} }),
      {},
      'The svix.ping test message',
    ],
    [
      '{"success": true} on a token trigger (means nothing there)',
      TRIGGER_OF_KIND.token,
      SVIX_PING,
      {},
      undefined,
    ],
    [
      'a Standard Webhooks event with more than success',
      TRIGGER_OF_KIND['standard-webhooks'],
      JSON.stringify({ success: true, type: 'deployment.approved' }),
      {},
      undefined,
    ],
    [
      "GitHub's ping on an hmac-sha256 trigger reading X-Hub-Signature-256",
      { name: 'github-generic', kind: 'hmac-sha256', header: 'X-Hub-Signature-256' },
      JSON.stringify(GITHUB_PINGS[0]),
      { 'X-GitHub-Event': 'ping' },
      "GitHub's ping",
    ],
    [
      'a Linear delivery (Linear documents no ping)',
      TRIGGER_OF_KIND.linear,
      JSON.stringify({ action: 'create', type: 'Issue', webhookTimestamp: NOW.getTime() }),
      { 'Linear-Event': 'Issue' },
      undefined,
    ],
  ])('%s', async (_name, definition, body, headers, ping) => {
    const { outcome, deliverer } = await runTrigger(signedEvent(definition, body, headers), [definition]);
    expect(outcome.answer.statusCode).toBe(202);
    expect(outcome.answer.body.ping).toBe(ping === undefined ? undefined : true);
    if (ping) expect(outcome.answer.body.message).toMatch(new RegExp(`^${ping}`));
    const delivered = deliverer.delivered[0];
    expect(delivered?.kind === 'trigger' ? delivered.detailType : 'not a trigger').toBe(
      ping ? `trigger.${definition.name}.ping` : undefined,
    );
  });

  it('pingOf reads the sender documents only, not look-alikes', () => {
    expect(pingOf('github', { 'x-github-event': 'pull_request' }, { zen: 'x' })).toBeUndefined();
    expect(pingOf('token', {}, { event: { event_type: 'incident.triggered' } })).toBeUndefined();
    expect(pingOf('token', {}, { event_type: 'pagey.ping' })).toBeUndefined();
    expect(pingOf('standard-webhooks', {}, [{ success: true }])).toBeUndefined();
    expect(pingOf('standard-webhooks', {}, { success: 'true' })).toBeUndefined();
  });
});

describe('no relay rule matches a ping', () => {
  /** What EventDeliverer puts on the bus for a verified request, as the envelope a rule sees. */
  async function published(detailType?: string): Promise<EventEnvelope> {
    const { deliverer, published: entries } = recordingEventDeliverer();
    await deliverer.deliver(
      verifiedTrigger('github-deploy', JSON.stringify(GITHUB_PINGS[0]), {
        headers: { 'x-github-event': 'ping' },
        ...(detailType ? { detailType } : {}),
      }),
    );
    const entry = entries[0] as BusEntry;
    return {
      version: '0',
      id: 'event-id',
      'detail-type': entry.detailType,
      source: entry.source,
      account: '123456789012',
      time: entry.time ?? NOW.toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: JSON.parse(entry.detail) as Record<string, unknown>,
    };
  }

  it('the relay pattern of the trigger (with or without a filter) skips the ping but the archive pattern keeps it', async () => {
    const ping = await published('trigger.github-deploy.ping');
    const request = await published();
    expect(ping).toMatchObject({ source: 'kitebridge.trigger', 'detail-type': 'trigger.github-deploy.ping' });
    for (const filter of [undefined, { zen: [{ exists: true }] }]) {
      const relay = triggerEvents('github-deploy', filter);
      expect(matchesPattern(relay, request as unknown as Record<string, unknown>)).toBe(true);
      expect(matchesPattern(relay, ping as unknown as Record<string, unknown>)).toBe(false);
    }
    expect(
      matchesPattern({ source: ['kitebridge.trigger'] }, ping as unknown as Record<string, unknown>),
    ).toBe(true);
  });
});
