import { isJsonObject } from '../../../lambda/shared/json-object';

describe('isJsonObject', () => {
  it.each<[string, unknown, boolean]>([
    ['an object', { a: 1 }, true],
    ['an empty object', {}, true],
    ['null', null, false],
    ['an array', [1, 2], false],
    ['a string', '{}', false],
    ['a number', 1, false],
    ['undefined', undefined, false],
  ])('%s: %s', (_name, value, expected) => expect(isJsonObject(value)).toBe(expected));
});
