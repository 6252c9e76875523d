import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { num, readNum } from '../../../lambda/shared/dynamo-values';

describe('num', () => {
  it.each([
    [0, '0'],
    [42, '42'],
    [-1.5, '-1.5'],
    [1_765_000_000_000, '1765000000000'],
  ])('writes %p as N %p', (value, expected) => {
    expect(num(value)).toEqual({ N: expected });
  });
});

describe('readNum', () => {
  const item: Record<string, AttributeValue> = {
    count: { N: '7' },
    fraction: { N: '0.25' },
    garbled: { N: 'seven' },
    label: { S: '7' },
  };

  it.each([
    ['a number attribute', item, 'count', 7],
    ['a fractional number', item, 'fraction', 0.25],
    ['a missing attribute', item, 'absent', undefined],
    ['an attribute of another type', item, 'label', undefined],
    ['a missing item', undefined, 'count', undefined],
  ])('reads %s', (_case, source, name, expected) => {
    expect(readNum(source, name)).toBe(expected);
  });

  it('reads a value that does not parse as NaN, as Number does', () => {
    expect(readNum(item, 'garbled')).toBeNaN();
  });

  it('round-trips what num writes', () => {
    expect(readNum({ at: num(1_765_000_000_123) }, 'at')).toBe(1_765_000_000_123);
  });
});
