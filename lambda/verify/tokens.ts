import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two strings in time independent of where they differ and of their lengths:
 * both are hashed to 32 bytes first, so a length mismatch is not revealed either.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Compares two digests (hex or base64 text of a fixed-size hash) in constant time. Their
 * length is public (the hash size), so no hashing is needed first; unequal lengths never match.
 */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Returns the matching token, trying all of them so timing does not reveal which matched. */
export function matchToken(candidate: string, tokens: readonly string[]): string | undefined {
  let matched: string | undefined;
  for (const token of tokens) {
    if (constantTimeEqual(candidate, token) && matched === undefined) matched = token;
  }
  return matched;
}

/**
 * A webhook secret's value, read: the tokens accepted for good, and the previous tokens of a
 * rotation with the moment they stop being accepted (undefined: until the next change).
 */
export interface WebhookSecret {
  /** `token` (or the plain string) first, then `tokens`: the first is the one Buildkite should have. */
  readonly current: readonly string[];
  readonly previous: readonly string[];
  /** Milliseconds since the epoch from `previousExpiresAt`; undefined when the field is absent. */
  readonly previousExpiresAt?: number;
}

const SHAPES =
  'expected {"token": "…"}, {"token": "…", "previousToken": "…"}, {"tokens": […]} or a plain string';

/**
 * Reads a webhook secret's value. Accepted shapes:
 * - `{"token": "t"}` (what the stack generates)
 * - `{"token": "new", "previousToken": "old"}` (during a rotation: both accepted), optionally with
 *   `"previousExpiresAt": "<ISO-8601 time>"`, after which the previous token is refused
 *   (`"previousTokens": [...]` is read like `previousToken`)
 * - `{"tokens": ["new", "old"]}`
 * - a plain string: the token itself.
 * Throws, without quoting the value, when no token can be read.
 */
export function readWebhookSecret(value: string): WebhookSecret {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{')) {
    if (trimmed === '') throw new Error(`The webhook secret holds no token: ${SHAPES}.`);
    return { current: [trimmed], previous: [] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error('The webhook secret looks like JSON but does not parse.');
  }
  const obj = parsed as Record<string, unknown>;
  const present = (list: unknown[]) => list.filter((t) => t !== undefined && t !== null && t !== '');
  const current = present([obj.token, ...(Array.isArray(obj.tokens) ? obj.tokens : [])]);
  const previous = present([
    obj.previousToken,
    ...(Array.isArray(obj.previousTokens) ? obj.previousTokens : []),
  ]);
  if ([...current, ...previous].some((t) => typeof t !== 'string')) {
    throw new Error(
      'The webhook secret\'s "token", "tokens", "previousToken" and "previousTokens" entries must be strings.',
    );
  }
  let previousExpiresAt: number | undefined;
  if (obj.previousExpiresAt !== undefined && obj.previousExpiresAt !== null) {
    previousExpiresAt = typeof obj.previousExpiresAt === 'string' ? Date.parse(obj.previousExpiresAt) : NaN;
    if (Number.isNaN(previousExpiresAt)) {
      throw new Error(
        'The webhook secret\'s "previousExpiresAt" must be an ISO-8601 time such as 2026-12-06T20:00:00Z (or be left out).',
      );
    }
  }
  const unique = (list: unknown[]) => [...new Set(list as string[])];
  const secret: WebhookSecret = {
    current: unique(current),
    previous: unique(previous).filter((t) => !current.includes(t)),
    ...(previousExpiresAt === undefined ? {} : { previousExpiresAt }),
  };
  if (secret.current.length === 0 && secret.previous.length === 0) {
    throw new Error(`The webhook secret holds no token: ${SHAPES}.`);
  }
  return secret;
}

/** The tokens a secret accepts at `nowMs`: the current ones, and the previous ones until they expire. */
export function acceptedTokens(secret: WebhookSecret, nowMs: number): string[] {
  const previousLive = secret.previousExpiresAt === undefined || nowMs < secret.previousExpiresAt;
  return previousLive ? [...secret.current, ...secret.previous] : [...secret.current];
}

/**
 * The tokens a webhook secret's value accepts at `nowMs` (shapes: readWebhookSecret). Throws,
 * without quoting the value, when no token can be read, or when every token it holds has expired.
 */
export function parseSecretTokens(value: string, nowMs: number = Date.now()): string[] {
  const tokens = acceptedTokens(readWebhookSecret(value), nowMs);
  if (tokens.length === 0) {
    throw new Error(`The webhook secret holds no token: ${SHAPES} (its only tokens have expired).`);
  }
  return tokens;
}

/**
 * The token to give Buildkite: the secret's `token` (or the plain string, or the first of
 * `tokens`). Undefined when the secret holds previous tokens only.
 */
export function primaryToken(secret: WebhookSecret): string | undefined {
  return secret.current[0];
}

/**
 * The value of a webhook secret during or after a rotation: `token` is the new token, the old ones
 * stay accepted until `previousExpiresAt` (forever when it is undefined).
 */
export function rotatedSecretValue(
  token: string,
  previous: readonly string[],
  previousExpiresAt?: Date,
): string {
  const others = [...new Set(previous)].filter((t) => t !== token);
  return JSON.stringify({
    token,
    ...(others.length === 1 ? { previousToken: others[0] } : {}),
    ...(others.length > 1 ? { previousTokens: others } : {}),
    ...(others.length > 0 && previousExpiresAt ? { previousExpiresAt: previousExpiresAt.toISOString() } : {}),
  });
}
