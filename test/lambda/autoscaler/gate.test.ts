import { gate, MAX_POLL_DURATION_SECONDS, TRAILING_GRACE_MS } from '../../../lambda/autoscaler/gate';

const T = 1_000_000;

describe('gate', () => {
  it.each([
    ['first trigger ever: evaluate now', {}, T, { kind: 'now' }],
    ['interval passed: evaluate now', { lastEvaluatedAt: T - 10_000 }, T, { kind: 'now' }],
    [
      'inside the interval, nothing pending: claim the trailing edge',
      { lastEvaluatedAt: T - 3_000 },
      T,
      { kind: 'trailing', at: T + 7_000 },
    ],
    [
      'inside the interval, trailing pending: collapsed',
      { lastEvaluatedAt: T - 3_000, trailingAt: T + 7_000 },
      T,
      { kind: 'collapsed', pendingAt: T + 7_000 },
    ],
    [
      'a trailing slot older than the last evaluation is spent: claim again',
      { lastEvaluatedAt: T - 3_000, trailingAt: T - 3_000 },
      T,
      { kind: 'trailing', at: T + 7_000 },
    ],
    [
      'the poll-duration header lengthens the interval',
      { lastEvaluatedAt: T - 12_000, pollDurationSeconds: 15 },
      T,
      { kind: 'trailing', at: T + 3_000 },
    ],
    [
      'a shorter poll duration never shortens it',
      { lastEvaluatedAt: T - 9_000, pollDurationSeconds: 2 },
      T,
      { kind: 'trailing', at: T + 1_000 },
    ],
    [
      'poll durations are honoured up to the cap',
      { lastEvaluatedAt: T - 61_000, pollDurationSeconds: 600 },
      T,
      { kind: 'now' },
    ],
  ] as const)('%s', (_name, state, now, expected) => {
    expect(gate(state, now, 10)).toEqual(expected);
  });

  it('caps poll durations at a minute and allows a grace for a dead trailing claimant', () => {
    expect(MAX_POLL_DURATION_SECONDS).toBe(60);
    expect(TRAILING_GRACE_MS).toBeGreaterThan(0);
  });
});
