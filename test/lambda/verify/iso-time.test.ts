import fc from 'fast-check';
import { isoTime, isoTimeOfMs } from '../../../lambda/verify/iso-time';
import { nearbyDates } from '../../support/nearby-dates';

describe('isoTime', () => {
  it('equals toISOString for every representable date', () => {
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), (date) => {
        expect(isoTime(date)).toBe(date.toISOString());
      }),
      { numRuns: 2000 },
    );
  });

  it('equals toISOString for runs of dates within a few seconds (its per-second cache)', () => {
    fc.assert(
      fc.property(nearbyDates(-2000, 12000), (dates) => {
        for (const date of dates) expect(isoTime(date)).toBe(date.toISOString());
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    new Date(Date.UTC(1000, 0, 1)),
    new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
    new Date(-1),
    new Date(8.64e15),
    new Date(-8.64e15),
    new Date(Date.UTC(2026, 10, 23, 9, 5, 7, 3)),
  ])('equals toISOString at %p', (date) => {
    expect(isoTime(date)).toBe(date.toISOString());
  });

  it('throws as toISOString does for an invalid date', () => {
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('isoTimeOfMs equals toISOString of the same milliseconds, interleaved with isoTime (one cache)', () => {
    fc.assert(
      fc.property(
        nearbyDates(-500, 11000),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        (dates, asMs) => {
          dates.forEach((date, i) => {
            expect(asMs[i] ? isoTimeOfMs(date.getTime()) : isoTime(date)).toBe(date.toISOString());
          });
        },
      ),
      { numRuns: 2000 },
    );
    expect(() => isoTimeOfMs(Number.NaN)).toThrow(RangeError);
  });
});
