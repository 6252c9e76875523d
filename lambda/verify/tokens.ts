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
 * Reads the accepted tokens from a webhook secret's value. Accepted shapes:
 * - `{"token": "t"}` (what the stack generates)
 * - `{"token": "new", "previousToken": "old"}` (during a rotation: both accepted)
 * - `{"tokens": ["new", "old"]}`
 * - a plain string: the token itself.
 * Throws, without quoting the value, when no token can be read.
 */
export function parseSecretTokens(value: string): string[] {
  const trimmed = value.trim();
  let tokens: unknown[];
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error('The webhook secret looks like JSON but does not parse.');
    }
    const obj = parsed as Record<string, unknown>;
    tokens = [obj.token, obj.previousToken, ...(Array.isArray(obj.tokens) ? obj.tokens : [])];
    tokens = tokens.filter((t) => t !== undefined && t !== null && t !== '');
    if (tokens.some((t) => typeof t !== 'string')) {
      throw new Error('The webhook secret\'s "token", "previousToken" and "tokens" entries must be strings.');
    }
  } else {
    tokens = trimmed === '' ? [] : [trimmed];
  }
  const unique = [...new Set(tokens as string[])];
  if (unique.length === 0) {
    throw new Error(
      'The webhook secret holds no token: expected {"token": "…"}, {"token": "…", "previousToken": "…"}, {"tokens": […]} or a plain string.',
    );
  }
  return unique;
}
