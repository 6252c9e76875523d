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

/** How an optimistic-concurrency loop waits and when it gives up. */
export interface ContentionRetry {
  readonly backoff: ContentionBackoff;
  /**
   * How long the loop keeps retrying, in milliseconds: past it the loop throws, so the event is
   * retried. A time budget, not an attempt count: every refused write means another writer's went
   * through, so a count turns plain contention into failed invocations (and, retried often
   * enough, dead letters).
   */
  readonly budgetMs: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default a real-clock setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * Runs `attempt` (read, compute, conditional write) until it settles, resolving to its value.
 * An attempt that met a concurrent write returns `undefined`; the loop then waits a jittered
 * {@link contentionDelayMs} and tries again, unless that wait would pass the time budget: then
 * it throws `giveUp(attempts, elapsedMs)`.
 */
export async function retryOnContention<T>(
  attempt: () => Promise<{ readonly value: T } | undefined>,
  retry: ContentionRetry,
  giveUp: (attempts: number, elapsedMs: number) => Error,
): Promise<T> {
  const now = retry.now ?? Date.now;
  const started = now();
  for (let attempts = 1; ; attempts++) {
    const settled = await attempt();
    if (settled) return settled.value;
    const wait = contentionDelayMs(attempts, retry.backoff, retry.random ?? Math.random);
    if (now() - started + wait > retry.budgetMs) throw giveUp(attempts, now() - started);
    await (retry.sleep ?? sleep)(wait);
  }
}
