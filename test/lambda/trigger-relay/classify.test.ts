import {
  backoffSeconds,
  classify,
  parseRetryAfter,
  type Classification,
} from '../../../lambda/trigger-relay/classify';
import type { PostResult } from '../../../lambda/trigger-relay/ports';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const json = (value: unknown) => JSON.stringify(value);

describe('classify', () => {
  it.each<[string, PostResult, Classification]>([
    [
      '201 with an id',
      { kind: 'response', status: 201, body: json({ id: 'f62a1b4d-10f9-4790-bc1c-e2c3a0c80983' }) },
      { kind: 'delivered', status: 201, buildkiteId: 'f62a1b4d-10f9-4790-bc1c-e2c3a0c80983' },
    ],
    ['201 without a body', { kind: 'response', status: 201 }, { kind: 'delivered', status: 201 }],
    [
      '201 with a non-JSON body',
      { kind: 'response', status: 201, body: 'ok' },
      { kind: 'delivered', status: 201 },
    ],
    [
      '400',
      { kind: 'response', status: 400, body: json({ message: 'Invalid pipeline trigger token' }) },
      {
        kind: 'permanent',
        reason: 'Buildkite answered 400 (invalid pipeline trigger token): Invalid pipeline trigger token',
      },
    ],
    [
      '403',
      { kind: 'response', status: 403, body: '' },
      { kind: 'permanent', reason: 'Buildkite answered 403 (the pipeline trigger is disabled)' },
    ],
    [
      '404',
      { kind: 'response', status: 404 },
      { kind: 'permanent', reason: 'Buildkite answered 404 (the pipeline trigger was not found)' },
    ],
    [
      '413',
      { kind: 'response', status: 413 },
      { kind: 'permanent', reason: 'Buildkite answered 413 (request refused)' },
    ],
    [
      '301',
      { kind: 'response', status: 301 },
      { kind: 'permanent', reason: 'Buildkite answered 301 (a redirect); the trigger URL is wrong' },
    ],
    [
      '429 with Retry-After seconds',
      { kind: 'response', status: 429, retryAfter: '60' },
      { kind: 'retry', reason: 'Buildkite answered 429 (rate limited)', retryAfterSeconds: 60 },
    ],
    [
      '429 with a Retry-After date',
      { kind: 'response', status: 429, retryAfter: 'Mon, 23 Nov 2026 12:05:00 GMT' },
      { kind: 'retry', reason: 'Buildkite answered 429 (rate limited)', retryAfterSeconds: 300 },
    ],
    [
      '408',
      { kind: 'response', status: 408 },
      { kind: 'retry', reason: 'Buildkite answered 408 (request refused)' },
    ],
    [
      '500',
      { kind: 'response', status: 500, body: json({ message: 'oops' }) },
      { kind: 'retry', reason: 'Buildkite answered 500 (Buildkite error): oops' },
    ],
    [
      '502',
      { kind: 'response', status: 502 },
      { kind: 'retry', reason: 'Buildkite answered 502 (Buildkite error)' },
    ],
    [
      'a timeout',
      { kind: 'timeout', afterMs: 10_000 },
      { kind: 'retry', reason: 'no answer within 10000 ms' },
    ],
    [
      'a refused connection',
      { kind: 'network-error', code: 'ECONNREFUSED' },
      { kind: 'retry', reason: 'network error ECONNREFUSED' },
    ],
  ])('%s', (_name, result, expected) => {
    expect(classify(result, NOW)).toEqual(expected);
  });

  it('keeps a long Buildkite message to 200 characters on one line', () => {
    const result = classify(
      { kind: 'response', status: 400, body: json({ message: `a\n${'b'.repeat(500)}` }) },
      NOW,
    );
    expect(result.kind === 'permanent' && result.reason.length).toBeLessThan(260);
  });
});

describe('parseRetryAfter', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['30', 30],
    ['soon', undefined],
    ['Mon, 23 Nov 2026 11:00:00 GMT', 0],
  ])('%p → %p', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe('backoffSeconds', () => {
  it.each([
    [1, 0, undefined, 15],
    [1, 1, undefined, 30],
    [2, 1, undefined, 60],
    [5, 1, undefined, 480],
    [6, 1, undefined, 900],
    [20, 1, undefined, 900],
    [1, 0, 120, 120],
    [1, 0, 3600, 3600],
  ])('attempt %p, random %p, Retry-After %p → %p s', (attempt, random, retryAfter, expected) => {
    expect(backoffSeconds(attempt, undefined, retryAfter, () => random)).toBe(expected);
  });
});
