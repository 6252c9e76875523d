import { thrownBy } from './thrown';

class ShapeError extends Error {
  constructor(readonly field: string) {
    super(`bad ${field}`);
  }
}

describe('thrownBy', () => {
  it('returns the error thrown, typed, for its fields', () => {
    expect(
      thrownBy(ShapeError, () => {
        throw new ShapeError('width');
      }).field,
    ).toBe('width');
  });

  it('fails when nothing is thrown, naming the class it expected', () => {
    expect(() => thrownBy(ShapeError, () => 1)).toThrow('expected a ShapeError, but nothing was thrown');
  });

  it('fails when another kind of error is thrown', () => {
    expect(() =>
      thrownBy(ShapeError, () => {
        throw new RangeError('not this one');
      }),
    ).toThrow(/toBeInstanceOf/);
  });
});
