import type { Clock } from '../lambda/autoscaler/ports';

/**
 * A clock that moves only when told to, for the simulation benchmark and tests: `sleep` parks
 * the caller until `advanceTo` passes its wake-up time. Never used by the deployed handler.
 */
export class SimulatedClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers: { at: number; seq: number; wake: () => void }[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) =>
      this.timers.push({ at: this.current + Math.max(0, ms), seq: this.seq++, wake }),
    );
  }

  /** Lets every pending promise chain run to its next sleep (or its end). */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Moves time forward to `target`, waking sleepers in order of their wake-up time. */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await this.settle();
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.wake();
    }
    this.current = Math.max(this.current, target);
    await this.settle();
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): Promise<void> {
    return this.advanceTo(this.current + ms);
  }

  /** How many callers are asleep. */
  get sleepers(): number {
    return this.timers.length;
  }
}
