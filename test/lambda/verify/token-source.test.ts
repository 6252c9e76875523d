import { SecretUnavailableError, TokenSource } from '../../../lambda/verify/token-source';

function fakeFetcher(values: (string | Error)[]) {
  const calls: boolean[] = [];
  const fetcher = async (fresh: boolean) => {
    calls.push(fresh);
    const next = values.length > 1 ? values.shift() : values[0];
    if (next instanceof Error) throw next;
    return next as string;
  };
  return { fetcher, calls };
}

describe('TokenSource', () => {
  it('reads the tokens through the (caching) fetcher', async () => {
    const { fetcher, calls } = fakeFetcher(['{"token":"a"}']);
    const source = new TokenSource(fetcher);
    expect(await source.tokens()).toEqual(['a']);
    expect(calls).toEqual([false]);
  });

  it('keeps serving the last good tokens when a later fetch fails', async () => {
    const { fetcher } = fakeFetcher(['{"token":"a"}', new Error('throttled')]);
    const source = new TokenSource(fetcher);
    await source.tokens();
    expect(await source.tokens()).toEqual(['a']);
  });

  it('throws SecretUnavailableError when nothing was ever read', async () => {
    const { fetcher } = fakeFetcher([new Error('AccessDenied')]);
    await expect(new TokenSource(fetcher).tokens()).rejects.toBeInstanceOf(SecretUnavailableError);
  });

  it('treats an unreadable secret value as unavailable', async () => {
    const { fetcher } = fakeFetcher(['{}']);
    await expect(new TokenSource(fetcher).tokens()).rejects.toBeInstanceOf(SecretUnavailableError);
  });

  it('refetches after a mismatch at most once per interval, and returns only changed tokens', async () => {
    let now = 0;
    const { fetcher, calls } = fakeFetcher([
      '{"token":"a"}',
      '{"token":"b","previousToken":"a"}',
      '{"token":"b"}',
    ]);
    const source = new TokenSource(fetcher, { refetchIntervalMs: 30_000, now: () => now });
    const tokens = await source.tokens();

    expect(await source.refreshAfterMismatch(tokens)).toEqual(['b', 'a']);
    now = 10_000;
    expect(await source.refreshAfterMismatch(tokens)).toBeUndefined(); // rate-limited: no fetch
    now = 40_000;
    expect(await source.refreshAfterMismatch(['b'])).toBeUndefined(); // fetched, unchanged
    expect(calls).toEqual([false, true, true]);
  });

  it('shares one forced refetch between concurrent mismatches', async () => {
    const { fetcher, calls } = fakeFetcher(['{"token":"a"}', '{"token":"b"}']);
    const source = new TokenSource(fetcher);
    const tokens = await source.tokens();
    const results = await Promise.all([1, 2, 3].map(() => source.refreshAfterMismatch(tokens)));
    expect(results).toEqual([['b'], ['b'], ['b']]);
    expect(calls.filter((fresh) => fresh)).toHaveLength(1);
  });

  it('returns undefined when the forced refetch fails', async () => {
    const { fetcher } = fakeFetcher(['{"token":"a"}', new Error('down')]);
    const source = new TokenSource(fetcher);
    expect(await source.refreshAfterMismatch(await source.tokens())).toBeUndefined();
  });
});

describe('TokenSource and a rotation previous token', () => {
  it('drops the previous token once previousExpiresAt passes, without a new fetch', async () => {
    let now = Date.parse('2026-12-06T17:59:00Z');
    const { fetcher, calls } = fakeFetcher([
      '{"token":"new","previousToken":"old","previousExpiresAt":"2026-12-06T18:00:00Z"}',
    ]);
    const source = new TokenSource(fetcher, { now: () => now });
    expect(await source.tokens()).toEqual(['new', 'old']);
    expect(await source.tokens()).toBe(await source.tokens()); // the same array while nothing changes
    now = Date.parse('2026-12-06T18:00:00Z');
    expect(await source.tokens()).toEqual(['new']);
    expect(calls).toEqual([false, false, false, false]);
  });

  it('a refetch after a mismatch finds a token added by a rotation', async () => {
    const { fetcher } = fakeFetcher(['{"token":"old"}', '{"token":"old","previousToken":"new"}']);
    const source = new TokenSource(fetcher);
    const tried = await source.tokens();
    expect(await source.refreshAfterMismatch(tried)).toEqual(['old', 'new']);
  });
});
