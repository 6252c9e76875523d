import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import {
  checkDuration,
  checkInteger,
  checkLogRetentionDays,
  checkNumber,
  checkRetentionDaysOrForever,
  checkWithSchema,
  EVENTBRIDGE_RETRY_LIMITS,
  LAMBDA_ASYNC_RETRY_LIMITS,
  PropError,
} from '../../../lib/constructs/prop-checks';
import { thrownBy } from '../../support/thrown';

const propError = (fn: () => unknown) => thrownBy(PropError, fn);

describe('PropError', () => {
  it('names the construct and the prop, in its fields and its message', () => {
    const error = propError(() => checkInteger('Thing', 'size', 11, 1, 10, 'why'));
    expect({ construct: error.construct, prop: error.prop, name: error.name }).toEqual({
      construct: 'Thing',
      prop: 'size',
      name: 'PropError',
    });
    expect(error.message).toBe(
      'Thing: size must be a whole number from 1 to 10 (why); got 11. Pass a value in that range.',
    );
  });
});

describe('checkInteger', () => {
  it.each([0, 11, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %p for 1 to 10', (value) => {
    propError(() => checkInteger('T', 'p', value, 1, 10, 'w'));
  });

  it('returns the value at and between the bounds', () => {
    expect([1, 5, 10].map((v) => checkInteger('T', 'p', v, 1, 10, 'w'))).toEqual([1, 5, 10]);
  });
});

describe('checkNumber', () => {
  it('accepts a fraction inside the bounds and refuses NaN and the outside', () => {
    expect(checkNumber('T', 'rate', 2.5, 1, 10, 'w')).toBe(2.5);
    expect(propError(() => checkNumber('T', 'rate', Number.NaN, 1, 10, 'w')).message).toBe(
      'T: rate must be a number from 1 to 10 (w); got NaN. Pass a value in that range.',
    );
    propError(() => checkNumber('T', 'rate', 0.5, 1, 10, 'w'));
  });
});

describe('checkDuration', () => {
  const { min, max } = EVENTBRIDGE_RETRY_LIMITS.maxEventAge;

  it("holds EventBridge's retry policy limits: 0-185 attempts, 60 s to 24 h", () => {
    expect(EVENTBRIDGE_RETRY_LIMITS.retryAttempts).toEqual({ min: 0, max: 185 });
    expect([min.toSeconds(), max.toSeconds()]).toEqual([60, 86_400]);
    expect(LAMBDA_ASYNC_RETRY_LIMITS).toEqual({ min: 0, max: 2 });
  });

  it('accepts the bounds and refuses just outside them, or part-seconds', () => {
    expect(checkDuration('T', 'age', min, min, max, 'w')).toBe(min);
    expect(checkDuration('T', 'age', max, min, max, 'w')).toBe(max);
    expect(propError(() => checkDuration('T', 'age', Duration.seconds(59), min, max, 'w')).message).toBe(
      'T: age must be whole seconds from 1 minute to 1 day (w); got 59 seconds. Pass a Duration in that range.',
    );
    propError(() => checkDuration('T', 'age', Duration.seconds(86_401), min, max, 'w'));
    propError(() => checkDuration('T', 'age', Duration.millis(60_500), min, max, 'w'));
  });
});

describe('checkLogRetentionDays', () => {
  it('accepts every RetentionDays value CloudWatch takes as a number of days', () => {
    const days = Object.values(logs.RetentionDays).filter(
      (v): v is number => typeof v === 'number' && v !== logs.RetentionDays.INFINITE,
    );
    expect(days.length).toBeGreaterThan(20);
    for (const d of days) expect(checkLogRetentionDays('T', d)).toBe(d);
  });

  it.each([0, 2, 31, 9999, 1.5])('refuses %p, listing the periods', (value) => {
    expect(propError(() => checkLogRetentionDays('T', value)).message).toMatch(
      /^T: logRetentionDays must be one of CloudWatch Logs' retention periods \(1, 3, 5, 7, 14, 30, .*, 3653\); got .*\. Pick the nearest of those days\.$/,
    );
  });
});

describe('checkRetentionDaysOrForever', () => {
  it('takes 0 (forever) to 36500 whole days', () => {
    expect(checkRetentionDaysOrForever('T', 'days', 0)).toBe(0);
    expect(checkRetentionDaysOrForever('T', 'days', 36_500)).toBe(36_500);
    propError(() => checkRetentionDaysOrForever('T', 'days', -1));
    propError(() => checkRetentionDaysOrForever('T', 'days', 36_501));
  });
});

describe('checkWithSchema', () => {
  const schema = z.object({ limits: z.object({ size: z.number().max(5, 'must be at most 5') }) });

  it('passes a valid value', () => {
    expect(() => checkWithSchema('T', 'config', schema, { limits: { size: 5 } })).not.toThrow();
  });

  it("names the nested key, the schema's message and the value given", () => {
    const error = propError(() => checkWithSchema('T', 'config', schema, { limits: { size: 6 } }));
    expect(error.prop).toBe('config.limits.size');
    expect(error.message).toBe(
      'T: config.limits.size must be at most 5; got 6. Fix it as for the same key in cdk.json (the config schema gives the bounds).',
    );
  });

  it('says nothing was given for a missing key', () => {
    expect(propError(() => checkWithSchema('T', 'config', schema, { limits: {} })).message).toMatch(
      /^T: config\.limits\.size .*; got nothing\./,
    );
  });
});
