import { EMPTY_PACING_STATE, type PacingState } from '../../lambda/trigger-relay/gcra';
import type { ClaimResult, IdempotencyStore, PacingStore } from '../../lambda/trigger-relay/ports';

/** The pacing item in memory (local mode, tests), with the same compare-and-set as DynamoDB. */
export class MemoryPacingStore implements PacingStore {
  private state: PacingState = EMPTY_PACING_STATE;
  private version = 0;
  /** Reads, writes and writes refused on a stale version so far (tests and benchmarks count them). */
  reads = 0;
  writes = 0;
  conflicts = 0;

  async read(): Promise<{ state: PacingState; version: number }> {
    this.reads++;
    return { state: this.state, version: this.version };
  }

  async write(next: PacingState, expectedVersion: number): Promise<boolean> {
    this.writes++;
    if (this.version !== expectedVersion) {
      this.conflicts++;
      return false;
    }
    this.state = next;
    this.version++;
    return true;
  }
}

interface MemoryRecord {
  status: 'in-progress' | 'done';
  owner: string;
  leaseUntil: number;
  expiresAt: number;
  buildkiteId?: string;
}

/** Idempotency records in memory, with the same conditions the DynamoDB store writes. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, MemoryRecord>();

  async claim(
    key: string,
    owner: string,
    now: number,
    leaseMs: number,
    expiresAt: number,
  ): Promise<ClaimResult> {
    const existing = this.records.get(key);
    if (existing && existing.expiresAt * 1000 > now) {
      if (existing.status === 'done') {
        return existing.buildkiteId === undefined
          ? { status: 'done' }
          : { status: 'done', buildkiteId: existing.buildkiteId };
      }
      if (existing.leaseUntil >= now) return { status: 'in-progress', leaseUntil: existing.leaseUntil };
    }
    this.records.set(key, { status: 'in-progress', owner, leaseUntil: now + leaseMs, expiresAt });
    return { status: 'claimed' };
  }

  async complete(
    key: string,
    owner: string,
    done: { buildkiteId?: string; completedAt: number; expiresAt: number },
  ): Promise<void> {
    // Unconditional, like the DynamoDB store: the build started whoever holds the claim now.
    this.records.set(key, {
      status: 'done',
      owner,
      leaseUntil: 0,
      expiresAt: done.expiresAt,
      ...(done.buildkiteId === undefined ? {} : { buildkiteId: done.buildkiteId }),
    });
  }

  async release(key: string, owner: string): Promise<void> {
    const existing = this.records.get(key);
    if (existing?.status === 'in-progress' && existing.owner === owner) this.records.delete(key);
  }
}
