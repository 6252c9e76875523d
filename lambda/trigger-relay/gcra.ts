/**
 * Pacing as a generic cell rate algorithm (GCRA), plus a wake-up schedule for requests that
 * have to wait. Pure: the caller passes the stored state and the time, and stores the result.
 *
 * GCRA keeps one number, the theoretical arrival time (TAT): the time the next request would be
 * due if requests arrived exactly at the rate. A request at `now` conforms when
 * `now >= TAT - tolerance`; it then moves TAT to `max(TAT, now) + interval`. With
 * `interval = 3600 s / ratePerHour` and `tolerance = (burst - 1) * interval`, up to `burst`
 * requests may go at once after a quiet spell, and the long-run rate never exceeds
 * `ratePerHour`. In any window of length W at most `burst + W / interval` requests conform, so
 * any hour holds at most `ratePerHour + burst - 1`.
 *
 * A request that does not conform gets a wake-up time from a second counter, `tail`: each
 * waiter is given the next free slot after the previous waiter's, so a backlog of a thousand
 * requests wakes one at a time, one interval apart, instead of all at once at the next slot.
 */

/** The stored pacing state; times in epoch milliseconds, 0 when never set. */
export interface PacingState {
  /** Theoretical arrival time of the next conforming request. */
  readonly tat: number;
  /** The wake-up time given to the last waiting request, plus one interval. */
  readonly tail: number;
}

export interface GcraParams {
  /** Milliseconds between requests at the sustained rate. */
  readonly intervalMs: number;
  /** How far ahead of the schedule a request may go (the burst allowance), in milliseconds. */
  readonly toleranceMs: number;
}

export type PacingDecision =
  | { readonly allowed: true; readonly next: PacingState }
  | { readonly allowed: false; readonly wakeAt: number; readonly next: PacingState };

export const EMPTY_PACING_STATE: PacingState = { tat: 0, tail: 0 };

/** GCRA parameters for `ratePerHour` requests an hour with bursts of up to `burst`. */
export function gcraParams(ratePerHour: number, burst: number): GcraParams {
  if (!Number.isFinite(ratePerHour) || ratePerHour <= 0) {
    throw new Error(`ratePerHour must be a positive number, got ${ratePerHour}.`);
  }
  if (!Number.isInteger(burst) || burst < 1) {
    throw new Error(`burst must be an integer of at least 1, got ${burst}.`);
  }
  const intervalMs = 3_600_000 / ratePerHour;
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs };
}

/** Decides whether a request at `now` may go, and what the stored state becomes either way. */
export function decide(state: PacingState, now: number, params: GcraParams): PacingDecision {
  const earliest = state.tat - params.toleranceMs;
  if (now >= earliest) {
    return { allowed: true, next: { tat: Math.max(state.tat, now) + params.intervalMs, tail: state.tail } };
  }
  const wakeAt = Math.max(earliest, state.tail);
  return { allowed: false, wakeAt, next: { tat: state.tat, tail: wakeAt + params.intervalMs } };
}
