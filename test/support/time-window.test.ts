import { maxInAnyWindow } from '../../support/time-window';

describe('maxInAnyWindow', () => {
  it.each([
    ['no timestamps', [], 0],
    ['one', [5], 1],
    ['all inside one window, in any order', [30, 0, 99, 50], 4],
    ['a window is half-open: the end is outside', [0, 100], 1],
    ['the densest run, not the first', [0, 200, 250, 290, 400], 3],
    ['equal timestamps count each', [10, 10, 10], 3],
  ])('%s → %i (width 100)', (_, times, expected) => {
    expect(maxInAnyWindow(times, 100)).toBe(expected);
  });
});
