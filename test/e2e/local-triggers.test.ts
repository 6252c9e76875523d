import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { EventEnvelope, TriggerDetail } from '../../lambda/shared/contract';
import { triggerEvents } from '../../lambda/shared/contract';
import { parseConfig } from '../../lib/config';
import { PROJECT_ROOT, send } from '../../local/send';
import { startLocal, type LocalKitebridge } from '../../local/server';
import { triggerSendOptions } from '../support/trigger-send';

const TRIGGERS = [
  { name: 'github-deploy', kind: 'github' as const, filter: { pull_request: { merged: [true] } } },
  { name: 'pagerduty', kind: 'token' as const, header: 'X-PD-Token' },
  { name: 'linear', kind: 'linear' as const },
  { name: 'generic', kind: 'hmac-sha256' as const, header: 'X-Sig', encoding: 'base64' as const },
  { name: 'svix-app', kind: 'standard-webhooks' as const },
];

describe('pipeline triggers end to end (npm run send --trigger → local gateway → local bus rules)', () => {
  let local: LocalKitebridge;
  let dataDir: string;
  const all: EventEnvelope[] = [];
  const merged: EventEnvelope[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-triggers-'));
    local = await startLocal({
      config: parseConfig({ webhookIps: ['127.0.0.1/32'], triggers: TRIGGERS }),
      dataDir,
      rules: [
        { id: 'AllTriggers', pattern: { source: ['kitebridge.trigger'] }, target: (e) => void all.push(e) },
        // The same pattern the relay's rule for this trigger uses: its content filter applied.
        {
          id: 'MergedPrs',
          pattern: triggerEvents('github-deploy', TRIGGERS[0]?.filter),
          target: (e) => void merged.push(e),
        },
      ],
    });
  });

  afterAll(async () => {
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    all.length = 0;
    merged.length = 0;
  });

  const sendTrigger = async (name: string, fixture: string, secret = local.token) => {
    const answer = await send(triggerSendOptions(local, TRIGGERS, name, fixture, secret));
    await local.bus.drain();
    return answer;
  };

  it.each([
    ['github-deploy', 'github-pull_request', 'github'],
    ['pagerduty', 'pagerduty-incident', 'token'],
    ['linear', 'linear-issue', 'linear'],
    ['generic', 'pagerduty-incident', 'hmac-sha256'],
    ['svix-app', 'standard-webhooks-deployment', 'standard-webhooks'],
  ])('%s (%s fixture) is verified as %s and published as trigger.<name>', async (name, fixture, auth) => {
    const answer = await sendTrigger(name, fixture);
    expect(answer.status).toBe(202);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ source: 'kitebridge.trigger', 'detail-type': `trigger.${name}` });
    const detail = all[0]?.detail as unknown as TriggerDetail;
    expect(detail).toMatchObject({ trigger: name, delivery: { auth } });
    expect(detail.payload).toEqual(expect.any(Object));
  });

  it('the content filter selects merged pull requests only', async () => {
    await sendTrigger('github-deploy', 'github-pull_request');
    expect(merged).toHaveLength(1);
    expect((merged[0]?.detail as unknown as TriggerDetail).headers['x-github-event']).toBe('pull_request');
  });

  it('a wrong secret is refused and nothing is published; an unknown trigger is 404', async () => {
    const wrong = await sendTrigger('github-deploy', 'github-pull_request', 'not-the-secret');
    expect(wrong.status).toBe(401);
    const unknown = await fetch(`${local.url}/triggers/nope`, {
      method: 'POST',
      body: '{}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'unknown_trigger' });
    expect(all).toHaveLength(0);
  });
});

describe('pings and Standard Webhooks through the local gateway', () => {
  let local: LocalKitebridge;
  let dataDir: string;
  const all: EventEnvelope[] = [];
  const relayed: EventEnvelope[] = [];
  const triggers = [
    { name: 'github-any', kind: 'github' as const },
    { name: 'svix-app', kind: 'standard-webhooks' as const },
  ];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-pings-'));
    local = await startLocal({
      config: parseConfig({ webhookIps: ['127.0.0.1/32'], triggers }),
      dataDir,
      rules: [
        { id: 'AllTriggers', pattern: { source: ['kitebridge.trigger'] }, target: (e) => void all.push(e) },
        ...triggers.map((t) => ({
          id: `Relay-${t.name}`,
          pattern: triggerEvents(t.name),
          target: (e: EventEnvelope) => void relayed.push(e),
        })),
      ],
    });
  });

  afterAll(async () => {
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    all.length = 0;
    relayed.length = 0;
  });

  const post = async (name: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(`${local.url}/triggers/${name}`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', ...headers },
    });
    await local.bus.drain();
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("records GitHub's ping (npm run send -- github-ping) as trigger.<name>.ping, which the relay rule skips", async () => {
    const options = triggerSendOptions(local, triggers, 'github-any', 'github-ping');
    const answer = await send(options);
    await local.bus.drain();
    expect(answer.status).toBe(202);
    expect(JSON.parse(answer.body)).toMatchObject({ ping: true });
    expect(all.map((e) => e['detail-type'])).toEqual(['trigger.github-any.ping']);
    expect(relayed).toHaveLength(0);

    // The same trigger's pull request is relayed: the rule is live, only the ping is skipped.
    const pr = triggerSendOptions(local, triggers, 'github-any', 'github-pull_request');
    expect((await send(pr)).status).toBe(202);
    await local.bus.drain();
    expect(relayed.map((e) => e['detail-type'])).toEqual(['trigger.github-any']);
  });

  it('answers a wrongly signed GitHub request in GitHub terms', async () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const answer = await post('github-any', body, {
      'X-GitHub-Event': 'ping',
      'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}`,
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_signature');
    expect(answer.body.message).toContain('X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>');
    expect(answer.body.message).not.toMatch(/buildkite/i);
    expect(all).toHaveLength(0);
  });

  it('accepts a message signed by the Standard Webhooks reference library, and refuses a tampered one', async () => {
    const body = readFileSync(
      path.join(PROJECT_ROOT, 'fixtures/triggers/standard-webhooks-deployment.json'),
      'utf8',
    );
    const id = 'msg_e2e_1';
    const time = new Date();
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(time.getTime() / 1000)),
      'webhook-signature': new Webhook(local.token).sign(id, time, body),
    };
    const ok = await post('svix-app', body, headers);
    expect(ok.status).toBe(202);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({
      'detail-type': 'trigger.svix-app',
      detail: { delivery: { auth: 'standard-webhooks', dedupeKey: `standard-webhooks:${id}` } },
    });
    expect(relayed).toHaveLength(1);

    const tampered = await post('svix-app', body.replace('production', 'staging'), headers);
    expect(tampered.status).toBe(401);
    expect(tampered.body.error).toBe('invalid_signature');
    expect(tampered.body.message).toContain('webhook-signature: v1,<base64 HMAC-SHA256');
    expect(all).toHaveLength(1);
  });

  it("records Svix's svix.ping test message without relaying it", async () => {
    const body = '{"success": true}';
    const time = new Date();
    const answer = await post('svix-app', body, {
      'svix-id': 'msg_ping_1',
      'svix-timestamp': String(Math.floor(time.getTime() / 1000)),
      'svix-signature': new Webhook(local.token).sign('msg_ping_1', time, body),
    });
    expect(answer.status).toBe(202);
    expect(all.map((e) => e['detail-type'])).toEqual(['trigger.svix-app.ping']);
    expect(relayed).toHaveLength(0);
  });
});
