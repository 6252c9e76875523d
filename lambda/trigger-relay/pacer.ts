import { decide, type GcraParams } from './gcra';
import type { PacingStore } from './ports';

/** Whether a request may go now, or when it should wake up and ask again (epoch ms). */
export type PacingGrant = { readonly allowed: true } | { readonly allowed: false; readonly wakeAt: number };

export class PacingContentionError extends Error {
  constructor(attempts: number) {
    super(`The pacing state changed under ${attempts} consecutive attempts; try again later.`);
    this.name = 'PacingContentionError';
  }
}

/**
 * The one rate shared by every trigger: GCRA over a single stored item, updated with
 * compare-and-set so concurrent relays never both take the same slot.
 */
export class Pacer {
  constructor(
    private readonly store: PacingStore,
    private readonly params: GcraParams,
    private readonly clock: () => number,
    private readonly maxAttempts = 8,
  ) {}

  /** Takes a slot now, or reserves a wake-up time. Throws PacingContentionError after repeated races. */
  async acquire(): Promise<PacingGrant> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const { state, version } = await this.store.read();
      const decision = decide(state, this.clock(), this.params);
      if (await this.store.write(decision.next, version)) {
        return decision.allowed ? { allowed: true } : { allowed: false, wakeAt: decision.wakeAt };
      }
    }
    throw new PacingContentionError(this.maxAttempts);
  }
}
