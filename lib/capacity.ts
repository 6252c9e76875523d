/**
 * A pure model of how a Buildkite burst meets kitebridge's front door: a generated delivery trace
 * for one parallel build, API Gateway's stage token bucket, and the verify function's Lambda
 * concurrency. Synth uses it to warn when the configured throttle would refuse a 1,000-job build
 * (`throttleWarning` in config.ts); `bench/burst-simulation.ts` replays seeded traces through it.
 * No I/O, no clock, no randomness of its own: the caller passes the random source.
 */

/** API Gateway's per-region account quotas (defaults; raised through Service Quotas). */
export const ACCOUNT_API_GATEWAY_LIMITS = { rateLimit: 10_000, burstLimit: 5_000 } as const;

/** Lambda's defaults: per-region concurrency, and each function's scaling of 1,000 more every 10 s. */
export const ACCOUNT_LAMBDA_LIMITS = {
  concurrency: 1_000,
  scalingStep: 1_000,
  scalingIntervalMs: 10_000,
} as const;

/** The build size the stage throttle must accept without a single 429 (synth warns otherwise). */
export const CHECKED_BUILD_JOBS = 1_000;

export type BurstEvent =
  | 'build.scheduled'
  | 'build.running'
  | 'job.scheduled'
  | 'agent.connected'
  | 'job.started'
  | 'job.finished'
  | 'build.finished';

/** One webhook delivery: when it reaches API Gateway (ms after the build was created) and what it is. */
export interface Delivery {
  readonly atMs: number;
  readonly event: BurstEvent;
}

/** How Buildkite spaces one parallel build's deliveries. Every field has a default. */
export interface BurstShape {
  /** Agents that connect for the build (`agent.connected` each); one per job by default. */
  readonly agents?: number;
  /** All `job.scheduled` arrive within this window after the build is created. @default 1000 */
  readonly scheduleWindowMs?: number;
  /**
   * Agents connect (`agent.connected`) spread over this window from the build's creation: a fleet
   * that is already booting, or restarting at once. Pessimistic: an autoscaled fleet takes minutes.
   * @default 10000
   */
  readonly connectWindowMs?: number;
  /** An agent picks its job up at most this long after both exist (`job.started`). @default 2000 */
  readonly pickupMaxMs?: number;
  /** Median job duration; durations are log-logistic around it, at least 5 s. @default 120000 */
  readonly medianJobMs?: number;
}

const GOLDEN = 0.6180339887498949;

/**
 * The deliveries of one parallel build of `jobs` jobs, in arrival order: `build.scheduled`, every
 * `job.scheduled` within `scheduleWindowMs`, `agent.connected` per agent over `connectWindowMs`,
 * `job.started` as each agent picks its job up, `job.finished` after each job's duration,
 * `build.running` and `build.finished`. `random` returns numbers in [0, 1): a seeded PRNG gives a
 * jittered trace; the default (always 0.5) gives the evenly spaced midpoint trace synth checks.
 */
export function burstTrace(
  jobs: number,
  random: () => number = () => 0.5,
  shape: BurstShape = {},
): Delivery[] {
  const agents = Math.max(1, shape.agents ?? jobs);
  const scheduleWindowMs = shape.scheduleWindowMs ?? 1_000;
  const connectWindowMs = shape.connectWindowMs ?? 10_000;
  const pickupMaxMs = shape.pickupMaxMs ?? 2_000;
  const medianJobMs = shape.medianJobMs ?? 120_000;

  const out: Delivery[] = [{ atMs: 0, event: 'build.scheduled' }];
  // Stratified times: each event keeps its slot in the window, jittered within it.
  const scheduled = Array.from({ length: jobs }, (_, i) => ((i + random()) / jobs) * scheduleWindowMs);
  const agentFreeAt = Array.from({ length: agents }, (_, j) => ((j + random()) / agents) * connectWindowMs);
  for (const at of scheduled) out.push({ atMs: at, event: 'job.scheduled' });
  for (const at of agentFreeAt) out.push({ atMs: at, event: 'agent.connected' });

  let firstStart = Number.POSITIVE_INFINITY;
  let lastFinish = 0;
  scheduled.forEach((scheduledAt, i) => {
    // Agents take jobs in order of connection; with fewer agents than jobs, each runs several.
    const agent = i % agents;
    const start = Math.max(scheduledAt, agentFreeAt[agent]!) + random() * pickupMaxMs;
    // Log-logistic durations (close to log-normal, sigma ≈ 0.5), spread by a golden-ratio sequence.
    const u = Math.min(0.999, Math.max(0.001, (i * GOLDEN + random()) % 1));
    const duration = Math.max(5_000, medianJobMs * Math.exp(0.5 * 0.5513 * Math.log(u / (1 - u))));
    agentFreeAt[agent] = start + duration;
    firstStart = Math.min(firstStart, start);
    lastFinish = Math.max(lastFinish, start + duration);
    out.push({ atMs: start, event: 'job.started' }, { atMs: start + duration, event: 'job.finished' });
  });
  if (jobs > 0) {
    out.push({ atMs: firstStart, event: 'build.running' }, { atMs: lastFinish, event: 'build.finished' });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

export interface ThrottleLimits {
  /** Refill, requests per second (`throttleRateLimit`). */
  readonly rateLimit: number;
  /** Bucket size (`throttleBurstLimit`). */
  readonly burstLimit: number;
}

/**
 * API Gateway's token bucket over arrival times (ms, ascending): the bucket starts full with
 * `burstLimit` tokens and refills at `rateLimit` a second; a request that finds less than one
 * token is refused (429). Returns, per arrival, whether it was let through.
 */
export function tokenBucket(arrivalsMs: readonly number[], limits: ThrottleLimits): boolean[] {
  let tokens = limits.burstLimit;
  let last = arrivalsMs[0] ?? 0;
  return arrivalsMs.map((at) => {
    tokens = Math.min(limits.burstLimit, tokens + ((at - last) / 1000) * limits.rateLimit);
    last = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  });
}

export interface LambdaModel {
  /** Account concurrency available to the verify function. @default 1000 */
  readonly concurrency?: number;
  /** New concurrent executions a function may add per scaling interval. @default 1000 */
  readonly scalingStep?: number;
  /** @default 10000 */
  readonly scalingIntervalMs?: number;
  /** Time a new execution environment takes before it can run the handler. */
  readonly coldStartMs: number;
  /** Time one request keeps an environment busy (handler plus its PutEvents call). */
  readonly requestMs: number;
}

export interface LambdaOutcome {
  /** Per arrival: ms from arrival to the answer, or undefined when Lambda throttled it. */
  readonly latenciesMs: (number | undefined)[];
  readonly coldStarts: number;
  /** Environments in use at the busiest moment. */
  readonly peakConcurrency: number;
}

/** A binary min-heap of the times each execution environment is busy until. */
class BusyUntil {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): number | undefined {
    return this.items[0];
  }
  push(value: number): void {
    const a = this.items;
    a.push(value);
    for (let i = a.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= a[i]!) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }
  pop(): number | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The verify function's concurrency over arrival times (ms, ascending): a request runs in an idle
 * warm environment if there is one, else in a new one (cold start first) while the function is
 * under both the account concurrency and its scaling allowance (`scalingStep` more every
 * `scalingIntervalMs` from the first request); otherwise Lambda throttles it, which API Gateway
 * turns into a 5xx. Environments stay warm for the whole trace.
 */
export function lambdaConcurrency(arrivalsMs: readonly number[], model: LambdaModel): LambdaOutcome {
  const concurrency = model.concurrency ?? ACCOUNT_LAMBDA_LIMITS.concurrency;
  const step = model.scalingStep ?? ACCOUNT_LAMBDA_LIMITS.scalingStep;
  const interval = model.scalingIntervalMs ?? ACCOUNT_LAMBDA_LIMITS.scalingIntervalMs;
  const environments = new BusyUntil();
  const first = arrivalsMs[0] ?? 0;
  let coldStarts = 0;
  const latenciesMs = arrivalsMs.map((at) => {
    const soonest = environments.peek();
    if (soonest !== undefined && soonest <= at) {
      environments.pop();
      environments.push(at + model.requestMs);
      return model.requestMs;
    }
    const allowed = Math.min(concurrency, step * (1 + Math.floor((at - first) / interval)));
    if (environments.size >= allowed) return undefined;
    coldStarts++;
    environments.push(at + model.coldStartMs + model.requestMs);
    return model.coldStartMs + model.requestMs;
  });
  return { latenciesMs, coldStarts, peakConcurrency: environments.size };
}

/** Nearest-rank percentile (q in (0, 1]) of `values`; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The most arrivals within any `windowMs` (1 s by default). */
export function peakInWindow(arrivalsMs: readonly number[], windowMs = 1_000): number {
  let peak = 0;
  for (let lo = 0, hi = 0; hi < arrivalsMs.length; hi++) {
    while (arrivalsMs[hi]! - arrivalsMs[lo]! >= windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

export interface BurstOutcome {
  readonly deliveries: number;
  readonly peakPerSecond: number;
  /** Answered 429 by the stage throttle. */
  readonly refusedByThrottle: number;
  /** Let through by API Gateway, then throttled by Lambda (a 5xx). */
  readonly refusedByLambda: number;
  /** 99th percentile of arrival → 202 over the accepted deliveries (ms). */
  readonly p99ToAcceptedMs: number;
  readonly coldStarts: number;
  readonly peakConcurrency: number;
}

/** A trace through the stage's token bucket, then through the verify function's concurrency. */
export function simulateBurst(
  trace: readonly Delivery[],
  throttle: ThrottleLimits,
  lambda: LambdaModel,
): BurstOutcome {
  const arrivals = trace.map((d) => d.atMs);
  const passed = tokenBucket(arrivals, throttle);
  const admitted = arrivals.filter((_, i) => passed[i]);
  const run = lambdaConcurrency(admitted, lambda);
  const served = run.latenciesMs.filter((l): l is number => l !== undefined);
  return {
    deliveries: trace.length,
    peakPerSecond: peakInWindow(arrivals),
    refusedByThrottle: arrivals.length - admitted.length,
    refusedByLambda: admitted.length - served.length,
    p99ToAcceptedMs: percentile(served, 0.99),
    coldStarts: run.coldStarts,
    peakConcurrency: run.peakConcurrency,
  };
}

/** How many deliveries of the midpoint `jobs`-job trace the stage throttle would answer 429. */
export function throttleRefusals(
  limits: ThrottleLimits,
  jobs = CHECKED_BUILD_JOBS,
): { refused: number; deliveries: number } {
  const arrivals = burstTrace(jobs).map((d) => d.atMs);
  return {
    refused: tokenBucket(arrivals, limits).filter((ok) => !ok).length,
    deliveries: arrivals.length,
  };
}
