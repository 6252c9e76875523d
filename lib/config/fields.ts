import { z } from 'zod';

/**
 * Zod fields every config section shares. Values passed with `-c key=value` arrive as strings,
 * so fields that expect a non-string read JSON out of them first.
 */
export const fromCli = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
};

/** A whole number in [min, max], also when given as a string on the command line. */
export const int = (min: number, max: number) =>
  z.preprocess(
    fromCli,
    z
      .number({ invalid_type_error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );

/** true or false, also when given as a string on the command line. */
export const bool = z.preprocess(fromCli, z.boolean({ invalid_type_error: 'must be true or false' }));
