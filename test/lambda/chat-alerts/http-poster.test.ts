import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentDeliveryError, RetryableDeliveryError } from '../../../lambda/chat-alerts/errors';
import { HttpPoster, retryAfterMs } from '../../../lambda/chat-alerts/http-poster';
import type { Destination } from '../../../lambda/chat-alerts/model';
import type { Message } from '../../../lambda/chat-alerts/alert-message';

type Reply = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTP server on 127.0.0.1 answering each request with the next reply (the last one repeats). */
async function serve(
  replies: Reply[],
): Promise<{ url: string; bodies: string[]; times: number[]; server: Server }> {
  const bodies: string[] = [];
  const times: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString());
      times.push(Date.now());
      (replies[bodies.length - 1] ?? replies.at(-1)!)(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/services/T000/B000/secret-path`, bodies, times, server };
}

const reply =
  (status: number, body = '', headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };
const hang: Reply = () => undefined;

const destination: Destination = {
  name: 'ci-slack',
  service: 'slack',
  pipelines: ['*'],
  branches: ['*'],
  events: ['agent.lost'],
};
const message: Message = { tone: 'info', title: 't', fallback: 't', facts: [], links: [] };
const alert = { message, payload: { text: 'hello', blocks: [] } };

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  servers = [];
});

async function poster(replies: Reply[], options: { timeoutMs?: number; maxRetryAfterMs?: number } = {}) {
  const server = await serve(replies);
  servers.push(server.server);
  const sleeps: number[] = [];
  const p = new HttpPoster({
    resolveUrl: async () => server.url,
    timeoutMs: options.timeoutMs ?? 1000,
    baseDelayMs: 10,
    ...(options.maxRetryAfterMs !== undefined ? { maxRetryAfterMs: options.maxRetryAfterMs } : {}),
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 20)));
    },
  });
  return { post: () => p.post(destination, alert), server, sleeps };
}

describe('HttpPoster against a real HTTP server', () => {
  it('posts the payload as JSON once on success', async () => {
    const { post, server } = await poster([reply(200, 'ok')]);
    await post();
    expect(server.bodies).toEqual([JSON.stringify(alert.payload)]);
  });

  it('accepts Teams’ 202', async () => {
    const { post, server } = await poster([reply(202)]);
    await post();
    expect(server.bodies).toHaveLength(1);
  });

  it('waits for Retry-After on 429, then posts', async () => {
    const { post, server, sleeps } = await poster([
      reply(429, 'rate_limited', { 'retry-after': '2' }),
      reply(200, 'ok'),
    ]);
    await post();
    expect(sleeps).toEqual([2000]);
    expect(server.bodies).toHaveLength(2);
  });

  it('throws retryable when Retry-After is longer than it may wait', async () => {
    const { post, server } = await poster([reply(429, '', { 'retry-after': '120' })]);
    await expect(post()).rejects.toThrow(RetryableDeliveryError);
    expect(server.bodies).toHaveLength(1);
  });

  it('retries a 500, then succeeds', async () => {
    const { post, server, sleeps } = await poster([reply(500, 'oops'), reply(200, 'ok')]);
    await post();
    expect(server.bodies).toHaveLength(2);
    expect(sleeps).toEqual([10]);
  });

  it('throws retryable after repeated 503s, with backoff', async () => {
    const { post, server, sleeps } = await poster([reply(503)]);
    await expect(post()).rejects.toThrow(/HTTP 503.*after 3 attempts/);
    expect(server.bodies).toHaveLength(3);
    expect(sleeps).toEqual([10, 20]);
  });

  it.each([
    [400, 'invalid_payload'],
    [403, 'action_prohibited'],
    [404, 'no_service'],
    [410, 'channel_is_archived'],
  ])('treats %i %s as permanent at once, with the reason and without the URL', async (status, reason) => {
    const { post, server } = await poster([reply(status, reason)]);
    const error = await post().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ reason, status, destination: 'ci-slack' });
    expect(String((error as Error).message)).not.toContain('secret-path');
    expect(server.bodies).toHaveLength(1);
  });

  it('times out a hanging request and retries it, then throws retryable', async () => {
    const { post, server } = await poster([hang], { timeoutMs: 100 });
    const error = await post().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toMatch(/timed out after 100 ms \(after 3 attempts\)/);
    expect((error as Error).message).not.toContain('secret-path');
    expect(server.bodies).toHaveLength(3);
  });

  it('succeeds when a timeout is followed by an answer', async () => {
    // Long enough that the prompt second answer never times out on a busy machine.
    const { post, server } = await poster([hang, reply(200, 'ok')], { timeoutMs: 2000 });
    await post();
    expect(server.bodies).toHaveLength(2);
  });

  it('reports a refused connection as retryable, naming no URL', async () => {
    const p = new HttpPoster({ resolveUrl: async () => 'http://127.0.0.1:1/hook', attempts: 1 });
    const error = await p.post(destination, alert).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toContain('network error');
    expect((error as Error).message).not.toContain('/hook');
  });

  it.each(['REPLACE_ME: put the webhook URL here', '', 'http://hooks.slack.com/plain-http'])(
    'refuses a secret that holds no https URL (%j) as permanent',
    async (value) => {
      const p = new HttpPoster({ resolveUrl: async () => value });
      await expect(p.post(destination, alert)).rejects.toThrow(/holds no https webhook URL/);
    },
  );
});

describe('retryAfterMs', () => {
  it.each<[string | null, number]>([
    ['3', 3000],
    ['0.5', 500],
    [null, 1000],
    ['soon', 1000],
    ['Wed, 03 Jun 2026 04:16:10 GMT', 7000],
  ])('%j → %i ms', (header, ms) => {
    expect(retryAfterMs(header, Date.parse('2026-06-03T04:16:03Z'))).toBe(ms);
  });
});
