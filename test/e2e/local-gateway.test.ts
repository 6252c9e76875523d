import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { EventEnvelope } from '../../lambda/shared/contract';
import { computeSignature } from '../../lambda/verify/signature';
import { gatewayAnswerBody } from '../../lambda/shared/gateway-answers';
import { parseConfig } from '../../lib/config';
import { createGateway, type GatewayOptions } from '../../local/gateway';
import { loadLocalConfig } from '../../local/local-config';
import { sourceIpPolicy, startLocal, type LocalKitebridge } from '../../local/server';

const fixture = (name: string) =>
  readFileSync(path.join(__dirname, '../../fixtures/buildkite', `${name}.json`));

describe('local kitebridge end to end (real HTTP, real verify handler, local bus)', () => {
  let local: LocalKitebridge;
  let dataDir: string;
  const received: EventEnvelope[] = [];
  const failedBuilds: EventEnvelope[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-e2e-'));
    local = await startLocal({
      config: loadLocalConfig(),
      dataDir,
      rules: [
        { id: 'All', pattern: { source: ['buildkite'] }, target: (e) => void received.push(e) },
        {
          id: 'FailedBuilds',
          pattern: {
            source: ['buildkite'],
            'detail-type': ['build.finished'],
            detail: { build: { state: ['failed'] } },
          },
          target: (e) => void failedBuilds.push(e),
        },
      ],
    });
  });

  afterAll(async () => {
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await local.bus.drain();
    received.length = 0;
    failedBuilds.length = 0;
  });

  const post = (body: Buffer | string, headers: Record<string, string>, pathSuffix = '') =>
    fetch(`${local.url}/buildkite${pathSuffix}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
    });

  it('token mode: the event reaches consumers as a real EventBridge envelope', async () => {
    const body = fixture('build.finished');
    const response = await post(body, {
      'X-Buildkite-Token': local.token,
      'X-Buildkite-Event': 'build.finished',
    });
    expect(response.status).toBe(202);
    const answer = (await response.json()) as { id: string; status: string };
    expect(answer.status).toBe('published');
    await local.bus.drain();

    expect(received).toHaveLength(1);
    const event = received[0] as EventEnvelope;
    expect(Object.keys(event).sort()).toEqual([
      'account',
      'detail',
      'detail-type',
      'id',
      'region',
      'resources',
      'source',
      'time',
      'version',
    ]);
    expect(event).toMatchObject({
      version: '0',
      source: 'buildkite',
      'detail-type': 'build.finished',
      resources: [],
    });
    const { delivery, ...rest } = event.detail as Record<string, unknown>;
    expect(rest).toEqual(JSON.parse(body.toString()));
    expect(delivery).toMatchObject({ requestId: answer.id, auth: 'token', sourceIp: '127.0.0.1' });
    expect(failedBuilds).toHaveLength(1); // the fixture's build failed: the content rule matched too
  });

  it('signature mode over the exact bytes, and the path-token route', async () => {
    const body = fixture('job.finished');
    const ts = String(Math.floor(Date.now() / 1000));
    const signed = await post(body, {
      'X-Buildkite-Signature': `timestamp=${ts},signature=${computeSignature(local.token, ts, body)}`,
    });
    expect(signed.status).toBe(202);
    const viaPath = await post(fixture('ping'), {}, `/${local.token}`);
    expect(viaPath.status).toBe(202);
    await local.bus.drain();
    expect(received.map((e) => e['detail-type']).sort()).toEqual(['job.finished', 'ping']);
    expect(failedBuilds).toHaveLength(0);
  });

  it('a body that is not valid UTF-8 travels base64-flagged and still verifies', async () => {
    const body = Buffer.concat([
      Buffer.from('{"event":"ping","blob":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const response = await post(body, { 'X-Buildkite-Token': local.token });
    expect(response.status).toBe(202);
  });

  it.each([
    ['wrong token', { 'X-Buildkite-Token': 'nope' }, '', 401, 'invalid_token'],
    ['no credentials', {}, '', 401, 'missing_auth'],
    ['wrong path token', {}, '/nope', 401, 'invalid_token'],
    [
      'wrong content type',
      { 'Content-Type': 'text/plain', 'X-Buildkite-Token': 'x' },
      '',
      415,
      'unsupported_media_type',
    ],
  ])('%s → %i %s, nothing reaches consumers', async (_name, headers, suffix, status, code) => {
    const response = await post(fixture('ping'), headers as Record<string, string>, suffix);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error: code });
    await local.bus.drain();
    expect(received).toHaveLength(0);
  });

  it('unknown routes and methods get the gateway 404 answer', async () => {
    const response = await fetch(`${local.url}/elsewhere`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    // The deployed API's gateway response, word for word.
    expect(await response.text()).toBe(gatewayAnswerBody('not_found'));
    expect((await fetch(`${local.url}/buildkite`)).status).toBe(404);
  });

  it('an oversized body is stored and a pointer event is published', async () => {
    const big = JSON.stringify({
      event: 'build.finished',
      build: { id: 'b', state: 'failed', env: { BLOB: 'x'.repeat(300_000) } },
      pipeline: { slug: 'p' },
    });
    const response = await post(big, { 'X-Buildkite-Token': local.token });
    expect(response.status).toBe(202);
    await local.bus.drain();
    const delivery = (received[0]?.detail as { delivery: { oversized: { key: string; bytes: number } } })
      .delivery;
    expect(delivery.oversized.bytes).toBe(Buffer.byteLength(big));
    expect(readFileSync(path.join(dataDir, 'oversized-bodies', delivery.oversized.key), 'utf8')).toBe(big);
    expect(failedBuilds).toHaveLength(1); // routing fields survive in the pointer
  });

  it('writes every event to the local event log', async () => {
    await post(fixture('agent.lost'), { 'X-Buildkite-Token': local.token });
    await local.bus.drain();
    const lines = readFileSync(path.join(dataDir, 'events.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ 'detail-type': 'agent.lost' });
  });
});

describe('local gateway source-IP policy', () => {
  it('answers 403 forbidden_source_ip to an address outside the allowlist', async () => {
    const server = createGateway({
      handler: async () => ({ statusCode: 202, body: '{}' }),
      allowlist: ['192.0.2.0/24'],
      allowAnySourceIp: false,
      allowLoopback: false,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const response = await fetch(`http://127.0.0.1:${port}/buildkite`, { method: 'POST', body: '{}' });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: 'forbidden_source_ip' });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** A gateway on an ephemeral loopback port, closed after `use`. */
async function withGateway(options: GatewayOptions, use: (url: string) => Promise<void>): Promise<void> {
  const server = createGateway(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    await use(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('local gateway answers as the deployed API does', () => {
  it('a handler that throws gets the deployed 5xx answer: 503 unavailable', async () => {
    const failures: unknown[] = [];
    await withGateway(
      {
        handler: async () => {
          throw new Error('defect');
        },
        allowlist: [],
        allowAnySourceIp: true,
        onHandlerError: (error) => failures.push(error),
      },
      async (url) => {
        const response = await fetch(`${url}/buildkite`, { method: 'POST', body: '{}' });
        expect(response.status).toBe(503);
        expect(await response.text()).toBe(gatewayAnswerBody('unavailable'));
      },
    );
    expect(failures).toEqual([new Error('defect')]);
  });
});

describe('local mode applies each trigger sourceIps list, as deployed', () => {
  const config = parseConfig({
    webhookIps: ['127.0.0.1/32'],
    triggers: [
      { name: 'locked', kind: 'token', sourceIps: ['192.0.2.0/24'] },
      { name: 'open', kind: 'token' },
    ],
  });

  it('the gateway policy holds the Buildkite allowlist and each trigger list', () => {
    expect(sourceIpPolicy(config)).toEqual({
      allowlist: ['127.0.0.1/32'],
      allowAnySourceIp: false,
      triggerAllowlists: { locked: ['192.0.2.0/24'] },
    });
  });

  it('with loopback not admitted, a trigger whose list excludes the caller answers 403; others reach the handler', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-trigger-ips-'));
    const local = await startLocal({ config, dataDir, allowLoopback: false });
    try {
      const send = (name: string) =>
        fetch(`${local.url}/triggers/${name}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Trigger-Token': local.token },
          body: '{}',
        });
      const locked = await send('locked');
      expect(locked.status).toBe(403);
      expect(await locked.text()).toBe(gatewayAnswerBody('forbidden_source_ip'));
      expect((await send('open')).status).toBe(202);
      // The Buildkite routes keep their own list, which admits 127.0.0.1.
      const buildkite = await fetch(`${local.url}/buildkite`, { method: 'POST', body: '{}' });
      expect(buildkite.status).not.toBe(403);
    } finally {
      await local.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('loopback is admitted by default (npm start): the trigger list is not applied to 127.0.0.1', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-trigger-ips-'));
    const local = await startLocal({ config, dataDir });
    try {
      const response = await fetch(`${local.url}/triggers/locked`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Trigger-Token': local.token },
        body: '{}',
      });
      expect(response.status).toBe(202);
    } finally {
      await local.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
