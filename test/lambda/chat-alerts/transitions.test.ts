import {
  applyBuildResult,
  resultOf,
  type BuildResult,
  type StreakState,
} from '../../../lambda/chat-alerts/transitions';

/** Feeds builds in order and returns the transition of each (`-` for none). */
function run(builds: [number, BuildResult][], history?: number): string[] {
  let state: StreakState | undefined;
  return builds.map(([number, result]) => {
    const out = applyBuildResult(state, number, result, history);
    state = out.state;
    const t = out.transition;
    return t ? `${t.kind}:${t.failures}` : '-';
  });
}

describe('applyBuildResult', () => {
  it.each<[string, [number, BuildResult][], string[]]>([
    [
      'fail, fail, pass',
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'passed'],
      ],
      ['build.failed:1', 'build.still_failing:2', 'build.fixed:2'],
    ],
    [
      'pass, pass',
      [
        [1, 'passed'],
        [2, 'passed'],
      ],
      ['-', '-'],
    ],
    ['first build of a branch passes', [[7, 'passed']], ['-']],
    [
      'gaps in numbers (other branches) do not matter',
      [
        [10, 'failed'],
        [14, 'failed'],
        [20, 'failed'],
      ],
      ['build.failed:1', 'build.still_failing:2', 'build.still_failing:3'],
    ],
    [
      'duplicate delivery computes the same transition',
      [
        [1, 'passed'],
        [2, 'failed'],
        [2, 'failed'],
      ],
      ['-', 'build.failed:1', 'build.failed:1'],
    ],
    [
      'an older build after a newer one announces nothing',
      [
        [1, 'passed'],
        [3, 'failed'],
        [2, 'failed'],
      ],
      ['-', 'build.failed:1', '-'],
    ],
    [
      'a late older failure still counts for the next build',
      [
        [1, 'passed'],
        [3, 'failed'],
        [2, 'failed'],
        [4, 'failed'],
      ],
      ['-', 'build.failed:1', '-', 'build.still_failing:3'],
    ],
    [
      'a re-run that passes fixes the build',
      [
        [1, 'passed'],
        [2, 'failed'],
        [2, 'passed'],
      ],
      ['-', 'build.failed:1', 'build.fixed:1'],
    ],
    [
      'fail after fixed starts a new streak',
      [
        [1, 'failed'],
        [2, 'passed'],
        [3, 'failed'],
      ],
      ['build.failed:1', 'build.fixed:1', 'build.failed:1'],
    ],
  ])('%s', (_name, builds, expected) => {
    expect(run(builds)).toEqual(expected);
  });

  it('keeps the failure count beyond the history it remembers', () => {
    const builds = Array.from({ length: 30 }, (_, i): [number, BuildResult] => [i + 1, 'failed']);
    expect(run(builds, 5).at(-1)).toBe('build.still_failing:30');
  });

  it.each([
    ['passed', 'passed'],
    ['failed', 'failed'],
    ['canceled', undefined],
    ['skipped', undefined],
    ['blocked', undefined],
  ])('build state %s counts as %s', (state, expected) => {
    expect(resultOf(state)).toBe(expected);
  });
});
