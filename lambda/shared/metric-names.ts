/**
 * Names shared by the functions that emit kitebridge's metrics and the constructs that alarm
 * and chart them. Kept apart from `powertools.ts` so the verify function, which writes its EMF
 * line itself, loads none of Powertools to learn them.
 */

/** CloudWatch namespace of kitebridge's own metrics (the autoscaler also writes `Buildkite`). */
export const METRICS_NAMESPACE = 'kitebridge';

/** Count of defects a function caught and answered for (the verify function's 503 internal_error); alarmed on. */
export const UNEXPECTED_ERRORS_METRIC = 'UnexpectedErrors';
