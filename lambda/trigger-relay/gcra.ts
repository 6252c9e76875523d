/**
 * Pacing as a generic cell rate algorithm (GCRA) that hands out slots. Pure: the caller passes
 * the stored state and the time, and stores the result.
 *
 * GCRA keeps one number, the theoretical arrival time (TAT): the time the next request would be
 * due if requests arrived exactly at the rate. A request at `now` conforms when
 * `now >= TAT - tolerance`, and then moves TAT to `max(TAT, now) + interval`. With
 * `interval = 3600 s / ratePerHour` and `tolerance = (burst - 1) * interval`, up to `burst`
 * requests may go at once after a quiet spell, and the long-run rate never exceeds
 * `ratePerHour`. In any window of length W at most `burst + W / interval` requests conform, so
 * any hour holds at most `ratePerHour + burst - 1`.
 *
 * Every request gets its slot when it arrives: the earliest time it would conform,
 * `max(now, TAT - tolerance)`, and TAT moves on as if it had arrived then. So a request that
 * has to wait keeps the slot it was given, a later arrival always gets a later (or the same
 * burst) slot, and the slots themselves form a conforming GCRA sequence.
 */

/** The stored pacing state; times in epoch milliseconds, 0 when never set. */
export interface PacingState {
  /** Theoretical arrival time of the next request, counting every slot already handed out. */
  readonly tat: number;
}

export interface GcraParams {
  /** Milliseconds between requests at the sustained rate. */
  readonly intervalMs: number;
  /** How far ahead of the schedule a request may go (the burst allowance), in milliseconds. */
  readonly toleranceMs: number;
}

/** A request's slot (epoch ms; `now` or earlier means go now) and the state to store. */
export interface Reservation {
  readonly slot: number;
  readonly next: PacingState;
}

export const EMPTY_PACING_STATE: PacingState = { tat: 0 };

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

/** Gives a request arriving at `now` its slot, and says what the stored state becomes. */
export function reserve(state: PacingState, now: number, params: GcraParams): Reservation {
  const slot = Math.max(now, state.tat - params.toleranceMs);
  // When the slot is in the future, TAT > now, so this is TAT + interval: the request is
  // counted as if it arrived at its slot.
  return { slot, next: { tat: Math.max(state.tat, now) + params.intervalMs } };
}
