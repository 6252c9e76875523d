/**
 * `npm run fuzz`: runs the verify handler's fuzz properties (support/fuzz-properties.ts)
 * for longer than the test suite does.
 *
 *   npm run fuzz [-- --runs N] [--seed S] [--only NAME]... [--path P]
 *
 * Runs default to FUZZ_RUNS, else 10,000 per property; the seed to FUZZ_SEED, else a random one
 * (printed, so a failure can be replayed; property i runs with seed + i). A failure prints the
 * command that replays its counterexample (`--only NAME --seed S --path P`). Prints, per property, the runs, the time and the
 * distribution of answers; on a counterexample prints it (tokens and MACs redacted) and exits 1.
 */
import { parseArgs } from 'node:util';
import {
  formatCounts,
  formatFailure,
  PROPERTIES,
  runFuzzProperty,
  type PropertyRun,
} from '../support/fuzz-properties';

const DEFAULT_RUNS = 10_000;

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`${name} must be a positive integer, not "${value}"`);
  return n;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string', multiple: true },
      path: { type: 'string' },
    },
    strict: true,
  });
  const numRuns = positiveInteger(values.runs ?? env.FUZZ_RUNS, '--runs') ?? DEFAULT_RUNS;
  const seedText = values.seed ?? env.FUZZ_SEED;
  const seed = seedText === undefined || seedText === '' ? (Math.random() * 2 ** 31) | 0 : Number(seedText);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, not "${seedText}"`);
  const only = values.only ?? [];
  const selected = only.length === 0 ? PROPERTIES : PROPERTIES.filter((p) => only.includes(p.name));
  if (selected.length === 0) {
    throw new Error(
      `no property named ${only.join(', ')}; properties: ${PROPERTIES.map((p) => p.name).join(', ')}`,
    );
  }

  console.log(`Fuzzing the verify handler: ${selected.length} properties × ${numRuns} runs, seed ${seed}`);
  const runs: PropertyRun[] = [];
  const statuses = new Map<number, number>();
  const started = performance.now();
  for (const [i, property] of selected.entries()) {
    // A seed per property, so properties sharing an arbitrary see different requests.
    const run = await runFuzzProperty(property, {
      numRuns,
      seed: (seed + i) | 0,
      ...(values.path === undefined ? {} : { path: values.path }),
    });
    runs.push(run);
    const verdict = run.details.failed ? 'FAILED' : 'ok';
    console.log(
      `${verdict.padEnd(6)} ${property.name.padEnd(28)} ${String(run.details.numRuns).padStart(7)} runs ${(run.ms / 1000).toFixed(1).padStart(6)} s   ${formatCounts(run.stats.statuses)}`,
    );
    console.log(`       ${property.description}`);
    console.log(`       codes: ${formatCounts(run.stats.codes)}`);
    for (const [status, n] of run.stats.statuses) statuses.set(status, (statuses.get(status) ?? 0) + n);
    if (run.details.failed) console.log(`\n${formatFailure(run)}\n`);
  }

  const failed = runs.filter((r) => r.details.failed).length;
  const total = runs.reduce((sum, r) => sum + r.details.numRuns, 0);
  console.log(
    `\nAll statuses: ${formatCounts(statuses)} (${total} runs in ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${seed})`,
  );
  console.log(`${runs.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  },
);
