import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { validatePattern } from '../../../lambda/shared/event-pattern';
import { LocalSecretStore } from '../../../local/adapters/local-secret-store';
import { consumerSnippet, secretValues } from '../../../local/console/app';
import { Journal, type Delivery } from '../../../local/console/journal';
import { startLocal } from '../../../local/server';
import { parseConfig } from '../../../lib/config';
import { runLocal, type RunningLocal } from '../../../local/start';

describe('secretValues', () => {
  it('masks a URL whole, its path and query, its query values and long path segments, not short words', () => {
    const values = secretValues([
      'tok',
      'https://hooks.slack.com/services/T000/B000/abcdefghijklmnopqrstuvwx',
      'https://example.webhook.office.com/workflows/run?sig=s3cr3tsignature&api-version=1',
    ]);
    expect(values).toEqual(
      expect.arrayContaining([
        'https://hooks.slack.com/services/T000/B000/abcdefghijklmnopqrstuvwx',
        '/services/T000/B000/abcdefghijklmnopqrstuvwx',
        'abcdefghijklmnopqrstuvwx',
        's3cr3tsignature',
      ]),
    );
    expect(values).not.toContain('services');
    expect(values).not.toContain('tok');
    // Longest first, so a secret holding another is replaced whole.
    expect([...values].sort((a, b) => b.length - a.length)).toEqual(values);
  });
});

describe('consumerSnippet', () => {
  it("is the README's addConsumer form with the pattern as given", () => {
    const pattern = { 'detail-type': ['build.finished'], detail: { build: { state: ['failed'] } } };
    const snippet = consumerSnippet(pattern);
    expect(snippet).toMatch(/^stack\.addConsumer\('MyConsumer', \{\n {2}pattern: \{/);
    expect(snippet).toContain('receiver: { function: myFunction },');
    const json = snippet.slice(
      snippet.indexOf('{', snippet.indexOf('pattern:')),
      snippet.lastIndexOf('},\n  receiver') + 1,
    );
    expect(JSON.parse(json)).toEqual(pattern);
    expect(() => validatePattern(JSON.parse(json))).not.toThrow();
  });
});

describe('the console API (npm start in process)', () => {
  let tmp: string;
  let local: RunningLocal;
  const TOKEN = 'app-test-webhook-token-0123456789';

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-console-api-'));
    const cdkJson = path.join(tmp, 'cdk.json');
    writeFileSync(
      cdkJson,
      JSON.stringify({
        app: 'x',
        context: { webhookIps: [], triggers: [{ name: 'pagerduty', kind: 'token', header: 'X-PD-Token' }] },
      }),
    );
    local = (await runLocal({
      argv: [],
      env: { PORT: '0', KITEBRIDGE_TOKEN: TOKEN, KITEBRIDGE_DATA_DIR: path.join(tmp, 'data') },
      cdkJsonPath: cdkJson,
      print: () => undefined,
    })) as RunningLocal;
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const url = (p: string) => `${local.consoleUrl}${p.replace(/^\//, '')}`;
  const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(url(p), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const delivery = async (id: number) =>
    (await (await fetch(url(`/api/deliveries/${id}`))).json()) as Delivery;

  it('serves the page and its bundled script; webhook routes and other paths get no page', async () => {
    const page = await fetch(url('/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="/console.js"></script>');
    const script = await fetch(url('/console.js'));
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await script.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(url('/buildkite'))).status).toBe(404);
    expect((await fetch(url('/admin'))).status).toBe(404);
  });

  it('answers loopback names only, and only JSON posts from its own origin', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const target = new URL(url('/api/state'));
      request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          headers: { Host: 'rebound.example:80' },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    expect(status).toBe(403);
    const form = await fetch(url('/api/send'), { method: 'POST', body: 'fixture=buildkite/ping' });
    expect(form.status).toBe(415);
    const crossSite = await post(
      '/api/send',
      { fixture: 'buildkite/ping' },
      { Origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
  });

  it('says what is wrong with a send it cannot make', async () => {
    expect(await post('/api/send', { fixture: 'buildkite/nope' })).toEqual({
      status: 400,
      body: {
        error: 'console_error',
        message: 'No fixture buildkite/nope: pick one of fixtures/buildkite or fixtures/triggers.',
      },
    });
    expect(
      (await post('/api/send', { fixture: 'triggers/pagerduty-incident', trigger: 'nope' })).body.message,
    ).toBe('No trigger named nope in cdk.json.');
    expect((await post('/api/send', {})).body.message).toBe('Pick a fixture or paste a body to send.');
  });

  it('sends a trigger request, shows the relay rule and its result, and replays it (same dedupe key)', async () => {
    const sent = await post('/api/send', { fixture: 'triggers/pagerduty-incident', trigger: 'pagerduty' });
    expect(sent.body.status).toBe(202);
    const [first] = (await (await fetch(url('/api/deliveries'))).json()) as { id: number }[];
    const id = first!.id;
    const once = await delivery(id);
    expect(once).toMatchObject({
      route: '/triggers/{name}',
      trigger: 'pagerduty',
      auth: 'token',
      status: 202,
    });
    expect(once.headers).toContainEqual(['X-PD-Token', '[redacted]']);
    const verdict = once.events[0]?.rules.find((r) => r.ruleId === 'TriggerRelay-pagerduty');
    expect(verdict?.matched).toBe(true);
    // The relay works off its queue after the rule's target returns: wait for its report.
    let relayed: Delivery = once;
    while (!relayed.events[0]?.reports.some((r) => r.kind === 'trigger-relay')) relayed = await delivery(id);
    const report = relayed.events[0]?.reports.find((r) => r.kind === 'trigger-relay');
    expect(report).toMatchObject({ kind: 'trigger-relay', message: expect.stringContaining('dry run') });

    const replayed = await post(`/api/deliveries/${id}/replay`, {});
    expect(replayed.body.status).toBe(202);
    const again = await delivery(id + 1);
    expect(again).toMatchObject({ sentBy: { kind: 'replay', of: id }, duplicateOf: id, auth: 'token' });
  });

  it('sends a pasted body in path-token mode; the path token is masked', async () => {
    const sent = await post('/api/send', {
      body: '{"event":"ping","service":{"id":"s1"}}',
      mode: 'path-token',
    });
    expect(sent.body.status).toBe(202);
    const [last] = (await (await fetch(url('/api/deliveries'))).json()) as { id: number; path: string }[];
    expect(last).toMatchObject({ path: '/buildkite/[redacted]' });
    expect(JSON.stringify(await delivery(last!.id))).not.toContain(TOKEN);
  });

  it('runs a pattern over the recorded events, or gives the engine error', async () => {
    const run = await post('/api/pattern', { pattern: '{"source":["buildkite"],"detail-type":["ping"]}' });
    expect(run.body.valid).toBe(true);
    const events = run.body.events as { matched: boolean; detailType: string; failed?: { path: string } }[];
    expect(events.find((e) => e.detailType === 'ping')?.matched).toBe(true);
    expect(events.find((e) => e.detailType !== 'ping')?.failed?.path).toBe('source');
    expect((await post('/api/pattern', { pattern: '{"source":' })).body.error).toMatch(/^Not JSON: /);
    expect((await post('/api/pattern', { pattern: '{}' })).body.error).toBe(
      'Invalid event pattern at (root): Empty objects are not allowed',
    );
  });

  it('masks the token in use after a local rotation, and the start token still', async () => {
    // A quote in it: the answers are JSON, where it shows escaped.
    const rotated = 'app-test-rotated"token-9876543210';
    await new LocalSecretStore(path.join(tmp, 'data')).put(
      'rotation-final',
      JSON.stringify({ token: rotated, previousToken: TOKEN }),
      ['AWSCURRENT'],
    );
    // Accepted or not (the verify cache may still hold the start value), the body is listed.
    await post('/api/send', { body: JSON.stringify({ event: 'ping', note: `${rotated} and ${TOKEN}` }) });
    const [last] = (await (await fetch(url('/api/deliveries'))).json()) as { id: number }[];
    const shown = JSON.stringify(await delivery(last!.id));
    expect(shown).toContain('[redacted] and [redacted]');
    expect(shown).not.toContain(JSON.stringify(rotated).slice(1, -1));
    expect(shown).not.toContain('rotated');
    expect(shown).not.toContain(TOKEN);
  });

  it('stops cleanly with an event stream open', async () => {
    const controller = new AbortController();
    const stream = await fetch(url('/api/stream'), { signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const other = await runLocal({
      argv: [],
      env: { PORT: '0', KITEBRIDGE_DATA_DIR: path.join(tmp, 'other') },
      cdkJsonPath: path.join(tmp, 'cdk.json'),
      print: () => undefined,
    });
    const otherStream = await fetch(`${other!.consoleUrl}api/stream`);
    expect(otherStream.status).toBe(200);
    await expect(other!.stop()).resolves.toBeUndefined();
    controller.abort();
  });
});

describe('requests the gateway refuses itself', () => {
  it('are listed with their error, credentials masked', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-console-refused-'));
    const journal = new Journal();
    const local = await startLocal({
      config: parseConfig({ webhookIps: ['192.0.2.0/24'] }),
      dataDir,
      allowLoopback: false,
      console: { journal },
    });
    try {
      const answer = await fetch(`${local.url}/buildkite/${local.token}`, { method: 'POST', body: '{}' });
      expect(answer.status).toBe(403);
      const [refused] = journal.list();
      expect(refused).toMatchObject({
        route: '/buildkite/{urlToken}',
        path: '/buildkite/[redacted]',
        status: 403,
        code: 'forbidden_source_ip',
      });
      expect(refused?.error).toMatch(/^refused by the gateway: /);
      // The console itself still answers this machine.
      expect((await fetch(`${local.consoleUrl}api/deliveries`)).status).toBe(200);
    } finally {
      await local.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
