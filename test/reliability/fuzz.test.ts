/**
 * Property-based fuzzing of the verify handler: a quick sample of every property in
 * support/fuzz-properties.ts (`npm run fuzz` runs the same properties for longer).
 *
 * Each run uses a random seed; a failure prints the seed and path to replay it and the
 * counterexample with the tokens redacted. FUZZ_SEED pins the seed.
 */
import { ERRORS } from '../../lambda/verify/answers';
import { formatCounts, formatFailure, PROPERTIES, runFuzzProperty } from '../../support/fuzz-properties';

const RUNS = 500;
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

describe('verify handler under random requests', () => {
  it.each(PROPERTIES.map((p) => [p.name, p] as const))('%s', async (_name, property) => {
    const run = await runFuzzProperty(property, { numRuns: RUNS, ...(seed === undefined ? {} : { seed }) });
    if (run.details.failed) throw new Error(formatFailure(run));
    expect(run.details.numRuns).toBe(RUNS);
  });

  it('the generated requests reach every stage: each 4xx answer and 202 occur', async () => {
    // A fixed seed, so this coverage check cannot flake.
    const answerShape = PROPERTIES.find((p) => p.name === 'answer-shape');
    if (!answerShape) throw new Error('no answer-shape property');
    const run = await runFuzzProperty(answerShape, { numRuns: 1000, seed: 20261123 });
    expect(run.details.failed).toBe(false);

    const clientErrors = Object.entries(ERRORS)
      .filter(([, [status]]) => status < 500)
      .map(([code]) => code);
    const missing = [...clientErrors, 'published'].filter((code) => !run.stats.codes.has(code));
    expect({ missing, seen: formatCounts(run.stats.codes) }).toEqual({
      missing: [],
      seen: expect.any(String),
    });
    // At least a tenth of the requests get all the way through to the deliverer.
    expect(run.stats.statuses.get(202) ?? 0).toBeGreaterThan(100);
  });
});
