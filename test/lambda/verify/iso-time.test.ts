import fc from 'fast-check';
import { isoTime, isoTimeOfMs } from '../../../lambda/verify/iso-time';

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
      fc.property(
        fc.date({
          min: new Date(Date.UTC(-2000, 0, 1)),
          max: new Date(Date.UTC(12000, 0, 1)),
          noInvalidDate: true,
        }),
        fc.array(fc.integer({ min: -2500, max: 2500 }), { minLength: 1, maxLength: 12 }),
        (base, offsets) => {
          for (const offset of offsets) {
            const date = new Date(base.getTime() + offset);
            expect(isoTime(date)).toBe(date.toISOString());
          }
        },
      ),
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
        fc.date({
          min: new Date(Date.UTC(-500, 0, 1)),
          max: new Date(Date.UTC(11000, 0, 1)),
          noInvalidDate: true,
        }),
        fc.array(fc.tuple(fc.integer({ min: -2500, max: 2500 }), fc.boolean()), {
          minLength: 1,
          maxLength: 12,
        }),
        (base, steps) => {
          for (const [offset, asMs] of steps) {
            const date = new Date(base.getTime() + offset);
            expect(asMs ? isoTimeOfMs(date.getTime()) : isoTime(date)).toBe(date.toISOString());
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(() => isoTimeOfMs(Number.NaN)).toThrow(RangeError);
  });
});
