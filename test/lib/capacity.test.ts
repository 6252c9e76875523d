import { prng } from '../../support/prng';
import {
  burstTrace,
  lambdaConcurrency,
  peakInWindow,
  percentile,
  simulateBurst,
  throttleRefusals,
  tokenBucket,
  type BurstEvent,
} from '../../lib/capacity';
import { DEFAULT_THROTTLE } from '../../lib/config';

const countOf = (trace: readonly { event: BurstEvent }[], event: BurstEvent) =>
  trace.filter((d) => d.event === event).length;

describe('burstTrace', () => {
  it.each([
    ['midpoint', undefined],
    ['seeded', prng(3)],
  ])('has every delivery of a 200-job build, in arrival order (%s)', (_, random) => {
    const trace = burstTrace(200, random);
    expect(trace).toHaveLength(1 + 200 * 4 + 2);
    expect(countOf(trace, 'job.scheduled')).toBe(200);
    expect(countOf(trace, 'agent.connected')).toBe(200);
    expect(countOf(trace, 'job.started')).toBe(200);
    expect(countOf(trace, 'job.finished')).toBe(200);
    expect(countOf(trace, 'build.finished')).toBe(1);
    const times = trace.map((d) => d.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(trace[0]?.event).toBe('build.scheduled');
    expect(trace[trace.length - 1]?.event).toBe('build.finished');
  });

  it('schedules every job within the window, and connects agents over theirs', () => {
    const trace = burstTrace(500, prng(4), { scheduleWindowMs: 1_000, connectWindowMs: 10_000 });
    const last = (event: BurstEvent) =>
      Math.max(...trace.filter((d) => d.event === event).map((d) => d.atMs));
    expect(last('job.scheduled')).toBeLessThan(1_000);
    expect(last('agent.connected')).toBeLessThan(10_000);
    expect(last('agent.connected')).toBeGreaterThan(9_000);
  });

  it('starts a job only once an agent has connected for it, and finishes none within 5 s of the first start', () => {
    const trace = burstTrace(50, prng(5), { pickupMaxMs: 0, medianJobMs: 1 });
    let connected = 0;
    let started = 0;
    for (const d of trace) {
      if (d.event === 'agent.connected') connected++;
      if (d.event === 'job.started') started++;
      expect(started).toBeLessThanOrEqual(connected);
    }
    const first = (event: BurstEvent) =>
      Math.min(...trace.filter((d) => d.event === event).map((d) => d.atMs));
    expect(first('job.finished') - first('job.started')).toBeGreaterThanOrEqual(5_000);
  });

  it('runs several jobs per agent when there are fewer agents than jobs', () => {
    const trace = burstTrace(10, undefined, { agents: 2, medianJobMs: 60_000 });
    expect(countOf(trace, 'agent.connected')).toBe(2);
    const starts = trace.filter((d) => d.event === 'job.started').map((d) => d.atMs);
    // Five rounds of two jobs: the last round cannot start before four jobs of 5 s or more each.
    expect(Math.max(...starts)).toBeGreaterThanOrEqual(4 * 5_000);
  });

  it('is the same for the same seed, and differs for another', () => {
    expect(burstTrace(100, prng(9))).toEqual(burstTrace(100, prng(9)));
    expect(burstTrace(100, prng(9))).not.toEqual(burstTrace(100, prng(10)));
  });
});

describe('tokenBucket', () => {
  it('lets a full bucket through at once, then refuses until it refills', () => {
    expect(tokenBucket([0, 0, 0, 0], { rateLimit: 1, burstLimit: 3 })).toEqual([true, true, true, false]);
  });

  it('refills at rateLimit per second', () => {
    const at = [0, 0, 500, 1_000, 1_000];
    expect(tokenBucket(at, { rateLimit: 2, burstLimit: 2 })).toEqual([true, true, true, true, false]);
  });

  it('never holds more than burstLimit tokens, however long it was idle', () => {
    expect(tokenBucket([0, 60_000, 60_000, 60_000], { rateLimit: 100, burstLimit: 2 })).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });
});

describe('lambdaConcurrency', () => {
  const model = { coldStartMs: 200, requestMs: 50 };

  it('cold-starts one environment, then reuses it once it is free', () => {
    const run = lambdaConcurrency([0, 300, 400], model);
    expect(run.latenciesMs).toEqual([250, 50, 50]);
    expect(run.coldStarts).toBe(1);
  });

  it('starts a new environment for each request that finds every one busy', () => {
    const run = lambdaConcurrency([0, 10, 20], model);
    expect(run.latenciesMs).toEqual([250, 250, 250]);
    expect(run.peakConcurrency).toBe(3);
  });

  it('throttles past the account concurrency', () => {
    const run = lambdaConcurrency([0, 0, 0], { ...model, concurrency: 2 });
    expect(run.latenciesMs).toEqual([250, 250, undefined]);
  });

  it('adds at most scalingStep environments per scaling interval', () => {
    const at = [0, 0, 0, 5_000, 5_000, 5_000];
    const run = lambdaConcurrency(at, {
      coldStartMs: 0,
      requestMs: 60_000,
      concurrency: 100,
      scalingStep: 2,
      scalingIntervalMs: 5_000,
    });
    expect(run.latenciesMs.map((l) => l !== undefined)).toEqual([true, true, false, true, true, false]);
  });
});

describe('percentile and peakInWindow', () => {
  it.each([
    [0.5, 50],
    [0.99, 99],
    [1, 100],
  ])('percentile %d of 1..100 is %d (nearest rank)', (q, expected) => {
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => 100 - i),
        q,
      ),
    ).toBe(expected);
  });

  it('counts the most arrivals within any window', () => {
    expect(peakInWindow([0, 100, 999, 1_000, 1_500, 1_600, 1_700])).toBe(5);
  });
});

describe('the default throttle and the 1,000-job build', () => {
  const lambda = { coldStartMs: 250, requestMs: 30 };

  it.each([1, 2, 3, 4, 5])('loses no delivery of a seeded 1,000-job build (seed %i)', (seed) => {
    const outcome = simulateBurst(burstTrace(1_000, prng(seed)), DEFAULT_THROTTLE, lambda);
    expect(outcome.refusedByThrottle).toBe(0);
    expect(outcome.refusedByLambda).toBe(0);
    expect(outcome.p99ToAcceptedMs).toBeLessThanOrEqual(1_000);
  });

  it('agrees with the midpoint trace synth checks, both ways', () => {
    const old = { rateLimit: 50, burstLimit: 100 };
    expect(throttleRefusals(DEFAULT_THROTTLE).refused).toBe(0);
    expect(throttleRefusals(old).refused).toBeGreaterThan(0);
    expect(simulateBurst(burstTrace(1_000, prng(1)), old, lambda).refusedByThrottle).toBeGreaterThan(0);
  });

  it('loses deliveries of a 5,000-job build (past the account burst of 5,000)', () => {
    const outcome = simulateBurst(burstTrace(5_000, prng(1)), DEFAULT_THROTTLE, lambda);
    expect(outcome.refusedByThrottle + outcome.refusedByLambda).toBeGreaterThan(0);
  });
});
