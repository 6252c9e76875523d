import type { VerifiedDelivery, Deliverer } from '../lambda/verify/ports';
import { TokenSource } from '../lambda/verify/token-source';

/** A deliverer that records what it was given. */
export class RecordingDeliverer implements Deliverer {
  readonly delivered: VerifiedDelivery[] = [];
  constructor(private readonly result: 'published' | 'spooled' | Error = 'published') {}

  async deliver(verified: VerifiedDelivery): Promise<'published' | 'spooled'> {
    if (this.result instanceof Error) throw this.result;
    this.delivered.push(verified);
    return this.result;
  }
}

export function staticTokens(value: string): TokenSource {
  return new TokenSource(async () => value);
}

/**
 * Waits until every delivery on a local bus has finished, advancing a simulated clock whenever
 * something sleeps on it (the autoscaler's gate schedules a trailing evaluation for a second event
 * of a queue within its interval), so draining never waits on time that never passes.
 */
export async function drainAdvancing(
  bus: { drain(): Promise<void> },
  clock: { readonly sleepers: number; advance(ms: number): Promise<void> },
): Promise<void> {
  let drained = false;
  void bus.drain().then(() => (drained = true));
  while (!drained) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (clock.sleepers > 0) await clock.advance(60_000);
  }
}
