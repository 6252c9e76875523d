import { acceptedAnswer, errorAnswer } from '../../../lambda/verify/answers';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  createDeliveryLog,
  createOutcomeObserver,
  logLevelFromEnv,
  type OutcomeObserverOptions,
} from '../../../lambda/verify/observer';
import type { Outcome } from '../../../lambda/verify/types';
import { outcomeLogFields } from '../../../support/outcome-fields';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const DEDUPE = 'a'.repeat(64);

const published: Outcome = {
  answer: acceptedAnswer('req-1', 'published'),
  code: 'published',
  event: 'build.finished',
  auth: 'signature',
  bytes: 1945,
  dedupeKey: DEDUPE,
};
const spooled: Outcome = { ...published, answer: acceptedAnswer('req-1', 'spooled'), code: 'spooled' };
const rejected: Outcome = { answer: errorAnswer('invalid_token'), code: 'invalid_token', bytes: 12 };
const refused: Outcome = {
  ...published,
  answer: errorAnswer('persist_failed'),
  code: 'persist_failed',
};
const unexpected: Outcome = {
  answer: errorAnswer('internal_error'),
  code: 'internal_error',
  bytes: 12,
  error: { name: 'RangeError', message: 'bad [redacted]', stack: 'RangeError: bad [redacted]\n    at x' },
};

/** Runs the observer once and returns every line it wrote, parsed. */
function observe(outcome: Outcome, options: Partial<OutcomeObserverOptions> = {}): Record<string, unknown>[] {
  const written: string[] = [];
  const observer = createOutcomeObserver({
    serviceName: 'verify',
    write: (line) => written.push(line),
    now: () => NOW,
    ...options,
  });
  observer(outcome, 'req-1', '192.0.2.10');
  for (const line of written)
    expect(line.endsWith('\n') && line.indexOf('\n') === line.length - 1).toBe(true);
  return written.map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The metrics CloudWatch extracts from an EMF line: name → { dimensions, value }. */
function extracted(
  line: Record<string, unknown>,
): Record<string, { dimensions: Record<string, unknown>; value: unknown }> {
  const aws = line._aws as {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  expect(aws.Timestamp).toBe(NOW);
  const out: Record<string, { dimensions: Record<string, unknown>; value: unknown }> = {};
  for (const directive of aws.CloudWatchMetrics) {
    expect(directive.Namespace).toBe('kitebridge');
    for (const metric of directive.Metrics) {
      expect(metric.Unit).toBe('Count');
      const dimensions = Object.fromEntries(
        (directive.Dimensions[0] ?? []).map((name) => [name, line[name]]),
      );
      out[metric.Name] = { dimensions, value: line[metric.Name] };
    }
  }
  return out;
}

const byService = { service: 'verify' };
/** The metrics of a request turned away with `reason`. */
const rejectedBy = (reason: string) => ({
  Rejected: { dimensions: byService, value: 1 },
  RejectedByReason: { dimensions: { ...byService, Reason: reason }, value: 1 },
});

describe('createOutcomeObserver', () => {
  it.each([
    ['published', published, 'INFO', 'Delivery accepted', { Accepted: { dimensions: byService, value: 1 } }],
    [
      'spooled',
      spooled,
      'INFO',
      'Delivery accepted',
      { Accepted: { dimensions: byService, value: 1 }, Spooled: { dimensions: byService, value: 1 } },
    ],
    ['rejected', rejected, 'WARN', 'Delivery rejected', rejectedBy('invalid_token')],
    ['refused', refused, 'ERROR', 'Delivery refused', rejectedBy('persist_failed')],
    [
      'an unexpected error',
      unexpected,
      'ERROR',
      'Unexpected error; answered 503 and accepted nothing',
      {
        UnexpectedErrors: { dimensions: byService, value: 1 },
        ...rejectedBy('internal_error'),
      },
    ],
  ])(
    'writes one line for %s: the log line and its EMF metrics',
    (_name, outcome, level, message, metrics) => {
      const lines = observe(outcome);

      expect(lines).toHaveLength(1);
      const line = lines[0] as Record<string, unknown>;
      expect(line).toMatchObject({
        level,
        message,
        timestamp: '2026-11-23T12:00:00.000Z',
        service: 'verify',
        requestId: 'req-1',
        sourceIp: '192.0.2.10',
        status: outcome.answer.statusCode,
        code: outcome.code,
        bytes: outcome.bytes,
      });
      for (const key of ['event', 'auth', 'dedupeKey', 'error'] as const) {
        expect(line[key]).toEqual(outcome[key]);
      }
      expect(extracted(line)).toEqual(metrics);
    },
  );

  it.each([
    ['published', published],
    ['an unexpected error', unexpected],
  ])(
    'writes for %s exactly the text JSON.stringify gives the same fields, escapes included',
    (_name, outcome) => {
      const written: string[] = [];
      const observer = createOutcomeObserver({
        serviceName: 'verify',
        metricsDisabled: true,
        write: (line) => written.push(line),
        now: () => NOW,
      });
      const requestId = 'req "1"\n\u2028é';
      observer(outcome, requestId, '2001:db8::1');

      const level = outcome.error ? 'ERROR' : 'INFO';
      const message = outcome.error
        ? 'Unexpected error; answered 503 and accepted nothing'
        : 'Delivery accepted';
      expect(written).toEqual([
        `${JSON.stringify({
          level,
          message,
          timestamp: '2026-11-23T12:00:00.000Z',
          service: 'verify',
          ...outcomeLogFields(outcome, requestId, '2001:db8::1'),
        })}\n`,
      ]);
    },
  );

  it('adds the X-Ray trace id (its Root) when the invocation has one', () => {
    const saved = process.env._X_AMZN_TRACE_ID;
    process.env._X_AMZN_TRACE_ID =
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1';
    try {
      expect(observe(published)[0]).toMatchObject({ xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793' });
    } finally {
      if (saved === undefined) delete process.env._X_AMZN_TRACE_ID;
      else process.env._X_AMZN_TRACE_ID = saved;
    }
  });

  it('keeps the metrics in a metrics-only line when the log level hides the line', () => {
    const lines = observe(published, { logLevel: 'WARN' });

    expect(lines).toHaveLength(1);
    const line = lines[0] as Record<string, unknown>;
    expect(line).not.toHaveProperty('message');
    expect(line).not.toHaveProperty('requestId');
    expect(extracted(line)).toEqual({ Accepted: { dimensions: byService, value: 1 } });
    // A warning still passes a WARN threshold.
    expect(observe(rejected, { logLevel: 'warn' })[0]).toMatchObject({ message: 'Delivery rejected' });
  });

  it('writes the log line without EMF when metrics are disabled, and nothing when both are off', () => {
    const [line] = observe(unexpected, { metricsDisabled: true });
    expect(line).toMatchObject({ level: 'ERROR', code: 'internal_error' });
    expect(line).not.toHaveProperty('_aws');
    expect(line).not.toHaveProperty('UnexpectedErrors');

    expect(observe(published, { metricsDisabled: true, logLevel: 'SILENT' })).toEqual([]);
  });
});

describe('logLevelFromEnv', () => {
  it.each([
    [{}, 'INFO'],
    [{ POWERTOOLS_LOG_LEVEL: 'warn' }, 'WARN'],
    [{ LOG_LEVEL: 'DEBUG' }, 'DEBUG'],
    [{ POWERTOOLS_LOG_LEVEL: 'ERROR', LOG_LEVEL: 'DEBUG' }, 'ERROR'],
    [{ POWERTOOLS_LOG_LEVEL: 'nonsense' }, 'INFO'],
    [{ POWERTOOLS_LOG_LEVEL: 'DEBUG', AWS_LAMBDA_LOG_LEVEL: 'ERROR' }, 'ERROR'],
    [{ POWERTOOLS_LOG_LEVEL: 'ERROR', AWS_LAMBDA_LOG_LEVEL: 'DEBUG' }, 'DEBUG'],
    [{ AWS_LAMBDA_LOG_LEVEL: 'FATAL' }, 'CRITICAL'],
  ])('%p → %s', (env, level) => {
    expect(logLevelFromEnv(env)).toBe(level);
  });

  it('agrees with Powertools Logger on every combination of the three variables', () => {
    const values = [undefined, 'DEBUG', 'info', 'WARN', 'ERROR', 'bogus'];
    const saved = { ...process.env };
    try {
      for (const powertools of values)
        for (const lambda of [undefined, 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'debug'])
          for (const alias of [undefined, 'ERROR']) {
            const env: Record<string, string> = {};
            if (powertools !== undefined) env.POWERTOOLS_LOG_LEVEL = powertools;
            if (lambda !== undefined) env.AWS_LAMBDA_LOG_LEVEL = lambda;
            if (alias !== undefined) env.LOG_LEVEL = alias;
            delete process.env.POWERTOOLS_LOG_LEVEL;
            delete process.env.AWS_LAMBDA_LOG_LEVEL;
            delete process.env.LOG_LEVEL;
            Object.assign(process.env, env);
            const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
            const powertoolsLevel = new Logger({ serviceName: 'verify' }).getLevelName();
            warn.mockRestore();
            expect([env, logLevelFromEnv(env)]).toEqual([env, powertoolsLevel]);
          }
    } finally {
      process.env = saved;
    }
  });
});

describe('createDeliveryLog', () => {
  const lines = (level?: string) => {
    const written: string[] = [];
    const log = createDeliveryLog({
      serviceName: 'verify',
      ...(level ? { logLevel: level } : {}),
      write: (line) => written.push(line),
      now: () => NOW,
    });
    return { log, written };
  };

  it("writes Powertools Logger's keys, in its order, then the attributes", () => {
    const { log, written } = lines();
    log.warn('PutEvents failed; spooling the event', {
      requestId: 'req-1',
      reason: 'Error: "x"',
      none: undefined,
    });
    log.error('Spooling failed; the delivery is refused', {});
    expect(written).toEqual([
      '{"level":"WARN","message":"PutEvents failed; spooling the event","timestamp":"2026-11-23T12:00:00.000Z","service":"verify","sampling_rate":0,"requestId":"req-1","reason":"Error: \\"x\\""}\n',
      '{"level":"ERROR","message":"Spooling failed; the delivery is refused","timestamp":"2026-11-23T12:00:00.000Z","service":"verify","sampling_rate":0}\n',
    ]);
  });

  it('writes the same keys and values as Powertools Logger (apart from the time)', () => {
    const attributes = { requestId: 'req-1', reason: 'PublishError: gave up', bytes: 12 };
    const { log, written } = lines();
    log.error('Storing an oversized body failed; the delivery is refused', attributes);
    const printed: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        printed.push(String(chunk));
        return true;
      }),
    );
    try {
      new Logger({ serviceName: 'verify', logLevel: 'INFO' }).error(
        'Storing an oversized body failed; the delivery is refused',
        attributes,
      );
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
    const ours = JSON.parse(written[0] as string) as Record<string, unknown>;
    const theirs = JSON.parse(printed.join('')) as Record<string, unknown>;
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    expect({ ...ours, timestamp: 't' }).toEqual({ ...theirs, timestamp: 't' });
  });

  it('adds the X-Ray trace id when the invocation has one, and drops lines below the level', () => {
    process.env._X_AMZN_TRACE_ID = 'Root=1-abc-def;Parent=1;Sampled=1';
    try {
      const { log, written } = lines('ERROR');
      log.warn('hidden', {});
      log.error('shown', {});
      expect(written).toHaveLength(1);
      expect(JSON.parse(written[0] as string)).toMatchObject({
        message: 'shown',
        xray_trace_id: '1-abc-def',
      });
    } finally {
      delete process.env._X_AMZN_TRACE_ID;
    }
  });
});

describe('createOutcomeObserver over a run of requests', () => {
  it('writes for each outcome the line a fresh observer writes (nothing carried over from the last)', () => {
    const outcomes = [published, published, spooled, rejected, published, refused, unexpected, published];
    const events = ['build.finished', 'job.started', undefined];
    const written: string[] = [];
    const shared = createOutcomeObserver({
      serviceName: 'verify',
      write: (line) => written.push(line),
      now: () => NOW,
    });
    const expected: string[] = [];
    outcomes.forEach((outcome, i) => {
      const varied: Outcome = { ...outcome, event: events[i % events.length] };
      shared(varied, `req-${i}`, '192.0.2.10');
      createOutcomeObserver({ serviceName: 'verify', write: (line) => expected.push(line), now: () => NOW })(
        varied,
        `req-${i}`,
        '192.0.2.10',
      );
    });
    expect(written).toEqual(expected);
  });
});
