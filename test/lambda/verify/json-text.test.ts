import fc from 'fast-check';
import { jsonString } from '../../../lambda/verify/json-text';

describe('jsonString', () => {
  it('equals JSON.stringify for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string({ unit: 'grapheme' }),
          fc.string({
            unit: fc.constantFrom('"', '\\', '\n', '\u0001', '\ud800', '\udfff', 'a', '😀', '\u2028'),
          }),
        ),
        (value) => {
          expect(jsonString(value)).toBe(JSON.stringify(value));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it.each([
    '',
    'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    '192.0.2.10',
    'a"b',
    'a\\b',
    '\n',
    '\u0000',
    '\u001f',
    '\u007f',
    '\u2028',
    '\ud800',
    '\udc00x',
    '😀',
    'é',
  ])('equals JSON.stringify(%p)', (value) => {
    expect(jsonString(value)).toBe(JSON.stringify(value));
  });
});
