/**
 * A small client for Buildkite's REST API (`https://api.buildkite.com/v2/…`): bearer token,
 * JSON, a timeout on every request, `Link`-header pagination, and typed errors that name the
 * cause and the fix. Never puts the token in an error message.
 *
 * Used by the webhook registration script, the token rotation function and anything else that
 * reads builds or agents. Tests and local mode point it at a stand-in with `BUILDKITE_API_URL`.
 */
import { isJsonObject } from './json-object';

/** Where Buildkite's REST API lives unless `BUILDKITE_API_URL` (or `baseUrl`) says otherwise. */
export const DEFAULT_BUILDKITE_API_URL = 'https://api.buildkite.com';

/** The environment variable that points the client at another API (a local stub in tests). */
export const BUILDKITE_API_URL_ENV = 'BUILDKITE_API_URL';

/** Token scopes this project asks for, by what they allow. */
export const BUILDKITE_SCOPES = {
  readBuilds: 'read_builds',
  readAgents: 'read_agents',
  readNotificationServices: 'read_notification_services',
  writeNotificationServices: 'write_notification_services',
} as const;
export type BuildkiteScope = (typeof BUILDKITE_SCOPES)[keyof typeof BUILDKITE_SCOPES];

/** Seconds to wait after a 429 that carries no usable reset header (Buildkite's window is 1 minute). */
const DEFAULT_RETRY_AFTER_SECONDS = 60;
/** Longest part of an error body quoted in a message. */
const MAX_QUOTED_CHARS = 300;

/** The rate-limit headers of one answer (REFERENCE §3a): organization and per-token windows. */
export interface RateLimit {
  /** `RateLimit-Remaining`: requests left for the organization in this window. */
  readonly remaining?: number;
  /** `RateLimit-Reset`: seconds until the organization's window resets. */
  readonly resetSeconds?: number;
  /** `RateLimit-Limit`. */
  readonly limit?: number;
  /** `RateLimit-User-Remaining`: requests left for this token in its window. */
  readonly userRemaining?: number;
  /** `RateLimit-User-Reset`. */
  readonly userResetSeconds?: number;
}

export interface BuildkiteRestOptions {
  /** The API token, or a function that reads it (from a secret, say) before each request. */
  readonly token: string | (() => Promise<string>);
  /** @default the `BUILDKITE_API_URL` environment variable, else https://api.buildkite.com */
  readonly baseUrl?: string;
  /** Abort a request (and throw BuildkiteTimeoutError) after this long, body included. @default 10000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch, looked up per call */
  readonly fetch?: typeof fetch;
  /** @default 'kitebridge' */
  readonly userAgent?: string;
}

export interface RequestOptions {
  /** Query parameters; arrays repeat the key (`state[]=passed&state[]=failed`). */
  readonly query?: Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;
  /** A JSON body. */
  readonly body?: unknown;
  /** The scope the call needs, named in the error when Buildkite answers 403. */
  readonly scope?: BuildkiteScope;
  /** Extra values (a webhook token in the body, say) to blank out of any error message. */
  readonly redact?: readonly string[];
}

export interface BuildkiteResponse<T> {
  readonly status: number;
  /** The parsed JSON body; undefined for an empty body (204). */
  readonly body: T;
  readonly rateLimit: RateLimit;
  /** The `Link` header's `rel="next"` URL, when there is another page. */
  readonly nextUrl?: string;
}

export type BuildkiteErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'invalid'
  | 'rate-limited'
  | 'server'
  | 'timeout'
  | 'network'
  | 'unexpected';

/** Any failed call to Buildkite's API. `message` names the cause and the fix; `kind` is for code. */
export class BuildkiteApiError extends Error {
  constructor(
    readonly kind: BuildkiteErrorKind,
    readonly method: string,
    /** The request's path without its query (it never holds a secret). */
    readonly path: string,
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BuildkiteApiError';
  }
}

/** 401: the token is wrong, revoked or expired. */
export class BuildkiteUnauthorizedError extends BuildkiteApiError {
  constructor(method: string, path: string) {
    super(
      'unauthorized',
      method,
      path,
      `Buildkite refused the API token (401) on ${method} ${path}: it is wrong, revoked or expired. ` +
        'Create a new one at https://buildkite.com/user/api-access-tokens and store it in the Buildkite API token secret.',
      401,
    );
    this.name = 'BuildkiteUnauthorizedError';
  }
}

/** 403: the token lacks a scope, or its owner lacks a permission (organization admin, say). */
export class BuildkiteForbiddenError extends BuildkiteApiError {
  constructor(
    method: string,
    path: string,
    /** The scope the call needs, when the caller said. */
    readonly scope: BuildkiteScope | undefined,
    /** Buildkite's own words, when it gave some. */
    readonly detail: string | undefined,
  ) {
    const need = scope
      ? `the API token lacks the "${scope}" scope, or its owner lacks the permission (e.g. not an organization admin). ` +
        `Edit the token at https://buildkite.com/user/api-access-tokens to add "${scope}" and this organization`
      : 'the API token lacks a scope or an organization this call needs, or its owner lacks the permission. ' +
        'Check the token at https://buildkite.com/user/api-access-tokens';
    super(
      'forbidden',
      method,
      path,
      `Buildkite answered 403 Forbidden on ${method} ${path}: ${need}.${detail ? ` Buildkite said: ${detail}` : ''}`,
      403,
    );
    this.name = 'BuildkiteForbiddenError';
  }
}

/** 404: a wrong organization slug or id, or a token that cannot see the organization. */
export class BuildkiteNotFoundError extends BuildkiteApiError {
  constructor(method: string, path: string) {
    super(
      'not-found',
      method,
      path,
      `Buildkite answered 404 Not Found on ${method} ${path}: check the organization slug and the id, ` +
        'and that the API token was granted access to this organization.',
      404,
    );
    this.name = 'BuildkiteNotFoundError';
  }
}

/** One field Buildkite rejected in a 422 answer. */
export interface FieldError {
  /** The field, when Buildkite named one. */
  readonly field?: string;
  readonly message: string;
}

/** 422: Buildkite rejected the fields sent; `fieldErrors` lists them. */
export class BuildkiteValidationError extends BuildkiteApiError {
  constructor(
    method: string,
    path: string,
    readonly fieldErrors: readonly FieldError[],
    detail: string | undefined,
  ) {
    const listed = fieldErrors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
    super(
      'invalid',
      method,
      path,
      `Buildkite rejected the request (422) on ${method} ${path}: ${listed || detail || 'no details given'}. ` +
        'Fix the named fields and retry.',
      422,
    );
    this.name = 'BuildkiteValidationError';
  }
}

/** 429: a rate limit was hit; wait `retryAfterSeconds` before the next request. */
export class BuildkiteRateLimitError extends BuildkiteApiError {
  constructor(
    method: string,
    path: string,
    readonly retryAfterSeconds: number,
    readonly rateLimit: RateLimit,
    /** Which limit was exceeded: `organization`, `user` (this token), or as Buildkite named it. */
    readonly limitScope: string | undefined,
  ) {
    super(
      'rate-limited',
      method,
      path,
      `Buildkite's ${limitScope ? `${limitScope} ` : ''}rate limit was exceeded (429) on ${method} ${path}: ` +
        `wait ${retryAfterSeconds} s before the next request (limits: 200 requests a minute per organization, 50 per token).`,
      429,
    );
    this.name = 'BuildkiteRateLimitError';
  }
}

/** 5xx: Buildkite's side failed; retry later. */
export class BuildkiteServerError extends BuildkiteApiError {
  constructor(method: string, path: string, status: number) {
    super(
      'server',
      method,
      path,
      `Buildkite's API failed (${status}) on ${method} ${path}: retry later, and check https://www.buildkitestatus.com if it persists.`,
      status,
    );
    this.name = 'BuildkiteServerError';
  }
}

/** No answer within the timeout. */
export class BuildkiteTimeoutError extends BuildkiteApiError {
  constructor(
    method: string,
    path: string,
    readonly timeoutMs: number,
  ) {
    super(
      'timeout',
      method,
      path,
      `Buildkite's API did not answer ${method} ${path} within ${timeoutMs} ms: retry later, or raise the timeout.`,
    );
    this.name = 'BuildkiteTimeoutError';
  }
}

/** The request never got an answer (DNS, refused connection, TLS, reset). */
export class BuildkiteNetworkError extends BuildkiteApiError {
  constructor(
    method: string,
    path: string,
    readonly code: string,
    baseUrl: string,
  ) {
    super(
      'network',
      method,
      path,
      `Could not reach Buildkite's API at ${baseUrl} for ${method} ${path} (${code}): check the network, ` +
        `and ${BUILDKITE_API_URL_ENV} if it is set.`,
    );
    this.name = 'BuildkiteNetworkError';
  }
}

/** Any other answer: an unexpected status, or a body that is not JSON. */
export class BuildkiteUnexpectedResponseError extends BuildkiteApiError {
  constructor(method: string, path: string, status: number, what: string) {
    super(
      'unexpected',
      method,
      path,
      `Buildkite's API gave an unexpected answer to ${method} ${path} (${status}): ${what}. ` +
        `Check ${BUILDKITE_API_URL_ENV} points at Buildkite's REST API.`,
      status,
    );
    this.name = 'BuildkiteUnexpectedResponseError';
  }
}

const headerNumber = (headers: Headers, name: string): number | undefined => {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
};

/** Reads the rate-limit headers of an answer; absent or unreadable ones stay undefined. */
export function readRateLimit(headers: Headers): RateLimit {
  const entries = {
    remaining: headerNumber(headers, 'ratelimit-remaining'),
    resetSeconds: headerNumber(headers, 'ratelimit-reset'),
    limit: headerNumber(headers, 'ratelimit-limit'),
    userRemaining: headerNumber(headers, 'ratelimit-user-remaining'),
    userResetSeconds: headerNumber(headers, 'ratelimit-user-reset'),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as RateLimit;
}

/**
 * How long to wait after a 429: the reset of every exhausted window (the longest wins), else
 * the longest reset given, else `Retry-After`, else a minute. Whole seconds, at least 1.
 */
export function retryAfterSeconds(rateLimit: RateLimit, retryAfterHeader?: string | null): number {
  const exhausted: number[] = [];
  if (rateLimit.remaining === 0 && rateLimit.resetSeconds !== undefined)
    exhausted.push(rateLimit.resetSeconds);
  if (rateLimit.userRemaining === 0 && rateLimit.userResetSeconds !== undefined) {
    exhausted.push(rateLimit.userResetSeconds);
  }
  const anyReset = [rateLimit.resetSeconds, rateLimit.userResetSeconds].filter((v) => v !== undefined);
  const retryAfter =
    retryAfterHeader != null && /^\d+$/.test(retryAfterHeader.trim()) ? Number(retryAfterHeader) : undefined;
  const seconds = exhausted.length
    ? Math.max(...exhausted)
    : anyReset.length
      ? Math.max(...anyReset)
      : (retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS);
  return Math.max(1, Math.ceil(seconds));
}

/** The `rel="next"` target of a `Link` header (RFC 8288), if any. */
export function nextLink(link: string | null | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rels = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2] ?? '')?.[1];
    if (rels?.split(/\s+/).some((r) => r.toLowerCase() === 'next')) return match[1];
  }
  return undefined;
}

/** Reads Buildkite's 422 body into field errors: `errors` as objects, strings or a field map. */
export function fieldErrorsOf(body: unknown): FieldError[] {
  if (!isJsonObject(body)) return [];
  const errors = body.errors;
  const out: FieldError[] = [];
  if (Array.isArray(errors)) {
    for (const e of errors) {
      if (typeof e === 'string') out.push({ message: e });
      else if (isJsonObject(e)) {
        const field = typeof e.field === 'string' ? e.field : undefined;
        const message =
          typeof e.message === 'string' ? e.message : typeof e.code === 'string' ? e.code : 'is invalid';
        out.push(field === undefined ? { message } : { field, message });
      }
    }
  } else if (isJsonObject(errors)) {
    for (const [field, value] of Object.entries(errors)) {
      const messages = Array.isArray(value) ? value : [value];
      for (const m of messages) out.push({ field, message: typeof m === 'string' ? m : 'is invalid' });
    }
  }
  return out;
}

const messageOf = (body: unknown): string | undefined =>
  isJsonObject(body) && typeof body.message === 'string' ? body.message : undefined;

const errorName = (error: unknown): string =>
  isJsonObject(error) || error instanceof Error ? String((error as { name?: unknown }).name ?? '') : '';

/** A client for Buildkite's REST API. Every method throws a BuildkiteApiError on failure. */
export class BuildkiteRestClient {
  /** The API's origin, without a trailing slash. */
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(private readonly options: BuildkiteRestOptions) {
    const base = options.baseUrl ?? process.env[BUILDKITE_API_URL_ENV] ?? DEFAULT_BUILDKITE_API_URL;
    let parsed: URL;
    try {
      parsed = new URL(base);
    } catch {
      throw new Error(
        `${BUILDKITE_API_URL_ENV} must be a URL such as ${DEFAULT_BUILDKITE_API_URL}, got "${base}".`,
      );
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new Error(`${BUILDKITE_API_URL_ENV} must be an http(s) URL, got "${base}".`);
    }
    this.baseUrl = base.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.userAgent = options.userAgent ?? 'kitebridge';
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<BuildkiteResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<BuildkiteResponse<T>> {
    return this.request<T>('POST', path, { ...options, body });
  }

  patch<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<BuildkiteResponse<T>> {
    return this.request<T>('PATCH', path, { ...options, body });
  }

  put<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<BuildkiteResponse<T>> {
    return this.request<T>('PUT', path, { ...options, body });
  }

  delete<T = undefined>(path: string, options: RequestOptions = {}): Promise<BuildkiteResponse<T>> {
    return this.request<T>('DELETE', path, options);
  }

  /**
   * Yields each page of a list endpoint, following `Link: <…>; rel="next"` until there is none
   * or `maxPages` were read. Next links are only followed on the API's own origin, so the token
   * is never sent anywhere else.
   */
  async *pages<T>(
    path: string,
    options: RequestOptions & { readonly maxPages?: number } = {},
  ): AsyncGenerator<BuildkiteResponse<T[]>> {
    const maxPages = options.maxPages ?? Number.POSITIVE_INFINITY;
    let url: string | undefined = this.url(path, options.query);
    for (let page = 0; url !== undefined && page < maxPages; page++) {
      const response: BuildkiteResponse<T[]> = await this.send<T[]>('GET', url, options);
      if (!Array.isArray(response.body)) {
        throw new BuildkiteUnexpectedResponseError(
          'GET',
          pathOf(url),
          response.status,
          'a list was expected',
        );
      }
      yield response;
      url = response.nextUrl;
    }
  }

  /** Every item of a list endpoint, all pages concatenated (at most `maxPages`). */
  async list<T>(path: string, options: RequestOptions & { readonly maxPages?: number } = {}): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.pages<T>(path, options)) items.push(...page.body);
    return items;
  }

  /** One call; `path` starts with `/v2/…`. */
  async request<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<BuildkiteResponse<T>> {
    return this.send<T>(method, this.url(path, options.query), options);
  }

  private url(path: string, query: RequestOptions['query']): string {
    if (!path.startsWith('/')) throw new Error(`A Buildkite API path starts with "/", got "${path}".`);
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, v);
      else url.searchParams.append(key, String(value));
    }
    return url.toString();
  }

  private async send<T>(method: string, url: string, options: RequestOptions): Promise<BuildkiteResponse<T>> {
    const path = pathOf(url);
    if (new URL(url).origin !== new URL(this.baseUrl).origin) {
      throw new BuildkiteUnexpectedResponseError(
        method,
        path,
        0,
        `a link led to another origin (${new URL(url).origin})`,
      );
    }
    const token = typeof this.options.token === 'string' ? this.options.token : await this.options.token();
    const redact = [token, ...(options.redact ?? [])].filter((s) => s.length > 0);
    const clean = (text: string | undefined): string | undefined => {
      if (text === undefined) return undefined;
      // Redacted before it is cut: a cut first could leave the start of a secret that ran past it.
      let out = text;
      for (const secret of redact) out = out.split(secret).join('[redacted]');
      return out.slice(0, MAX_QUOTED_CHARS);
    };
    const signal = AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let headers: Headers;
    let text: string;
    try {
      const response = await (this.options.fetch ?? globalThis.fetch)(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'user-agent': this.userAgent,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        redirect: 'error',
        signal,
      });
      status = response.status;
      headers = response.headers;
      text = await response.text();
    } catch (error) {
      const name = errorName(error);
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new BuildkiteTimeoutError(method, path, this.timeoutMs);
      const code = (error as { cause?: { code?: unknown } })?.cause?.code;
      throw new BuildkiteNetworkError(
        method,
        path,
        typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'UNKNOWN',
        this.baseUrl,
      );
    }

    let body: unknown = undefined;
    let parsed = true;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        parsed = false;
      }
    }
    const rateLimit = readRateLimit(headers);

    if (status >= 200 && status < 300) {
      if (!parsed) throw new BuildkiteUnexpectedResponseError(method, path, status, 'the body is not JSON');
      const link = nextLink(headers.get('link'));
      const next = link === undefined ? undefined : new URL(link, url).toString();
      return { status, body: body as T, rateLimit, ...(next === undefined ? {} : { nextUrl: next }) };
    }
    const detail = clean(messageOf(body) ?? (parsed ? undefined : text.trim() || undefined));
    switch (status) {
      case 401:
        throw new BuildkiteUnauthorizedError(method, path);
      case 403:
        throw new BuildkiteForbiddenError(method, path, options.scope, detail);
      case 404:
        throw new BuildkiteNotFoundError(method, path);
      case 422:
        throw new BuildkiteValidationError(
          method,
          path,
          fieldErrorsOf(body).map((e) => ({ ...e, message: clean(e.message) ?? '' })),
          detail,
        );
      case 429: {
        const named = isJsonObject(body) && typeof body.scope === 'string' ? body.scope : undefined;
        const inferred =
          rateLimit.userRemaining === 0 ? 'user' : rateLimit.remaining === 0 ? 'organization' : undefined;
        throw new BuildkiteRateLimitError(
          method,
          path,
          retryAfterSeconds(rateLimit, headers.get('retry-after')),
          rateLimit,
          clean(named) ?? inferred,
        );
      }
      default:
        if (status >= 500) throw new BuildkiteServerError(method, path, status);
        throw new BuildkiteUnexpectedResponseError(method, path, status, detail ?? 'no message');
    }
  }
}

/** The path of a URL without its query. */
function pathOf(url: string): string {
  return new URL(url).pathname;
}

/** What the stack puts in the Buildkite API token secret until someone stores a token there. */
export const BUILDKITE_API_TOKEN_PLACEHOLDER = 'REPLACE_WITH_BUILDKITE_API_TOKEN';

/**
 * The scopes the API token needs for everything kitebridge does with it (README: Register in
 * Buildkite): builds for reconciliation, agents for the autoscaler's re-check before a scale-in,
 * notification services for register and rotation.
 */
export const REQUIRED_BUILDKITE_SCOPES: readonly BuildkiteScope[] = [
  BUILDKITE_SCOPES.readBuilds,
  BUILDKITE_SCOPES.readAgents,
  BUILDKITE_SCOPES.readNotificationServices,
  BUILDKITE_SCOPES.writeNotificationServices,
];

/**
 * The API token held by the Buildkite API token secret: the value itself, or `{"token": "…"}`.
 * Throws, without quoting the value, when it is still the placeholder or holds no token.
 */
export function apiTokenFromSecret(value: string | undefined): string {
  const trimmed = value?.trim() ?? '';
  let token = trimmed;
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error(
        'The Buildkite API token secret looks like JSON but does not parse: store the token itself.',
      );
    }
    token = isJsonObject(parsed) && typeof parsed.token === 'string' ? parsed.token.trim() : '';
  }
  if (token === '' || token === BUILDKITE_API_TOKEN_PLACEHOLDER) {
    throw new Error(
      'The Buildkite API token secret holds no token yet: create one at https://buildkite.com/user/api-access-tokens ' +
        `with the scopes ${REQUIRED_BUILDKITE_SCOPES.join(', ')}, then store it with ` +
        'aws secretsmanager put-secret-value --secret-id <BuildkiteApiTokenSecretArn> --secret-string file:///dev/stdin (README: Register in Buildkite).',
    );
  }
  return token;
}
