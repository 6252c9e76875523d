import { contentionDelayMs, sleep, type ContentionBackoff } from '../shared/contention';
import { reserve, type GcraParams } from './gcra';
import type { PacingStore } from './ports';

export class PacingContentionError extends Error {
  constructor(attempts: number) {
    super(`The pacing state changed under ${attempts} consecutive attempts; try again later.`);
    this.name = 'PacingContentionError';
  }
}

export interface PacerOptions {
  /** Compare-and-set attempts before giving up with PacingContentionError. @default 8 */
  readonly maxAttempts?: number;
  /** Jittered wait between attempts. @default { baseMs: 25, capMs: 1000 } */
  readonly backoff?: ContentionBackoff;
  /** @default a real-clock setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

const DEFAULT_PACER_BACKOFF: ContentionBackoff = { baseMs: 25, capMs: 1000 };

/**
 * The one rate shared by every trigger: GCRA over a single stored item, updated with
 * compare-and-set, so concurrent relays never get the same slot. Each collision means another
 * relay's write went through, so the loop always makes progress; the jittered wait keeps the
 * losers from colliding again in lockstep. The attempts are bounded so one invocation cannot
 * spend its timeout here: the relay re-queues a message that ran out of them.
 */
export class Pacer {
  private readonly maxAttempts: number;
  private readonly backoff: ContentionBackoff;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly store: PacingStore,
    private readonly params: GcraParams,
    private readonly clock: () => number,
    options: PacerOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.backoff = options.backoff ?? DEFAULT_PACER_BACKOFF;
    this.sleep = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
  }

  /**
   * Reserves the next slot (epoch ms): at or before the clock means go now, later means wait
   * until then; the slot is the request's own, no later arrival can take it.
   * Throws PacingContentionError when every attempt met a concurrent write.
   */
  async acquire(): Promise<number> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await this.sleep(contentionDelayMs(attempt - 1, this.backoff, this.random));
      const { state, version } = await this.store.read();
      const { slot, next } = reserve(state, this.clock(), this.params);
      if (await this.store.write(next, version)) return slot;
    }
    throw new PacingContentionError(this.maxAttempts);
  }
}
