/**
 * The most timestamps (ms) that fall in any half-open window of `width` ms: a rate limit checked
 * from the outside, by what was actually sent (tests and benchmarks of the relay's pacing).
 */
export function maxInAnyWindow(times: readonly number[], width: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= width) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
