import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { EventEnvelope, TriggerDetail } from '../../lambda/shared/contract';
import { triggerEvents } from '../../lambda/shared/contract';
import { parseConfig } from '../../lib/config';
import { parseArgs, send } from '../../local/send';
import { startLocal, type LocalKitebridge } from '../../local/server';

const TRIGGERS = [
  { name: 'github-deploy', kind: 'github' as const, filter: { pull_request: { merged: [true] } } },
  { name: 'pagerduty', kind: 'token' as const, header: 'X-PD-Token' },
  { name: 'linear', kind: 'linear' as const },
  { name: 'generic', kind: 'hmac-sha256' as const, header: 'X-Sig', encoding: 'base64' as const },
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
    const options = parseArgs(
      [fixture, '--trigger', name, '--token', secret, '--url', `${local.url}/triggers/${name}`],
      {},
      {
        triggers: TRIGGERS,
      },
    );
    const answer = await send(options);
    await local.bus.drain();
    return answer;
  };

  it.each([
    ['github-deploy', 'github-pull_request', 'github'],
    ['pagerduty', 'pagerduty-incident', 'token'],
    ['linear', 'linear-issue', 'linear'],
    ['generic', 'pagerduty-incident', 'hmac-sha256'],
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
