/** The benchmarks' seeded PRNG (mulberry32), shared with the tests: one implementation. */
export { prng } from '../../bench/prng';
