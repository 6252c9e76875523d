/**
 * Reconciliation simulation: a generated day of builds (seeded) where a random 10% of the
 * `build.finished` deliveries are dropped, replayed on a simulated clock through the real
 * reconciler (ReconcileApp, ApiBuildSource, the shared REST client) against an in-memory builds
 * API that paginates by `Link` and enforces Buildkite's per-token rate limit. Reports, per load:
 * whether every dropped build was published exactly once and no delivered one, Buildkite API calls
 * per hour, and the detection delay (build finished → event published).
 *
 * Run: npm run bench:reconcile [-- --seed 1] [--drop 0.1] [--hours 24]
 *      [--every 5] [--lookback 60] [--grace 3] [--late 0.05]
 *
 * Delivered webhooks arrive within the grace period (Buildkite answers in seconds when it
 * delivers at all); the figures are in bench/README.md (Reconciliation).
 */
import { generateHistory, simulateReconciliation } from '../support/reconcile-simulation';
import { prng } from '../support/prng';
import { fmt, median, numberFlag, quantile } from './support';

const START = Date.parse('2026-12-01T00:00:00Z');
/** Builds finished per day, by load. */
const LOADS = [
  { name: 'small org', perDay: 500 },
  { name: 'busy org', perDay: 5_000 },
  { name: 'very busy org', perDay: 20_000 },
];

async function main(): Promise<void> {
  const seed = numberFlag('seed', 1);
  const dropRate = numberFlag('drop', 0.1);
  const hours = numberFlag('hours', 24);
  const everyMinutes = numberFlag('every', 5);
  const settings = { lookbackMinutes: numberFlag('lookback', 60), graceMinutes: numberFlag('grace', 3) };
  console.log(
    `reconcile-simulation: ${hours} h of builds, ${fmt(dropRate * 100, 0)}% of deliveries dropped (seed ${seed}); ` +
      `a run every ${everyMinutes} min, look-back ${settings.lookbackMinutes} min, grace ${settings.graceMinutes} min`,
  );
  console.log(
    '| load | builds | dropped | published | exactly once, no delivered one | API calls / hour | 429s | detection delay median / p95 / max |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  let ok = true;
  for (const load of LOADS) {
    const builds = generateHistory({
      count: Math.round((load.perDay * hours) / 24),
      startMs: START,
      spanMs: hours * 3_600_000,
      dropRate,
      maxDelayMs: settings.graceMinutes * 60_000 - 1,
      random: prng(seed),
    });
    const result = await simulateReconciliation({
      builds,
      settings,
      scheduleMinutes: everyMinutes,
      startMs: START,
    });
    const keys = result.published.map((p) => p.key);
    const exactlyOnce =
      new Set(keys).size === keys.length &&
      keys.every((k) => result.dropped.has(k)) &&
      [...result.dropped].every((k) => keys.includes(k));
    ok &&= exactlyOnce;
    const perHour = result.apiCalls / (result.spanMs / 3_600_000);
    const delays = result.detectionDelaysMs.map((ms) => ms / 60_000);
    console.log(
      `| ${load.name} (${load.perDay.toLocaleString('en')}/day) | ${builds.length.toLocaleString('en')} | ${result.dropped.size} | ${keys.length} | ${exactlyOnce ? 'yes' : 'NO'} | ${fmt(perHour, 1)} | ${result.throttled} | ` +
        (delays.length
          ? `${fmt(median(delays), 1)} / ${fmt(quantile(delays, 0.95), 1)} / ${fmt(Math.max(...delays), 1)} min |`
          : 'n/a |'),
    );
  }
  // Buildkite has delayed deliveries by up to 45 minutes: such a delivery is published by
  // reconciliation first, and then arrives with the same dedupe key, so consumers act once.
  const lateRate = numberFlag('late', 0.05);
  const lateBuilds = generateHistory({
    count: Math.round((5_000 * hours) / 24),
    startMs: START,
    spanMs: hours * 3_600_000,
    dropRate,
    maxDelayMs: settings.graceMinutes * 60_000 - 1,
    lateRate,
    random: prng(seed),
  });
  const late = await simulateReconciliation({
    builds: lateBuilds,
    settings,
    scheduleMinutes: everyMinutes,
    startMs: START,
  });
  const lateKeys = late.published.map((p) => p.key);
  const delayedPastGrace = lateBuilds.filter(
    (b) => b.delivered && b.deliveryDelayMs >= settings.graceMinutes * 60_000,
  );
  const publishedEarly = lateKeys.filter((k) => late.delivered.has(k)).length;
  const droppedOnce =
    new Set(lateKeys).size === lateKeys.length && [...late.dropped].every((k) => lateKeys.includes(k));
  ok &&= droppedOnce;
  console.log('');
  console.log(
    `busy org (5,000/day) with ${fmt(lateRate * 100, 0)}% of deliveries 10-45 min late: ${delayedPastGrace.length} late, ` +
      `${publishedEarly} of them published by reconciliation before they arrived (same dedupe key: consumers act once); ` +
      `every dropped build published exactly once: ${droppedOnce ? 'yes' : 'NO'}`,
  );
  if (!ok) {
    console.error(
      'reconcile-simulation: a dropped build was missed or published twice, or a delivered one published.',
    );
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
