import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretFetcher } from './token-source';

export interface SecretsManagerFetcherOptions {
  /** How long a value read is served from memory before Secrets Manager is asked again. @default 300 s */
  readonly maxAgeMs?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/**
 * The current value of one secret from Secrets Manager (`GetSecretValue`), kept in memory for
 * `maxAgeMs`: what Powertools `SecretsProvider.get(id, { maxAge, forceFetch })` did here, without
 * its per-call work on the request path (bench/README.md). A cached value is handed out as the
 * same settled promise every time; concurrent reads of an expired value share one call; `fresh`
 * always calls (TokenSource rate-limits those). A failed call caches nothing: the next read calls
 * again. A secret without a string value (binary only) is an error.
 */
export function secretsManagerFetcher(
  client: SecretsManagerClient,
  secretId: string,
  options: SecretsManagerFetcherOptions = {},
): SecretFetcher {
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  const now = options.now ?? Date.now;
  let cached: Promise<string> | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<string> | undefined;

  const read = (): Promise<string> => {
    const call = client.send(new GetSecretValueCommand({ SecretId: secretId })).then((result) => {
      const value = result.SecretString;
      if (typeof value !== 'string') throw new Error('The secret has no string value.');
      cached = call;
      readAt = now();
      return value;
    });
    return call;
  };

  return (fresh) => {
    if (fresh) return read();
    if (cached !== undefined && now() - readAt < maxAgeMs) return cached;
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
