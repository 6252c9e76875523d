import type { PostResult, TriggerPoster } from './ports';
import { PermanentRelayError } from './app';

/** Longest part of an answer's body kept for classification (Buildkite answers are tiny). */
const MAX_ANSWER_CHARS = 4096;

/** Placeholder the stack puts in every trigger-URL secret until someone fills it in. */
export const TRIGGER_URL_PLACEHOLDER = 'REPLACE_WITH_BUILDKITE_PIPELINE_TRIGGER_URL';

export interface FetchPosterOptions {
  /** Abort the request (and count it as a timeout) after this long. @default 10000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * POSTs with fetch and `AbortSignal.timeout`. Never throws and never puts the URL in what it
 * returns: any failure becomes a timeout or a network-error code (`ECONNREFUSED`, …), because
 * fetch's own messages can quote the URL. Redirects are not followed: a trigger URL that
 * redirects is wrong, and following would turn the POST into a GET.
 */
export class FetchTriggerPoster implements TriggerPoster {
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch | undefined;

  constructor(options: FetchPosterOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetch = options.fetch;
  }

  async post(url: string, body: string | Buffer): Promise<PostResult> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    try {
      // globalThis.fetch is looked up per call, so instrumentation (and tests) can wrap it.
      response = await (this.fetch ?? globalThis.fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'kitebridge-trigger-relay' },
        body: typeof body === 'string' ? body : new Uint8Array(body),
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      return this.failure(error);
    }
    let text: string | undefined;
    try {
      text = (await response.text()).slice(0, MAX_ANSWER_CHARS);
    } catch {
      // The status line arrived; a body cut short (timeout, reset) still tells us the outcome.
      text = undefined;
    }
    const retryAfter = response.headers.get('retry-after') ?? undefined;
    return {
      kind: 'response',
      status: response.status,
      ...(text === undefined ? {} : { body: text }),
      ...(retryAfter === undefined ? {} : { retryAfter }),
    };
  }

  private failure(error: unknown): PostResult {
    // Duck-typed: fetch's errors may come from another realm (a DOMException for timeouts).
    const { name, cause } = (error ?? {}) as { name?: unknown; cause?: { code?: unknown } };
    if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout', afterMs: this.timeoutMs };
    const code = typeof cause?.code === 'string' && /^[A-Z0-9_]+$/.test(cause.code) ? cause.code : 'UNKNOWN';
    return { kind: 'network-error', code };
  }
}

/**
 * Checks a trigger URL read from a secret and returns it trimmed. Errors name the trigger,
 * never the value. `allowHttp` is for local mode, where the stand-in for Buildkite is plain HTTP.
 */
export function checkTriggerUrl(trigger: string, value: string | undefined, allowHttp = false): string {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '' || trimmed === TRIGGER_URL_PLACEHOLDER) {
    throw new PermanentRelayError(
      `The Buildkite trigger URL of trigger "${trigger}" is not set: put it in the trigger's URL secret, then redrive the dead-letter queue.`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new PermanentRelayError(`The URL secret of trigger "${trigger}" does not hold a URL.`);
  }
  const schemes = allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(parsed.protocol)) {
    throw new PermanentRelayError(`The URL secret of trigger "${trigger}" must hold an https:// URL.`);
  }
  return trimmed;
}
