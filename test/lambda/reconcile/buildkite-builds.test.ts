import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApiBuildSource, pacingWaitSeconds } from '../../../lambda/reconcile/buildkite-builds';
import { PageLimitReached, RateBudgetSpent, type BuildPage } from '../../../lambda/reconcile/ports';
import {
  BuildkiteForbiddenError,
  BuildkiteRestClient,
  BuildkiteUnexpectedResponseError,
} from '../../../lambda/shared/buildkite-rest';
import { closeServer, listenOnLoopback } from '../../support/http-server';

type Answer = { status: number; headers?: Record<string, string>; body: unknown };

let server: Server;
let baseUrl: string;
let answers: ((req: IncomingMessage) => Answer)[];
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.url ?? '');
    const next = answers.shift();
    const answer = next ? next(req) : { status: 500, body: { message: 'no answer planned' } };
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  });
  baseUrl = await listenOnLoopback(server);
});
afterAll(() => closeServer(server));
beforeEach(() => {
  seen.length = 0;
  answers = [];
});

const build = (n: number) => ({
  id: `b-${n}`,
  number: n,
  state: 'passed',
  finished_at: '2026-12-06T11:00:00Z',
});
const FROM = new Date('2026-12-06T11:00:00Z');

function source(options: { remainingMs?: number; maxPages?: number; reserve?: number } = {}) {
  const sleeps: number[] = [];
  const client = new BuildkiteRestClient({ token: 'bkua_token', baseUrl, timeoutMs: 30_000 });
  const builds = new ApiBuildSource(client, 'acme', {
    remainingMs: () => options.remainingMs ?? 120_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...(options.maxPages ? { maxPages: options.maxPages } : {}),
    ...(options.reserve !== undefined ? { reserve: options.reserve } : {}),
  });
  return { builds, sleeps };
}

async function readAll(iterable: AsyncIterable<BuildPage>): Promise<BuildPage[]> {
  const pages: BuildPage[] = [];
  for await (const page of iterable) pages.push(page);
  return pages;
}

describe('ApiBuildSource', () => {
  it('asks for builds finished since the window start in finished states, 100 a page, and follows Link to the end', async () => {
    answers = [
      () => ({
        status: 200,
        headers: { Link: `<${baseUrl}/v2/organizations/acme/builds?page=2&per_page=100>; rel="next"` },
        body: [build(1), build(2)],
      }),
      () => ({ status: 200, body: [build(3)] }),
    ];
    const { builds, sleeps } = source();

    const pages = await readAll(builds.finishedBuilds(FROM));

    expect(pages.map((p) => p.builds.map((b) => b.number))).toEqual([[1, 2], [3]]);
    expect(pages.map((p) => p.requests)).toEqual([1, 1]);
    const first = new URL(seen[0]!, baseUrl);
    expect(first.pathname).toBe('/v2/organizations/acme/builds');
    expect(first.searchParams.get('finished_from')).toBe('2026-12-06T11:00:00.000Z');
    expect(first.searchParams.getAll('state[]')).toEqual(['passed', 'failed', 'canceled']);
    expect(first.searchParams.get('per_page')).toBe('100');
    expect(seen[1]).toBe('/v2/organizations/acme/builds?page=2&per_page=100');
    expect(sleeps).toEqual([]);
  });

  it('follows next links under an API base URL that has a path, and refuses one leading elsewhere', async () => {
    answers = [
      () => ({
        status: 200,
        headers: { Link: `<${baseUrl}/proxy/v2/organizations/acme/builds?page=2>; rel="next"` },
        body: [build(1)],
      }),
      () => ({
        status: 200,
        headers: { Link: '<https://elsewhere.example/v2/organizations/acme/builds?page=3>; rel="next"' },
        body: [build(2)],
      }),
    ];
    const client = new BuildkiteRestClient({
      token: 'bkua_token',
      baseUrl: `${baseUrl}/proxy`,
      timeoutMs: 30_000,
    });
    const builds = new ApiBuildSource(client, 'acme', { remainingMs: () => 120_000, sleep: async () => {} });
    const pages: BuildPage[] = [];
    const error = await (async () => {
      for await (const p of builds.finishedBuilds(FROM)) pages.push(p);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(seen.map((u) => new URL(u, baseUrl).pathname)).toEqual([
      '/proxy/v2/organizations/acme/builds',
      '/proxy/v2/organizations/acme/builds',
    ]);
    expect(seen[1]).toBe('/proxy/v2/organizations/acme/builds?page=2');
    expect(pages).toHaveLength(2);
    expect(error).toBeInstanceOf(BuildkiteUnexpectedResponseError);
    expect((error as Error).message).toContain('outside');
  });

  it('stops after maxPages', async () => {
    const page = () => ({
      status: 200,
      headers: { Link: `<${baseUrl}/v2/organizations/acme/builds?page=9>; rel="next"` },
      body: [build(1)],
    });
    answers = [page, page, page];
    const pages: BuildPage[] = [];
    const reading = (async () => {
      for await (const p of source({ maxPages: 2 }).builds.finishedBuilds(FROM)) pages.push(p);
    })();
    // Buildkite had more: the older builds went unchecked, which the run must say (and how to fix it).
    const error = await reading.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PageLimitReached);
    expect((error as Error).message).toMatch(/maxPages.*cdk\.json/);
    expect(pages).toHaveLength(2);
    expect(seen).toHaveLength(2);
  });

  it('reads exactly maxPages pages without complaint when the last one has no next link', async () => {
    const more = () => ({
      status: 200,
      headers: { Link: `<${baseUrl}/v2/organizations/acme/builds?page=2>; rel="next"` },
      body: [build(1)],
    });
    answers = [more, () => ({ status: 200, body: [build(2)] })];
    const pages = await readAll(source({ maxPages: 2 }).builds.finishedBuilds(FROM));
    expect(pages).toHaveLength(2);
  });

  it('waits out a 429 for the reset the headers give, then reads the same page again', async () => {
    answers = [
      () => ({
        status: 429,
        headers: { 'RateLimit-User-Remaining': '0', 'RateLimit-User-Reset': '17' },
        body: { message: 'Rate limit exceeded', scope: 'user' },
      }),
      () => ({ status: 200, body: [build(1)] }),
    ];
    const { builds, sleeps } = source();

    const pages = await readAll(builds.finishedBuilds(FROM));

    expect(sleeps).toEqual([17_000]);
    expect(pages).toEqual([{ builds: [build(1)], requests: 2 }]);
    expect(seen[0]).toBe(seen[1]);
  });

  it('stops the run (RateBudgetSpent) when the reset is later than the run may wait', async () => {
    answers = [
      () => ({
        status: 429,
        headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '50' },
        body: { message: 'Rate limit exceeded', scope: 'organization' },
      }),
    ];
    const { builds, sleeps } = source({ remainingMs: 20_000 });

    const error = await readAll(builds.finishedBuilds(FROM)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RateBudgetSpent);
    expect(error).toMatchObject({ waitSeconds: 50, requests: 1 });
    expect(sleeps).toEqual([]);
  });

  it('paces between pages when a window is down to the reserve, leaving requests to everything else', async () => {
    answers = [
      () => ({
        status: 200,
        headers: {
          Link: `<${baseUrl}/v2/organizations/acme/builds?page=2>; rel="next"`,
          'RateLimit-Remaining': '150',
          'RateLimit-Reset': '40',
          'RateLimit-User-Remaining': '10',
          'RateLimit-User-Reset': '25',
        },
        body: [build(1)],
      }),
      () => ({ status: 200, body: [build(2)] }),
    ];
    const { builds, sleeps } = source({ reserve: 10 });

    await readAll(builds.finishedBuilds(FROM));

    expect(sleeps).toEqual([25_000]);
  });

  it('lets other errors through: a token without read_builds is named as such', async () => {
    answers = [() => ({ status: 403, body: { message: 'Forbidden' } })];
    const error = await readAll(source().builds.finishedBuilds(FROM)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildkiteForbiddenError);
    expect((error as Error).message).toContain('"read_builds"');
  });
});

describe('pacingWaitSeconds', () => {
  it.each([
    [{}, 0],
    [{ remaining: 100, resetSeconds: 30 }, 0],
    [{ remaining: 10, resetSeconds: 30 }, 30],
    [{ remaining: 5 }, 60],
    [{ remaining: 3, resetSeconds: 30, userRemaining: 2, userResetSeconds: 45 }, 45],
    [{ userRemaining: 11, userResetSeconds: 45 }, 0],
  ])('%j → %i s', (rateLimit, expected) => {
    expect(pacingWaitSeconds(rateLimit, 10)).toBe(expected);
  });
});
