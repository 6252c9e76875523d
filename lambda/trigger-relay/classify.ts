import type { PostResult } from './ports';

/** What to do after one POST to a Buildkite pipeline trigger. */
export type Classification =
  /** Buildkite accepted it and will start a build; `buildkiteId` is its delivery id when it sent one. */
  | { readonly kind: 'delivered'; readonly status: number; readonly buildkiteId?: string }
  /** Worth trying again later (rate limited, Buildkite trouble, no answer). */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterSeconds?: number }
  /** Trying again cannot help (bad, disabled or deleted trigger): dead-letter it. */
  | { readonly kind: 'permanent'; readonly reason: string };

/** Statuses that may succeed on a later attempt; every other 4xx is the request's or trigger's fault. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

const STATUS_MEANING: Readonly<Record<number, string>> = {
  400: 'invalid pipeline trigger token',
  403: 'the pipeline trigger is disabled',
  404: 'the pipeline trigger was not found',
  429: 'rate limited',
};

/**
 * Classifies Buildkite's answer (REFERENCE §5): `201 {"id"}` → delivered; 400 (invalid token),
 * 403 (disabled), 404 (not found) and other 4xx → permanent; 408, 429, 5xx, a timeout or no
 * answer at all → retry. A timeout is ambiguous (Buildkite may have started the build), but
 * dropping a request is worse than a rare second build, so it is retried.
 * Reasons carry the status and Buildkite's message, never the URL.
 */
export function classify(result: PostResult, now: number = Date.now()): Classification {
  if (result.kind === 'timeout') return { kind: 'retry', reason: `no answer within ${result.afterMs} ms` };
  if (result.kind === 'network-error') return { kind: 'retry', reason: `network error ${result.code}` };

  const { status } = result;
  if (status >= 200 && status < 300) {
    const buildkiteId = deliveryId(result.body);
    return buildkiteId === undefined
      ? { kind: 'delivered', status }
      : { kind: 'delivered', status, buildkiteId };
  }
  const reason = describeAnswer(status, result.body);
  if (status >= 500 || RETRYABLE_4XX.has(status)) {
    const retryAfterSeconds = parseRetryAfter(result.retryAfter, now);
    return retryAfterSeconds === undefined
      ? { kind: 'retry', reason }
      : { kind: 'retry', reason, retryAfterSeconds };
  }
  if (status >= 300 && status < 400) {
    return {
      kind: 'permanent',
      reason: `Buildkite answered ${status} (a redirect); the trigger URL is wrong`,
    };
  }
  return { kind: 'permanent', reason };
}

/** Buildkite's delivery id from a `{"id": "<uuid>"}` answer. */
function deliveryId(body: string | undefined): string | undefined {
  const parsed = parseJson(body);
  const id = parsed?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 200 ? id : undefined;
}

function describeAnswer(status: number, body: string | undefined): string {
  const message = parseJson(body)?.message;
  const text = typeof message === 'string' ? message.replace(/\s+/g, ' ').slice(0, 200) : undefined;
  const meaning = STATUS_MEANING[status] ?? (status >= 500 ? 'Buildkite error' : 'request refused');
  return `Buildkite answered ${status} (${meaning})${text ? `: ${text}` : ''}`;
}

function parseJson(body: string | undefined): Record<string, unknown> | undefined {
  if (body === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `Retry-After` as seconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export interface BackoffSettings {
  /** Delay after the first failure. @default 30 */
  readonly baseSeconds: number;
  /** Longest delay. @default 900 (the SQS DelaySeconds maximum) */
  readonly maxSeconds: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseSeconds: 30, maxSeconds: 900 };

/**
 * Seconds to wait after failure number `attempt` (1-based): exponential with equal jitter,
 * at least what `Retry-After` asked for, capped at `maxSeconds` unless Retry-After asked for more.
 */
export function backoffSeconds(
  attempt: number,
  settings: BackoffSettings = DEFAULT_BACKOFF,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxSeconds, settings.baseSeconds * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.ceil(ceiling / 2 + (random() * ceiling) / 2);
  return Math.max(1, jittered, retryAfterSeconds ?? 0);
}
