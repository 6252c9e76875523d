import type { BusEntry, OversizedPointer } from '../shared/contract';
import type { BodyStore, Spool } from './delivery';

/**
 * Runs `load` on the first call only and hands every caller the same promise. A load that fails
 * (a chunk that cannot be read, a client that cannot be built) is forgotten, so the next call
 * tries again instead of failing for the life of the execution environment.
 */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}

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
