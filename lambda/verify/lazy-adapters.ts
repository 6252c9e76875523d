import type { BusEntry, OversizedPointer } from '../shared/contract';
import { onFirstUse } from '../shared/on-first-use';
import type { BodyStore, Spool } from './ports';

/** A spool whose real adapter (and SDK client) is loaded by the first `put`. */
export function createLazySpool(load: () => Promise<Spool>): Spool {
  const spool = onFirstUse(load);
  return { put: async (entry: BusEntry) => (await spool()).put(entry) };
}

/** A body store whose real adapter (and SDK client) is loaded by the first `put`. */
export function createLazyBodyStore(load: () => Promise<BodyStore>): BodyStore {
  const store = onFirstUse(load);
  return {
    put: async (key: string, body: Buffer): Promise<Omit<OversizedPointer, 'bytes'>> =>
      (await store()).put(key, body),
  };
}
