import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { EventEnvelope } from '../../lambda/shared/contract';
import { computeSignature } from '../../lambda/verify/signature';
import { createGateway } from '../../local/gateway';
import { loadLocalConfig } from '../../local/local-config';
import { startLocal, type LocalKitebridge } from '../../local/server';

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
    expect(await response.json()).toMatchObject({ error: 'not_found' });
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
