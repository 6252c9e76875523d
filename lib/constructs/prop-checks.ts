import { Duration } from 'aws-cdk-lib';
import type { z } from 'zod';
import { LOG_RETENTION_DAYS } from '../config';

/**
 * Synth-time checks of construct props. Each throws a `PropError` naming the construct, the prop,
 * the bound and the fix, so a bad value fails `cdk synth` instead of the deployment (or, worse,
 * deploying something that silently loses events).
 */
export class PropError extends Error {
  constructor(
    readonly construct: string,
    readonly prop: string,
    message: string,
  ) {
    super(`${construct}: ${prop} ${message}`);
    this.name = 'PropError';
  }
}

/**
 * Checks that `value` is from `min` to `max` (inclusive) and returns it; `why` says where the
 * bound comes from.
 */
export type RangeCheck = (
  construct: string,
  prop: string,
  value: number,
  min: number,
  max: number,
  why: string,
) => number;

function rangeCheck(kind: string, accepts: (value: number) => boolean): RangeCheck {
  return (construct, prop, value, min, max, why) => {
    if (!accepts(value) || value < min || value > max) {
      throw new PropError(
        construct,
        prop,
        `must be ${kind} from ${min} to ${max} (${why}); got ${value}. Pass a value in that range.`,
      );
    }
    return value;
  };
}

/** An integer from `min` to `max` (inclusive); `why` says where the bound comes from. */
export const checkInteger: RangeCheck = rangeCheck('a whole number', Number.isInteger);

/** A number (not necessarily whole) from `min` to `max` (inclusive). */
export const checkNumber: RangeCheck = rangeCheck('a number', Number.isFinite);

/** A duration from `min` to `max` (inclusive), whole seconds. */
export function checkDuration(
  construct: string,
  prop: string,
  value: Duration,
  min: Duration,
  max: Duration,
  why: string,
): Duration {
  const seconds = value.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < min.toSeconds() || seconds > max.toSeconds()) {
    throw new PropError(
      construct,
      prop,
      `must be whole seconds from ${min.toHumanString()} to ${max.toHumanString()} (${why}); got ${value.toHumanString()}. Pass a Duration in that range.`,
    );
  }
  return value;
}

/** One of the retention periods CloudWatch Logs accepts (`logs.RetentionDays`, without INFINITE). */
export function checkLogRetentionDays(construct: string, value: number): number {
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(value)) {
    throw new PropError(
      construct,
      'logRetentionDays',
      `must be one of CloudWatch Logs' retention periods (${LOG_RETENTION_DAYS.join(', ')}); got ${value}. Pick the nearest of those days.`,
    );
  }
  return value;
}

/** Whole days from 0 (kept forever) to 100 years. */
export function checkRetentionDaysOrForever(construct: string, prop: string, value: number): number {
  return checkInteger(construct, prop, value, 0, 36500, '0 keeps them forever');
}

/** EventBridge's retry policy bounds for a rule target. */
export const EVENTBRIDGE_RETRY_LIMITS = {
  /** `RetryPolicy.MaximumRetryAttempts`. */
  retryAttempts: { min: 0, max: 185 },
  /** `RetryPolicy.MaximumEventAgeInSeconds`. */
  maxEventAge: { min: Duration.seconds(60), max: Duration.hours(24) },
} as const;

/** Lambda's bounds for an asynchronous invocation's retries (`MaximumRetryAttempts`). */
export const LAMBDA_ASYNC_RETRY_LIMITS = { min: 0, max: 2 } as const;

/**
 * A config object the construct takes whole (`Analytics`, `ChatAlerts`): checked against the
 * same schema `cdk.json` is, so a construct built in code meets the bounds a configured one does.
 */
export function checkWithSchema(construct: string, prop: string, schema: z.ZodTypeAny, value: unknown): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  const issue = result.error.issues[0] as z.ZodIssue;
  const at = [prop, ...issue.path].join('.');
  const got = issue.path.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined,
    value,
  );
  throw new PropError(
    construct,
    at,
    `${issue.message}; got ${JSON.stringify(got) ?? 'nothing'}. Fix it as for the same key in cdk.json (the config schema gives the bounds).`,
  );
}
