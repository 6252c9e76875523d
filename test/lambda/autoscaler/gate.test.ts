import {
  effectiveIntervalMs,
  gate,
  MAX_POLL_DURATION_SECONDS,
  TRAILING_GRACE_MS,
} from '../../../lambda/autoscaler/gate';

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

  it('honours a poll duration up to a minute, never the ten minutes a header may ask for', () => {
    expect(effectiveIntervalMs({ pollDurationSeconds: 30 }, 10)).toBe(30_000);
    expect(effectiveIntervalMs({ pollDurationSeconds: 600 }, 10)).toBe(MAX_POLL_DURATION_SECONDS * 1000);
    const asked = { lastEvaluatedAt: T - 59_999, pollDurationSeconds: 600 };
    expect(gate(asked, T, 10)).toEqual({ kind: 'trailing', at: T + 1 });
    expect(gate(asked, T + 1, 10)).toEqual({ kind: 'now' });
  });

  it('waits for a pending trailing evaluation until its grace runs out, then claims it again', () => {
    // The pending claim was made under a 5 s interval; the API has since asked for 60 s.
    const pendingAt = T + 5_000;
    const state = { lastEvaluatedAt: T, trailingAt: pendingAt, pollDurationSeconds: 60 };
    const stillWaiting = pendingAt + TRAILING_GRACE_MS;
    expect(stillWaiting).toBeLessThan(T + 60_000);
    expect(gate(state, stillWaiting, 5)).toEqual({ kind: 'collapsed', pendingAt });
    expect(gate(state, stillWaiting + 1, 5)).toEqual({ kind: 'trailing', at: T + 60_000 });
  });
});
