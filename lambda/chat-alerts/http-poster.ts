/**
 * Posting rendered alerts to a chat webhook over HTTP, with a timeout per request. Rate limits
 * (429) wait for `Retry-After`; 5xx, 408, timeouts and network errors are retried with backoff and
 * then thrown as retryable; any other 4xx is a permanent error (the service said the request itself
 * is wrong: `invalid_payload`, `channel_is_archived`, a deleted webhook's 404).
 *
 * Webhook URLs are secrets: no error message or log field here contains one.
 */
import { PermanentDeliveryError, RetryableDeliveryError } from './errors';
import type { Destination } from './model';
import type { Poster, RenderedAlert } from './ports';

export interface HttpPosterOptions {
  /** Resolves a destination's webhook URL (from its secret when deployed). */
  readonly resolveUrl: (destination: Destination) => Promise<string>;
  /** Per request. @default 5000 */
  readonly timeoutMs?: number;
  /** Requests per alert for 5xx, 408, timeouts and network errors. @default 3 */
  readonly attempts?: number;
  /** First backoff; doubles each retry. @default 500 */
  readonly baseDelayMs?: number;
  /** Rate-limit waits per alert. @default 3 */
  readonly rateLimitRetries?: number;
  /** Longest `Retry-After` honoured in-process; longer ones are thrown as retryable. @default 15000 */
  readonly maxRetryAfterMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly fetch?: typeof fetch;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (header === null || header.trim() === '') return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? 1000 : Math.max(0, date - now);
}

/** The body of an error answer, short and single-line, for the log (Slack sends codes like `invalid_payload`). */
async function reasonOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  const oneLine = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return oneLine || response.statusText || `HTTP ${response.status}`;
}

function isHttpsOrLocalUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    );
  } catch {
    return false;
  }
}

/** Posts rendered payloads to webhook URLs with `fetch`. */
export class HttpPoster implements Poster {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly rateLimitRetries: number;
  private readonly maxRetryAfterMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpPosterOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.attempts = options.attempts ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.rateLimitRetries = options.rateLimitRetries ?? 3;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 15_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.fetch = options.fetch ?? fetch;
  }

  async post(destination: Destination, alert: RenderedAlert): Promise<void> {
    const url = (await this.options.resolveUrl(destination)).trim();
    if (!isHttpsOrLocalUrl(url)) {
      throw new PermanentDeliveryError(
        destination.name,
        'its secret holds no https webhook URL yet; set it with `aws secretsmanager put-secret-value` (see docs/chat-alerts.md)',
      );
    }
    const body = JSON.stringify(alert.payload);
    let failures = 0;
    let rateLimited = 0;
    for (;;) {
      let reason: string;
      try {
        const response = await this.fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (response.ok) {
          await response.body?.cancel().catch(() => undefined);
          return;
        }
        if (response.status === 429) {
          const wait = retryAfterMs(response.headers.get('retry-after'));
          await response.body?.cancel().catch(() => undefined);
          if (rateLimited >= this.rateLimitRetries || wait > this.maxRetryAfterMs) {
            throw new RetryableDeliveryError(destination.name, `rate limited (429), Retry-After ${wait} ms`);
          }
          rateLimited += 1;
          await this.sleep(wait);
          continue;
        }
        reason = await reasonOf(response);
        if (response.status !== 408 && response.status < 500) {
          throw new PermanentDeliveryError(destination.name, reason, response.status);
        }
        reason = `HTTP ${response.status}: ${reason}`;
      } catch (error) {
        if (error instanceof PermanentDeliveryError || error instanceof RetryableDeliveryError) throw error;
        reason = describeFetchError(error, this.timeoutMs);
      }
      failures += 1;
      if (failures >= this.attempts) {
        throw new RetryableDeliveryError(destination.name, `${reason} (after ${failures} attempts)`);
      }
      await this.sleep(this.baseDelayMs * 2 ** (failures - 1));
    }
  }
}

/** A fetch failure in words that never include the URL. */
function describeFetchError(error: unknown, timeoutMs: number): string {
  // Checked by shape: the abort reason is a DOMException, not always an `Error` of this realm.
  const { name, cause } = (error ?? {}) as { name?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError' || name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  return `network error${typeof cause?.code === 'string' ? ` ${cause.code}` : ''}`;
}
