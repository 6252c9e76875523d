import { contentionDelayMs, retryOnContention } from '../../../lambda/shared/contention';

describe('contentionDelayMs', () => {
  it.each([
    [1, 0.5, 10],
    [2, 0.5, 20],
    [6, 0.5, 320],
    [7, 0.5, 500],
    [30, 0.999, 999],
    [1, 0, 0],
  ])('retry %i with random %f waits %i ms (base 20, cap 1000)', (retry, random, expected) =>
    expect(contentionDelayMs(retry, { baseMs: 20, capMs: 1000 }, () => random)).toBe(expected),
  );
});

describe('retryOnContention', () => {
  const fakeClock = () => {
    const clock = { now: 0, waits: [] as number[] };
    return {
      clock,
      retry: (budgetMs: number) => ({
        backoff: { baseMs: 20, capMs: 1000 },
        budgetMs,
        now: () => clock.now,
        sleep: async (ms: number) => {
          clock.waits.push(ms);
          clock.now += ms;
        },
        random: () => 0.5,
      }),
    };
  };

  it('resolves to the first settled attempt, waiting a jittered backoff before each retry', async () => {
    const { clock, retry } = fakeClock();
    let attempts = 0;
    const value = await retryOnContention(
      async () => (++attempts < 4 ? undefined : { value: 'written' }),
      retry(10_000),
      () => new Error('gave up'),
    );
    expect(value).toBe('written');
    expect(attempts).toBe(4);
    expect(clock.waits).toEqual([10, 20, 40]);
  });

  it('a settled falsy value is a result, not contention', async () => {
    const { clock, retry } = fakeClock();
    expect(
      await retryOnContention(
        async () => ({ value: false }),
        retry(10_000),
        () => new Error('x'),
      ),
    ).toBe(false);
    expect(clock.waits).toEqual([]);
  });

  it('gives up when the next wait would pass the budget, with the attempts and time spent', async () => {
    const { clock, retry } = fakeClock();
    await expect(
      retryOnContention(
        async () => undefined,
        retry(100),
        (attempts, elapsedMs) => new Error(`${attempts} attempts in ${elapsedMs} ms`),
      ),
    ).rejects.toThrow('4 attempts in 70 ms');
    // 10 + 20 + 40 = 70; the next wait, 80, would end at 150 > 100.
    expect(clock.waits).toEqual([10, 20, 40]);
  });

  it('an attempt that throws ends the loop with its error', async () => {
    const { retry } = fakeClock();
    await expect(
      retryOnContention(
        async () => {
          throw new Error('AccessDenied');
        },
        retry(10_000),
        () => new Error('gave up'),
      ),
    ).rejects.toThrow('AccessDenied');
  });
});
