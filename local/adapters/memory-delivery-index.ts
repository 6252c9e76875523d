import type { DeliveryIndex, IndexEntry, IndexSource } from '../../lambda/reconcile/ports';

/** The reconciler's delivery index in memory (local mode, bench, tests): the first source of each key is kept. */
export class MemoryDeliveryIndex implements DeliveryIndex {
  readonly entries = new Map<string, { readonly source: IndexSource; readonly seenAt: Date }>();
  /** Calls so far (the bench counts them). */
  reads = 0;
  writes = 0;

  async seen(keys: readonly string[]): Promise<ReadonlySet<string>> {
    this.reads++;
    return new Set(keys.filter((key) => this.entries.has(key)));
  }

  async record(entry: IndexEntry): Promise<IndexSource | undefined> {
    this.writes++;
    const previous = this.entries.get(entry.key)?.source;
    if (previous === undefined) this.entries.set(entry.key, { source: entry.source, seenAt: entry.seenAt });
    return previous;
  }
}
