/** The seeded PRNG (mulberry32) bench/ and scripts/ use, shared with the tests: one implementation. */
export { prng } from '../../support/prng';
