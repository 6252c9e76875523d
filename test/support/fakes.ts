import type { VerifiedDelivery, Deliverer } from '../../lambda/verify/delivery';
import { TokenSource } from '../../lambda/verify/token-source';

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
