import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  BuildkiteApiError,
  BuildkiteForbiddenError,
  BuildkiteNetworkError,
  BuildkiteNotFoundError,
  BuildkiteRateLimitError,
  BuildkiteRestClient,
  BuildkiteServerError,
  BuildkiteTimeoutError,
  BuildkiteUnauthorizedError,
  BuildkiteUnexpectedResponseError,
  BuildkiteValidationError,
  fieldErrorsOf,
  nextLink,
  readRateLimit,
  retryAfterSeconds,
} from '../../../lambda/shared/buildkite-rest';
import { closeServer, listenOnLoopback } from '../../support/http-server';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Seen {
  method?: string;
  url?: string;
  authorization?: string;
  contentType?: string;
  body: string;
}

let server: Server;
let handler: Handler;
let baseUrl: string;
const seen: Seen[] = [];
const TOKEN = 'bkua_secret_api_token';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      handler(req, res, body);
    });
  });
  baseUrl = await listenOnLoopback(server);
});
afterAll(() => closeServer(server));
beforeEach(() => {
  seen.length = 0;
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

// Answers never race the timeout: only the tests of a server that never answers set a short one.
const client = (timeoutMs = 120_000) => new BuildkiteRestClient({ baseUrl, token: TOKEN, timeoutMs });

async function failure(promise: Promise<unknown>): Promise<BuildkiteApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BuildkiteApiError);
    expect((error as Error).message).not.toContain(TOKEN);
    return error as BuildkiteApiError;
  }
  throw new Error('expected the call to fail');
}

describe('BuildkiteRestClient against a real HTTP server', () => {
  it('201: POSTs JSON with the bearer token and returns the parsed body and rate-limit headers', async () => {
    handler = (_req, res) =>
      json(
        res,
        201,
        { id: 'svc-1', provider: 'webhook' },
        { 'RateLimit-Remaining': '180', 'RateLimit-Reset': '42' },
      );
    const answer = await client().post<{ id: string }>('/v2/organizations/acme/services', {
      provider: 'webhook',
    });
    expect(answer).toEqual({
      status: 201,
      body: { id: 'svc-1', provider: 'webhook' },
      rateLimit: { remaining: 180, resetSeconds: 42 },
    });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/v2/organizations/acme/services',
        authorization: `Bearer ${TOKEN}`,
        contentType: 'application/json',
        body: '{"provider":"webhook"}',
      },
    ]);
  });

  it('200: GET with query parameters, arrays repeated; a token read per request', async () => {
    handler = (_req, res) => json(res, 200, [{ id: 'b1' }]);
    let reads = 0;
    const c = new BuildkiteRestClient({
      baseUrl: `${baseUrl}/`,
      token: async () => {
        reads++;
        return 'from-secret';
      },
    });
    const answer = await c.get<unknown[]>('/v2/organizations/acme/builds', {
      query: {
        finished_from: '2026-12-06T00:00:00Z',
        'state[]': ['passed', 'failed'],
        per_page: 100,
        skip: undefined,
      },
    });
    expect(answer.body).toEqual([{ id: 'b1' }]);
    expect(seen[0]?.url).toBe(
      '/v2/organizations/acme/builds?finished_from=2026-12-06T00%3A00%3A00Z&state%5B%5D=passed&state%5B%5D=failed&per_page=100',
    );
    expect(seen[0]?.authorization).toBe('Bearer from-secret');
    expect(reads).toBe(1);
  });

  it('204: an empty body is undefined', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    expect((await client().delete('/v2/organizations/acme/services/x')).body).toBeUndefined();
  });

  it('401: names the token as the cause and where to make a new one', async () => {
    handler = (_req, res) => json(res, 401, { message: 'Authentication required' });
    const error = await failure(client().get('/v2/organizations/acme/services'));
    expect(error).toBeInstanceOf(BuildkiteUnauthorizedError);
    expect(error).toMatchObject({
      kind: 'unauthorized',
      status: 401,
      method: 'GET',
      path: '/v2/organizations/acme/services',
    });
    expect(error.message).toMatch(/wrong, revoked or expired.*api-access-tokens/);
  });

  it('403: names the missing scope, the admin permission and quotes Buildkite', async () => {
    handler = (_req, res) => json(res, 403, { message: 'Forbidden' });
    const error = await failure(
      client().post('/v2/organizations/acme/services', {}, { scope: 'write_notification_services' }),
    );
    expect(error).toBeInstanceOf(BuildkiteForbiddenError);
    expect(error).toMatchObject({ kind: 'forbidden', status: 403, scope: 'write_notification_services' });
    expect(error.message).toContain('"write_notification_services" scope');
    expect(error.message).toContain('organization admin');
    expect(error.message).toContain('Buildkite said: Forbidden');
  });

  it('403: a secret that runs past the quoted length is redacted, not cut to a revealing prefix', async () => {
    const padding = 'x'.repeat(290);
    handler = (_req, res) => json(res, 403, { message: `${padding}${TOKEN} is not allowed` });
    const error = await failure(client().get('/v2/organizations/acme/builds'));
    expect(error.message).toContain(padding);
    expect(error.message).not.toContain(TOKEN.slice(0, 8));
  });

  it('403 without a scope hint still says what to check', async () => {
    handler = (_req, res) => res.writeHead(403).end();
    const error = await failure(client().get('/v2/organizations/acme/builds'));
    expect(error).toMatchObject({ kind: 'forbidden', scope: undefined });
    expect(error.message).toContain('lacks a scope');
  });

  it('404: points at the organization slug and id', async () => {
    handler = (_req, res) => json(res, 404, { message: 'No organization found' });
    const error = await failure(client().get('/v2/organizations/nope/services/x'));
    expect(error).toBeInstanceOf(BuildkiteNotFoundError);
    expect(error.message).toContain('organization slug');
  });

  it('422: lists the field errors, with any secret in them redacted', async () => {
    const webhookToken = 'the-webhook-token';
    handler = (_req, res) =>
      json(res, 422, {
        message: 'Validation Failed',
        errors: [
          { field: 'settings.url', code: 'invalid', message: 'is not a valid URL' },
          { field: 'settings.token', message: `"${webhookToken}" is too short` },
        ],
      });
    const error = await failure(
      client().post(
        '/v2/organizations/acme/services',
        { settings: { token: webhookToken } },
        { redact: [webhookToken] },
      ),
    );
    expect(error).toBeInstanceOf(BuildkiteValidationError);
    expect((error as BuildkiteValidationError).fieldErrors).toEqual([
      { field: 'settings.url', message: 'is not a valid URL' },
      { field: 'settings.token', message: '"[redacted]" is too short' },
    ]);
    expect(error.message).toContain('settings.url: is not a valid URL');
    expect(error.message).not.toContain(webhookToken);
  });

  it('429: a retry-after from the exhausted window and the scope Buildkite named', async () => {
    handler = (_req, res) =>
      json(
        res,
        429,
        { message: 'You have exceeded your rate limit', scope: 'user' },
        {
          'RateLimit-Remaining': '120',
          'RateLimit-Reset': '12',
          'RateLimit-Limit': '200',
          'RateLimit-User-Remaining': '0',
          'RateLimit-User-Reset': '37',
        },
      );
    const error = await failure(client().get('/v2/organizations/acme/builds'));
    expect(error).toBeInstanceOf(BuildkiteRateLimitError);
    expect(error).toMatchObject({
      kind: 'rate-limited',
      status: 429,
      retryAfterSeconds: 37,
      limitScope: 'user',
      rateLimit: { remaining: 120, resetSeconds: 12, limit: 200, userRemaining: 0, userResetSeconds: 37 },
    });
    expect(error.message).toContain('wait 37 s');
  });

  it('429 with only the organization headers: that window, scope inferred', async () => {
    handler = (_req, res) => json(res, 429, {}, { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '9' });
    const error = await failure(client().get('/v2/organizations/acme/builds'));
    expect(error).toMatchObject({ retryAfterSeconds: 9, limitScope: 'organization' });
  });

  it.each([500, 502, 503])('%i: a server error that says retry later', async (status) => {
    handler = (_req, res) => res.writeHead(status).end('<html>oops</html>');
    const error = await failure(client().get('/v2/organizations/acme/builds'));
    expect(error).toBeInstanceOf(BuildkiteServerError);
    expect(error).toMatchObject({ kind: 'server', status });
    expect(error.message).toContain('retry later');
  });

  it('another status, or a 2xx body that is not JSON, is an unexpected answer', async () => {
    handler = (_req, res) => json(res, 409, { message: 'Conflict' });
    expect(await failure(client().get('/v2/x'))).toMatchObject({ kind: 'unexpected', status: 409 });
    handler = (_req, res) => res.writeHead(200).end('<html>');
    const error = await failure(client().get('/v2/x'));
    expect(error).toBeInstanceOf(BuildkiteUnexpectedResponseError);
    expect(error.message).toContain('not JSON');
  });

  it('timeout: a server that never answers gives a timeout error', async () => {
    handler = () => undefined; // never answers
    const error = await failure(client(300).get('/v2/organizations/acme/builds'));
    expect(error).toBeInstanceOf(BuildkiteTimeoutError);
    expect(error).toMatchObject({ kind: 'timeout', timeoutMs: 300 });
  });

  it('timeout covers the body: headers sent, body never finished', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
    };
    expect(await failure(client(300).get('/v2/organizations/acme/builds'))).toBeInstanceOf(
      BuildkiteTimeoutError,
    );
  });

  it('a refused connection is a network error naming the URL variable', async () => {
    const closed = createServer();
    const closedUrl = await listenOnLoopback(closed);
    await closeServer(closed);
    const error = await failure(new BuildkiteRestClient({ baseUrl: closedUrl, token: TOKEN }).get('/v2/x'));
    expect(error).toBeInstanceOf(BuildkiteNetworkError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    expect(error.message).toContain('BUILDKITE_API_URL');
  });

  it('pagination: follows Link rel="next" across pages, keeping the token on the same origin', async () => {
    handler = (req, res) => {
      const page = Number(new URL(req.url ?? '/', baseUrl).searchParams.get('page') ?? '1');
      const link =
        page < 3
          ? `<${baseUrl}/v2/organizations/acme/builds?page=${page + 1}&per_page=2>; rel="next", <${baseUrl}/v2/organizations/acme/builds?page=3&per_page=2>; rel="last"`
          : `<${baseUrl}/v2/organizations/acme/builds?page=1&per_page=2>; rel="first"`;
      json(res, 200, [{ n: page * 2 - 1 }, { n: page * 2 }].slice(0, page === 3 ? 1 : 2), { Link: link });
    };
    const items = await client().list<{ n: number }>('/v2/organizations/acme/builds', {
      query: { per_page: 2 },
    });
    expect(items.map((i) => i.n)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.map((s) => s.url)).toEqual([
      '/v2/organizations/acme/builds?per_page=2',
      '/v2/organizations/acme/builds?page=2&per_page=2',
      '/v2/organizations/acme/builds?page=3&per_page=2',
    ]);
    expect(seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('pagination: stops at maxPages and exposes each page with its rate limit', async () => {
    handler = (_req, res) =>
      json(res, 200, [1], { Link: `</v2/more?page=9>; rel="next"`, 'RateLimit-Remaining': '7' });
    const pages = [];
    for await (const page of client().pages<number>('/v2/more', { maxPages: 2 })) pages.push(page);
    expect(pages).toHaveLength(2);
    expect(pages[0]).toMatchObject({
      body: [1],
      rateLimit: { remaining: 7 },
      nextUrl: `${baseUrl}/v2/more?page=9`,
    });
    expect(seen).toHaveLength(2);
  });

  it('pagination: a next link to another origin is refused before any request', async () => {
    handler = (_req, res) =>
      json(res, 200, [1], { Link: '<https://elsewhere.example/v2/steal>; rel="next"' });
    const error = await failure(client().list('/v2/organizations/acme/builds'));
    expect(error.message).toContain('another origin');
    expect(seen).toHaveLength(1);
  });

  it('pagination: a page that is not a list is an unexpected answer', async () => {
    handler = (_req, res) => json(res, 200, { not: 'a list' });
    expect(await failure(client().list('/v2/x'))).toBeInstanceOf(BuildkiteUnexpectedResponseError);
  });
});

describe('configuration', () => {
  const saved = process.env.BUILDKITE_API_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.BUILDKITE_API_URL;
    else process.env.BUILDKITE_API_URL = saved;
  });

  it('defaults to api.buildkite.com, or BUILDKITE_API_URL when set', () => {
    delete process.env.BUILDKITE_API_URL;
    expect(new BuildkiteRestClient({ token: 't' }).baseUrl).toBe('https://api.buildkite.com');
    process.env.BUILDKITE_API_URL = 'http://127.0.0.1:9999/';
    expect(new BuildkiteRestClient({ token: 't' }).baseUrl).toBe('http://127.0.0.1:9999');
  });

  it('rejects a base URL that is not an http(s) URL, naming the variable', () => {
    expect(() => new BuildkiteRestClient({ token: 't', baseUrl: 'nope' })).toThrow(
      /BUILDKITE_API_URL must be a URL/,
    );
    expect(() => new BuildkiteRestClient({ token: 't', baseUrl: 'ftp://x' })).toThrow(/http\(s\) URL/);
  });

  it('rejects a path without a leading slash', async () => {
    await expect(new BuildkiteRestClient({ token: 't', baseUrl: 'http://x' }).get('v2/x')).rejects.toThrow(
      /starts with "\/"/,
    );
  });
});

describe('header and body readers', () => {
  it.each([
    ['', undefined],
    ['<https://a/x?page=2>; rel="next"', 'https://a/x?page=2'],
    ['<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next"', 'https://a/x?page=3'],
    ['<https://a/x?page=9>; rel="last"', undefined],
    ['<https://a/x?a=1,2>; rel=next', 'https://a/x?a=1,2'],
  ])('nextLink(%j) = %j', (header, expected) => {
    expect(nextLink(header)).toBe(expected);
  });

  it.each([
    [{ remaining: 0, resetSeconds: 20, userRemaining: 0, userResetSeconds: 50 }, null, 50],
    [{ remaining: 0, resetSeconds: 20, userRemaining: 3, userResetSeconds: 50 }, null, 20],
    [{ remaining: 5, resetSeconds: 20 }, null, 20],
    [{}, '17', 17],
    [{}, null, 60],
    [{ remaining: 0, resetSeconds: 0 }, null, 1],
    [{ remaining: 0, resetSeconds: 2.2 }, null, 3],
  ])('retryAfterSeconds(%j, %j) = %i', (rateLimit, header, expected) => {
    expect(retryAfterSeconds(rateLimit, header)).toBe(expected);
  });

  it('readRateLimit ignores absent and unreadable headers', () => {
    expect(readRateLimit(new Headers({ 'RateLimit-Remaining': 'x', 'RateLimit-Reset': '4' }))).toEqual({
      resetSeconds: 4,
    });
  });

  it('fieldErrorsOf reads objects, strings and field maps', () => {
    expect(
      fieldErrorsOf({ errors: ['Name is blank', { field: 'url', code: 'invalid' }, { field: 'x' }] }),
    ).toEqual([
      { message: 'Name is blank' },
      { field: 'url', message: 'invalid' },
      { field: 'x', message: 'is invalid' },
    ]);
    expect(fieldErrorsOf({ errors: { url: ['is blank', 'is bad'] } })).toEqual([
      { field: 'url', message: 'is blank' },
      { field: 'url', message: 'is bad' },
    ]);
    expect(fieldErrorsOf('nope')).toEqual([]);
  });
});
