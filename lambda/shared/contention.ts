/**
 * Backoff between attempts of an optimistic-concurrency loop (read, compute, conditional write).
 * Full jitter: the wait before retry `n` is uniform in `[0, min(capMs, baseMs · 2^(n−1)))`, so
 * writers that collided once spread out instead of colliding again in lockstep.
 */
export interface ContentionBackoff {
  /** The longest first wait, in milliseconds. */
  readonly baseMs: number;
  /** No wait is longer than this, in milliseconds. */
  readonly capMs: number;
}

/** The wait before retry number `retry` (1 for the first retry), given `random` in [0, 1). */
export function contentionDelayMs(retry: number, backoff: ContentionBackoff, random: () => number): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** Waits `ms` milliseconds on the real clock (the default sleep; tests and benchmarks inject theirs). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
