import fc from 'fast-check';

/**
 * Runs of 1 to 12 dates, each within 2.5 s of one base date between the starts of the years
 * `fromYear` and `toYear`: the inputs that exercise a per-second cache, hits and misses both.
 */
export function nearbyDates(fromYear: number, toYear: number): fc.Arbitrary<Date[]> {
  return fc
    .tuple(
      fc.date({
        min: new Date(Date.UTC(fromYear, 0, 1)),
        max: new Date(Date.UTC(toYear, 0, 1)),
        noInvalidDate: true,
      }),
      fc.array(fc.integer({ min: -2500, max: 2500 }), { minLength: 1, maxLength: 12 }),
    )
    .map(([base, offsets]) => offsets.map((offset) => new Date(base.getTime() + offset)));
}
