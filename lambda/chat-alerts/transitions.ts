/**
 * Per pipeline+branch build streaks and the transitions they produce (failed, still failing ×N,
 * fixed). Pure: the state store persists `StreakState`, this module decides.
 *
 * Order comes from build numbers, never from arrival: a build is compared with the highest-numbered
 * build below it on the same branch. A build that arrives after a later build on its branch already
 * finished is recorded (later counts stay right) but announces nothing, because the branch has
 * moved on. A duplicate delivery computes the same transition again; delivery de-duplication keeps
 * it from posting twice.
 */

/** The outcomes that move a streak; canceled, blocked and skipped builds do not. */
export type BuildResult = 'passed' | 'failed';

export interface StreakEntry {
  readonly number: number;
  readonly result: BuildResult;
  /** Consecutive failed builds ending with this one (0 when it passed). */
  readonly failures: number;
}

/** The recent finished builds of one pipeline+branch, ascending by number. */
export interface StreakState {
  readonly entries: readonly StreakEntry[];
}

export type Transition =
  | { readonly kind: 'build.failed'; readonly failures: number }
  | { readonly kind: 'build.still_failing'; readonly failures: number }
  | { readonly kind: 'build.fixed'; readonly failures: number };

/** How many builds a streak remembers; older ones only matter through the `failures` count. */
const STREAK_HISTORY = 20;

/** The build result a Buildkite build state counts as, or undefined when it does not count. */
export function resultOf(state: string): BuildResult | undefined {
  if (state === 'passed') return 'passed';
  if (state === 'failed') return 'failed';
  return undefined;
}

/**
 * Records a finished build in a streak and says which transition, if any, it announces.
 * A re-run of the latest build that changes its result (failed → passed after a job retry)
 * announces against the result it had before.
 */
export function applyBuildResult(
  state: StreakState | undefined,
  number: number,
  result: BuildResult,
  history = STREAK_HISTORY,
): { readonly state: StreakState; readonly transition?: Transition } {
  const entries = [...(state?.entries ?? [])].sort((a, b) => a.number - b.number);
  const existing = entries.find((e) => e.number === number);
  const before = entries.filter((e) => e.number < number).at(-1);
  const stale = entries.some((e) => e.number > number);

  const failures = result === 'failed' ? (before?.result === 'failed' ? before.failures : 0) + 1 : 0;
  const next = [...entries.filter((e) => e.number !== number), { number, result, failures }].sort(
    (a, b) => a.number - b.number,
  );
  // Counts after an out-of-order insert follow from the entries below them.
  const recomputed: StreakEntry[] = [];
  for (const entry of next) {
    const prev = recomputed.at(-1);
    recomputed.push({
      ...entry,
      failures:
        entry.result === 'failed'
          ? (prev ? (prev.result === 'failed' ? prev.failures : 0) : entry.failures - 1) + 1
          : 0,
    });
  }
  const newState = { entries: recomputed.slice(-history) };
  if (stale) return { state: newState };

  const previous = existing && existing.result !== result ? existing : before;
  if (result === 'failed') {
    return {
      state: newState,
      transition:
        previous?.result === 'failed'
          ? { kind: 'build.still_failing', failures }
          : { kind: 'build.failed', failures },
    };
  }
  if (previous?.result === 'failed') {
    return { state: newState, transition: { kind: 'build.fixed', failures: previous.failures } };
  }
  return { state: newState };
}

/** The key of a pipeline+branch streak. */
export function streakKey(pipelineSlug: string, branch: string): string {
  return `${pipelineSlug}#${branch}`;
}
