import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BuildkiteMetricsClient, countsOf, parseMetricsBody } from '../../../lambda/autoscaler/metrics-api';
import { SHARED } from '../../support/corpus';

const BODY = readFileSync(
  path.join(SHARED, 'buildkite/payloads/agent-metrics-get-v3-metrics-response.json'),
  'utf8',
);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let handler: Handler;
let baseUrl: string;
const seen: { url?: string; authorization?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url, authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen.length = 0;
});

const client = (timeoutMs = 30_000) =>
  new BuildkiteMetricsClient({ baseUrl, token: async () => 'agent-token', timeoutMs });

describe('BuildkiteMetricsClient against a real HTTP server', () => {
  it('200: reads per-queue counts and sends the agent token', async () => {
    handler = (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(BODY);
    const result = await client().fetchMetrics();
    expect(seen).toEqual([{ url: '/v3/metrics', authorization: 'Token agent-token' }]);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.metrics.org).toBe('buildkite');
    expect(countsOf(result.metrics, 'default')).toEqual({
      present: true,
      counts: { scheduled: 5, running: 0, waiting: 0, idleAgents: 1, busyAgents: 0, totalAgents: 1 },
    });
    expect(countsOf(result.metrics, 'other').present).toBe(false);
    expect(result.pollDurationSeconds).toBeUndefined();
  });

  it('reads the Buildkite-Agent-Metrics-Poll-Duration header', async () => {
    handler = (_req, res) =>
      res
        .writeHead(200, { 'Content-Type': 'application/json', 'Buildkite-Agent-Metrics-Poll-Duration': '15' })
        .end(BODY);
    const result = await client().fetchMetrics();
    expect(result).toMatchObject({ ok: true, pollDurationSeconds: 15 });
  });

  it('401: unauthorized, no counts, poll duration still read', async () => {
    handler = (_req, res) =>
      res.writeHead(401, { 'Buildkite-Agent-Metrics-Poll-Duration': '10' }).end('{"message":"Unauthorized"}');
    const result = await client().fetchMetrics();
    expect(result).toMatchObject({
      ok: false,
      failure: 'unauthorized',
      status: 401,
      pollDurationSeconds: 10,
    });
    expect(result).not.toHaveProperty('metrics');
  });

  it('500: http-error, no counts', async () => {
    handler = (_req, res) => res.writeHead(500).end('oops');
    expect(await client().fetchMetrics()).toMatchObject({ ok: false, failure: 'http-error', status: 500 });
  });

  it('timeout: gives up after the timeout, no counts', async () => {
    handler = () => undefined; // never answers: only the client's own timeout can end the call
    const result = await client(200).fetchMetrics();
    expect(result).toMatchObject({ ok: false, failure: 'timeout' });
  });

  it('a body of the wrong shape is a failure, not zero counts', async () => {
    handler = (_req, res) => res.writeHead(200).end('{"hello":"world"}');
    expect(await client().fetchMetrics()).toMatchObject({ ok: false, failure: 'invalid-body' });
    handler = (_req, res) => res.writeHead(200).end('<html>');
    expect(await client().fetchMetrics()).toMatchObject({ ok: false, failure: 'invalid-body' });
  });

  it('a refused connection is a network failure', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await new BuildkiteMetricsClient({
      baseUrl: `http://127.0.0.1:${port}/v3`,
      token: async () => 't',
    }).fetchMetrics();
    expect(result).toMatchObject({ ok: false, failure: 'network' });
  });

  it('a token that cannot be read is a failure, and no request is sent', async () => {
    const result = await new BuildkiteMetricsClient({
      baseUrl,
      token: async () => {
        throw new Error('placeholder');
      },
    }).fetchMetrics();
    expect(result).toMatchObject({ ok: false, failure: 'network' });
    expect(seen).toEqual([]);
  });
});

describe('parseMetricsBody', () => {
  it('merges agent and job queues and treats missing numbers as zero', () => {
    const parsed = parseMetricsBody({
      agents: { queues: { a: { idle: 1, busy: 2, total: 3 } } },
      jobs: { queues: { b: { scheduled: 4, running: 'x' } } },
      organization: { slug: 'acme' },
    });
    expect(parsed?.org).toBe('acme');
    expect(parsed?.queues.get('a')).toEqual({
      scheduled: 0,
      running: 0,
      waiting: 0,
      idleAgents: 1,
      busyAgents: 2,
      totalAgents: 3,
    });
    expect(parsed?.queues.get('b')).toEqual({
      scheduled: 4,
      running: 0,
      waiting: 0,
      idleAgents: 0,
      busyAgents: 0,
      totalAgents: 0,
    });
  });
});
