import type { ErrorCode } from './answers';
import { acceptedTokens, readWebhookSecret, type WebhookSecret } from './tokens';

/**
 * How long the deployed verify function serves a secret's value from memory before reading it
 * again. The webhook token rotation waits longer than this between making the current secret
 * accept a new token and giving that token to Buildkite, and keeps the old token longer than this.
 */
export const VERIFY_SECRET_CACHE_SECONDS = 300;

/** Fetches the secret's current value; `fresh` bypasses any cache underneath. */
export type SecretFetcher = (fresh: boolean) => Promise<string>;

export interface TokenSourceOptions {
  /** Minimum time between forced refetches after a failed verification. @default 30 s */
  readonly refetchIntervalMs?: number;
  readonly now?: () => number;
}

export class SecretUnavailableError extends Error {
  constructor(cause: unknown) {
    super('The webhook secret could not be read.', { cause });
    this.name = 'SecretUnavailableError';
  }
}

/**
 * The accepted webhook tokens, cached. The fetcher does the time-based caching (deployed: the
 * cached `GetSecretValue` in `aws-adapters.ts`; locally: the data folder's secret file); this
 * class adds what a verifier needs on top:
 * - after a verification failure, one forced refetch at most every `refetchIntervalMs`, so a
 *   rotated token is picked up within seconds but bad requests cannot hammer Secrets Manager;
 * - when a fetch fails and a value was read before, the last good value keeps serving;
 * - a rotation's previous token is dropped once its `previousExpiresAt` has passed (by `now`),
 *   without waiting for the cache: the value is read once and its accepted tokens re-derived
 *   only when that moment is crossed.
 */
export class TokenSource {
  private lastGood: WebhookSecret | undefined;
  private lastValue: string | undefined;
  /** The tokens `lastGood` accepts, valid until `acceptedUntil` (ms since the epoch). */
  private accepted: string[] = [];
  private acceptedUntil = Number.NEGATIVE_INFINITY;
  private lastForcedAt = Number.NEGATIVE_INFINITY;
  private inflightForced: Promise<string[] | undefined> | undefined;
  private readonly refetchIntervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly fetcher: SecretFetcher,
    options: TokenSourceOptions = {},
  ) {
    this.refetchIntervalMs = options.refetchIntervalMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** The accepted tokens; throws SecretUnavailableError when none could ever be read. */
  async tokens(): Promise<string[]> {
    try {
      this.remember(await this.fetcher(false));
    } catch (error) {
      if (!this.lastGood) throw new SecretUnavailableError(error);
    }
    return this.current();
  }

  /**
   * Called after a credential did not match: refetches the secret, bypassing caches, unless
   * that was done less than `refetchIntervalMs` ago. Returns the new tokens when they differ
   * from the ones just tried, otherwise undefined.
   */
  async refreshAfterMismatch(tried: readonly string[]): Promise<string[] | undefined> {
    if (this.inflightForced) return this.inflightForced;
    if (this.now() - this.lastForcedAt < this.refetchIntervalMs) return undefined;
    this.lastForcedAt = this.now();
    this.inflightForced = (async () => {
      try {
        this.remember(await this.fetcher(true));
        const fresh = this.current();
        const changed = fresh.length !== tried.length || fresh.some((t, i) => t !== tried[i]);
        return changed ? fresh : undefined;
      } catch {
        return undefined;
      } finally {
        this.inflightForced = undefined;
      }
    })();
    return this.inflightForced;
  }

  private remember(value: string): void {
    // The fetcher mostly returns the same cached string: parse it once.
    if (value === this.lastValue && this.lastGood) return;
    this.lastGood = readWebhookSecret(value);
    this.lastValue = value;
    this.acceptedUntil = Number.NEGATIVE_INFINITY;
  }

  /** The tokens the last good value accepts now; re-derived only when an expiry is crossed. */
  private current(): string[] {
    const secret = this.lastGood as WebhookSecret;
    const now = this.now();
    if (now >= this.acceptedUntil) {
      this.accepted = acceptedTokens(secret, now);
      const expiry = secret.previousExpiresAt;
      this.acceptedUntil = expiry !== undefined && now < expiry ? expiry : Number.POSITIVE_INFINITY;
    }
    return this.accepted;
  }
}

/**
 * Runs `check` against the cached secrets; when a credential did not match, looks once more
 * (rate-limited) in case the secret was rotated since the cache was filled.
 */
export async function checkWithRefresh<R extends { ok: true } | { ok: false; code: ErrorCode }>(
  source: TokenSource,
  check: (secrets: readonly string[]) => R,
): Promise<R> {
  const secrets = await source.tokens();
  const first = check(secrets);
  if (first.ok || (first.code !== 'invalid_token' && first.code !== 'invalid_signature')) return first;
  const fresh = await source.refreshAfterMismatch(secrets);
  return fresh ? check(fresh) : first;
}
