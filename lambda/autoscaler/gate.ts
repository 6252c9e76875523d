/** What the collapse gate remembers, shared by every invocation (the state store holds it). */
export interface GateState {
  /** Epoch ms of the last evaluation claimed (the time its metrics call was allowed). */
  readonly lastEvaluatedAt?: number;
  /** Epoch ms of a pending trailing evaluation, claimed by an invocation that waits for it. */
  readonly trailingAt?: number;
  /** The last `Buildkite-Agent-Metrics-Poll-Duration` seen: the API's minimum poll interval. */
  readonly pollDurationSeconds?: number;
}

/** The gate's verdict for one trigger (an event or the schedule). */
export type GateVerdict =
  /** Evaluate now (leading edge): nothing was evaluated within the interval. */
  | { readonly kind: 'now' }
  /** Claim the trailing evaluation at `at` and run it then. */
  | { readonly kind: 'trailing'; readonly at: number }
  /** A trailing evaluation is already pending and will run after this trigger: nothing to do. */
  | { readonly kind: 'collapsed'; readonly pendingAt: number };

/** How long past its time a claimed trailing evaluation counts as abandoned (its invocation died). */
export const TRAILING_GRACE_MS = 30_000;

/**
 * The longest poll duration honoured, in seconds: a trailing evaluation waits at most this long
 * inside one invocation (the function's timeout is set above it), and the reconcile schedule
 * runs once a minute anyway.
 */
export const MAX_POLL_DURATION_SECONDS = 60;

/** The effective minimum interval between metrics calls: the configured one or the API's, whichever is longer. */
export function effectiveIntervalMs(state: GateState, intervalSeconds: number): number {
  const poll = Math.min(state.pollDurationSeconds ?? 0, MAX_POLL_DURATION_SECONDS);
  return Math.max(intervalSeconds, poll) * 1000;
}

/**
 * Leading- and trailing-edge throttle: at most one evaluation per interval however many
 * triggers arrive, the first at once (so a burst's first job is acted on within a second),
 * and, when more triggers arrive inside the interval, exactly one more at its end, so the last
 * trigger is never lost: that evaluation reads the metrics after every trigger that asked for it.
 */
export function gate(state: GateState, now: number, intervalSeconds: number): GateVerdict {
  const interval = effectiveIntervalMs(state, intervalSeconds);
  const last = state.lastEvaluatedAt;
  if (last === undefined || now - last >= interval) return { kind: 'now' };
  const pending = state.trailingAt;
  if (pending !== undefined && pending > last && now <= pending + TRAILING_GRACE_MS) {
    return { kind: 'collapsed', pendingAt: pending };
  }
  return { kind: 'trailing', at: last + interval };
}
