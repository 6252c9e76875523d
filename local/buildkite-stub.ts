/**
 * A stand-in for Buildkite's REST API (REFERENCE §3a), in memory: the organization's notification
 * services (list, create, read, update, delete) and its builds (listed by `finished_from` and
 * `state[]`, paginated by `Link` header). Point `BUILDKITE_API_URL` at it to run `npm run register`
 * or a rotation without Buildkite, and tests use it as Buildkite.
 *
 *   npm run buildkite-stub            # listens on BUILDKITE_STUB_PORT (default 8788)
 *
 * It checks the bearer token, the token's scopes (403) and the organization (404), validates
 * webhook fields (422) and sends the rate-limit headers; it never calls out (no ping is sent).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isJsonObject } from '../lambda/shared/json-object';

export interface StubService {
  id: string;
  provider: string;
  description: string;
  enabled: boolean;
  settings: Record<string, unknown>;
}

export interface StubBuild {
  readonly id: string;
  readonly number: number;
  readonly state: string;
  readonly finished_at?: string;
  readonly [field: string]: unknown;
}

export interface BuildkiteStubOptions {
  readonly organization: string;
  /** The API token it accepts. */
  readonly apiToken: string;
  /** The token's scopes. @default every scope kitebridge uses */
  readonly scopes?: readonly string[];
  /** Whether the token's owner may change notification services (an organization admin). @default true */
  readonly admin?: boolean;
  /** @default 8788 on 127.0.0.1; 0 picks a free port */
  readonly port?: number;
  readonly host?: string;
}

/** The stub's memory, open to tests: change it between calls. */
export interface BuildkiteStubState {
  readonly services: StubService[];
  readonly builds: StubBuild[];
  /** Every request, in order: method, path and query, and the body for writes. */
  readonly requests: { method: string; url: string; body?: unknown }[];
  scopes: string[];
  admin: boolean;
}

export interface BuildkiteStub {
  /** The base URL for `BUILDKITE_API_URL`. */
  readonly url: string;
  readonly state: BuildkiteStubState;
  close(): Promise<void>;
}

const EVERY_SCOPE = ['read_builds', 'read_notification_services', 'write_notification_services'];
const RATE_LIMIT = 200;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  return JSON.parse(text) as unknown;
}

/** Field errors for a webhook's settings, as Buildkite's 422 lists them. */
function settingsErrors(settings: Record<string, unknown>): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  try {
    const url = new URL(String(settings.url ?? ''));
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
  } catch {
    errors.push({ field: 'settings.url', message: 'is not a valid URL' });
  }
  if (
    settings.token_mode !== undefined &&
    settings.token_mode !== 'token' &&
    settings.token_mode !== 'signature'
  ) {
    errors.push({ field: 'settings.token_mode', message: 'must be token or signature' });
  }
  if (settings.events !== undefined && !Array.isArray(settings.events)) {
    errors.push({ field: 'settings.events', message: 'must be a list of event names' });
  }
  return errors;
}

/** One page of `items` and the `Link` header pointing at the next, as Buildkite paginates. */
function page<T>(items: readonly T[], url: URL): { items: T[]; link?: string } {
  const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') ?? 30) || 30, 1), 100);
  const pageNo = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
  const slice = items.slice((pageNo - 1) * perPage, pageNo * perPage);
  if (pageNo * perPage >= items.length) return { items: slice };
  const next = new URL(url);
  next.searchParams.set('page', String(pageNo + 1));
  return { items: slice, link: `<${next.toString()}>; rel="next"` };
}

/** Starts the stub; `close()` stops it. */
export async function startBuildkiteStub(options: BuildkiteStubOptions): Promise<BuildkiteStub> {
  const state: BuildkiteStubState = {
    services: [],
    builds: [],
    requests: [],
    scopes: [...(options.scopes ?? EVERY_SCOPE)],
    admin: options.admin ?? true,
  };
  let windowStart = Date.now();
  let used = 0;
  let base = '';

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Links name the host the client asked for (localhost or 127.0.0.1), as a real server's do.
    const url = new URL(req.url ?? '/', req.headers.host ? `http://${req.headers.host}` : base);
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(req);
    } catch {
      send(res, 400, { message: 'Body is not JSON' });
      return;
    }
    state.requests.push({ method, url: url.pathname + url.search, ...(body === undefined ? {} : { body }) });

    if (Date.now() - windowStart >= 60_000) {
      windowStart = Date.now();
      used = 0;
    }
    used++;
    const limits = {
      'RateLimit-Limit': String(RATE_LIMIT),
      'RateLimit-Remaining': String(Math.max(RATE_LIMIT - used, 0)),
      'RateLimit-Reset': String(Math.max(Math.ceil((windowStart + 60_000 - Date.now()) / 1000), 0)),
    };
    const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) =>
      send(res, status, payload, { ...limits, ...headers });
    if (used > RATE_LIMIT)
      return reply(429, { message: 'You have exceeded your rate limit', scope: 'organization' });

    if (req.headers.authorization !== `Bearer ${options.apiToken}`) {
      return reply(401, { message: 'Authentication required. Please supply a valid API Access Token' });
    }
    const match = /^\/v2\/organizations\/([^/]+)\/(services|builds)(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!match) return reply(404, { message: 'Not Found' });
    const [, org, collection, id] = match;
    if (decodeURIComponent(org ?? '') !== options.organization)
      return reply(404, { message: 'No organization found' });
    const needScope = (scope: string) => {
      if (state.scopes.includes(scope)) return false;
      reply(403, { message: `Your access token does not have the ${scope} scope` });
      return true;
    };

    if (collection === 'builds') {
      if (method !== 'GET' || id !== undefined) return reply(404, { message: 'Not Found' });
      if (needScope('read_builds')) return;
      const from = url.searchParams.get('finished_from');
      const states = url.searchParams.getAll('state[]');
      const matching = state.builds.filter(
        (b) =>
          (from === null || (b.finished_at !== undefined && Date.parse(b.finished_at) >= Date.parse(from))) &&
          (states.length === 0 || states.includes(b.state)),
      );
      const { items, link } = page(matching, url);
      return reply(200, items, link ? { Link: link } : {});
    }

    const write = method !== 'GET';
    if (needScope(write ? 'write_notification_services' : 'read_notification_services')) return;
    if (write && !state.admin) {
      return reply(403, {
        message: 'You must be an organization administrator to change notification services',
      });
    }
    if (id === undefined) {
      if (method === 'GET') {
        const { items, link } = page(state.services, url);
        return reply(200, items, link ? { Link: link } : {});
      }
      if (method !== 'POST') return reply(404, { message: 'Not Found' });
      if (!isJsonObject(body))
        return reply(422, {
          message: 'Validation Failed',
          errors: [{ field: 'provider', message: 'is required' }],
        });
      const settings = isJsonObject(body.settings) ? body.settings : {};
      const errors = [
        ...(body.provider === 'webhook' ? [] : [{ field: 'provider', message: 'must be webhook' }]),
        ...settingsErrors(settings),
      ];
      if (errors.length) return reply(422, { message: 'Validation Failed', errors });
      if (state.services.filter((s) => s.provider === 'webhook').length >= 15) {
        return reply(422, {
          message: 'Validation Failed',
          errors: ['An organization can have at most 15 webhooks'],
        });
      }
      const service: StubService = {
        id: randomUUID(),
        provider: 'webhook',
        description: typeof body.description === 'string' ? body.description : '',
        enabled: true,
        settings: { ...settings },
      };
      state.services.push(service);
      return reply(201, service);
    }
    const service = state.services.find((s) => s.id === id);
    if (!service) return reply(404, { message: 'No notification service found' });
    if (method === 'GET') return reply(200, service);
    if (method === 'DELETE') {
      state.services.splice(state.services.indexOf(service), 1);
      return reply(204, undefined);
    }
    if (method !== 'PATCH') return reply(404, { message: 'Not Found' });
    if (!isJsonObject(body))
      return reply(422, { message: 'Validation Failed', errors: ['body must be an object'] });
    const settings = isJsonObject(body.settings)
      ? { ...service.settings, ...body.settings }
      : service.settings;
    const errors = settingsErrors(settings);
    if (errors.length) return reply(422, { message: 'Validation Failed', errors });
    service.settings = settings;
    if (typeof body.description === 'string') service.description = body.description;
    return reply(200, service);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { message: 'stub failure' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8788, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  base = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url: base,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (require.main === module) {
  const organization = process.env.BUILDKITE_ORGANIZATION ?? 'local';
  const apiToken = process.env.BUILDKITE_API_TOKEN ?? 'local-api-token';
  startBuildkiteStub({ organization, apiToken, port: Number(process.env.BUILDKITE_STUB_PORT ?? 8788) }).then(
    (stub) => {
      console.log(`Buildkite API stub for organization "${organization}" at ${stub.url}`);
      console.log('Use it from another terminal with:');
      console.log(`  export BUILDKITE_API_URL=${stub.url} BUILDKITE_API_TOKEN=${apiToken}`);
      console.log('Ctrl-C stops it (its memory goes with it).');
    },
    (error: unknown) => {
      console.error(`buildkite-stub: ${(error as Error).message}`);
      process.exitCode = 1;
    },
  );
}
