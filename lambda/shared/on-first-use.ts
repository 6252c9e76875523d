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
