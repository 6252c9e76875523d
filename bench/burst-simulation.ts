/**
 * Burst simulation: generated delivery traces of one parallel build (200, 1,000 and 5,000 jobs, an
 * agent connecting per job) replayed through API Gateway's stage token bucket, configured as synth
 * configures it (cdk.json's context through the config loader), then through the verify function's
 * Lambda concurrency (account limit, per-function scaling, cold starts). Reports the deliveries
 * refused (429 from the bucket, 5xx from a Lambda throttle: Buildkite retries neither) and the p99
 * time from arrival to the 202.
 *
 * Run: npx tsx bench/burst-simulation.ts [--seed 1] [--rate R --burst B] [--concurrency 1000]
 *      [--cold-start-ms 250] [--handler-ms 0.04] [--put-events-ms 30]
 *
 * The model is lib/capacity.ts, the same one synth's throttle warning uses. Defaults and where they
 * come from are in bench/README.md (Burst simulation).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ACCOUNT_LAMBDA_LIMITS, burstTrace, CHECKED_BUILD_JOBS, simulateBurst } from '../lib/capacity';
import { parseConfig } from '../lib/config';
import { prng } from '../support/prng';
import { numberFlag, PROJECT_ROOT } from './support';

/** Builds up to this size must lose nothing. */
const ZERO_LOSS_UP_TO_JOBS = CHECKED_BUILD_JOBS;
/** p99 arrival → 202 target: a fifth of the 5 s read timeout a Buildkite delivery log shows. */
const P99_TARGET_MS = 1_000;
const BUILDS = [200, 1_000, 5_000];

/** The stage throttle as `cdk synth` would configure it from cdk.json. */
function configuredThrottle(): { rateLimit: number; burstLimit: number; source: string } {
  const cdkJsonPath = path.join(PROJECT_ROOT, 'cdk.json');
  const context = (JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as { context: Record<string, unknown> })
    .context;
  const config = parseConfig(context, { cdkJsonPath });
  const rate = numberFlag('rate', config.throttleRateLimit);
  const burst = numberFlag('burst', config.throttleBurstLimit);
  const overridden = rate !== config.throttleRateLimit || burst !== config.throttleBurstLimit;
  return { rateLimit: rate, burstLimit: burst, source: overridden ? 'flags' : 'cdk.json' };
}

function main(): void {
  const seed = numberFlag('seed', 1);
  const throttle = configuredThrottle();
  const coldStartMs = numberFlag('cold-start-ms', 250);
  const handlerMs = numberFlag('handler-ms', 0.04);
  const putEventsMs = numberFlag('put-events-ms', 30);
  const concurrency = numberFlag('concurrency', ACCOUNT_LAMBDA_LIMITS.concurrency);
  const lambda = { concurrency, coldStartMs, requestMs: handlerMs + putEventsMs };

  console.log('burst-simulation: one parallel build through the stage token bucket and Lambda concurrency');
  console.log(
    `throttle (${throttle.source}): rate ${throttle.rateLimit}/s, burst ${throttle.burstLimit}; Lambda: ` +
      `concurrency ${concurrency}, +${ACCOUNT_LAMBDA_LIMITS.scalingStep} per ${ACCOUNT_LAMBDA_LIMITS.scalingIntervalMs / 1000} s, ` +
      `cold start ${coldStartMs} ms, request ${lambda.requestMs} ms (handler ${handlerMs} + PutEvents ${putEventsMs}); seed ${seed}`,
  );
  console.log('| build | figure | measured | target | result |');
  console.log('|---|---|---|---|---|');
  let missed = 0;
  for (const jobs of BUILDS) {
    const outcome = simulateBurst(burstTrace(jobs, prng(seed + jobs)), throttle, lambda);
    const targeted = jobs <= ZERO_LOSS_UP_TO_JOBS;
    const row = (figure: string, measured: string, ok: boolean | undefined, target: string) => {
      if (ok === false) missed++;
      console.log(
        `| ${jobs.toLocaleString('en-US')} jobs | ${figure} | ${measured} | ${target} | ${ok === undefined ? 'info' : ok ? 'PASS' : 'MISS'} |`,
      );
    };
    row('deliveries (busiest second)', `${outcome.deliveries} (${outcome.peakPerSecond})`, undefined, '–');
    row(
      'refused by the stage throttle (429)',
      String(outcome.refusedByThrottle),
      targeted ? outcome.refusedByThrottle === 0 : undefined,
      targeted ? '0' : '–',
    );
    row(
      'refused by Lambda throttling (5xx)',
      String(outcome.refusedByLambda),
      targeted ? outcome.refusedByLambda === 0 : undefined,
      targeted ? '0' : '–',
    );
    row(
      'p99 arrival → 202',
      `${outcome.p99ToAcceptedMs.toFixed(0)} ms`,
      targeted ? outcome.p99ToAcceptedMs <= P99_TARGET_MS : undefined,
      targeted ? `≤ ${P99_TARGET_MS} ms` : '–',
    );
    row(
      'peak concurrency (cold starts)',
      `${outcome.peakConcurrency} (${outcome.coldStarts})`,
      undefined,
      '–',
    );
  }
  if (missed > 0) process.exitCode = 1;
}

main();
