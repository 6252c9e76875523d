import { constantTimeEqual, matchToken, parseSecretTokens } from '../../../lambda/verify/tokens';

describe('parseSecretTokens', () => {
  it.each([
    ['{"token":"abc"}', ['abc']],
    ['{"token":"new","previousToken":"old"}', ['new', 'old']],
    ['{"tokens":["a","b"]}', ['a', 'b']],
    ['{"token":"a","previousToken":"a"}', ['a']],
    ['{"token":"a","previousToken":""}', ['a']],
    ['{"token":"a","previousToken":null}', ['a']],
    ['plain-token', ['plain-token']],
    ['plain-token\n', ['plain-token']],
  ])('reads %s', (value, expected) => {
    expect(parseSecretTokens(value)).toEqual(expected);
  });

  it.each([
    ['', /holds no token/],
    ['{}', /holds no token/],
    ['{"token": 5}', /must be strings/],
    ['{"token": ', /does not parse/],
  ])('rejects %j without quoting it', (value, message) => {
    expect(() => parseSecretTokens(value)).toThrow(message);
  });

  it('never puts the secret value in its error message', () => {
    const secret = '{"token": 12345678901234}';
    try {
      parseSecretTokens(secret);
      throw new Error('expected a throw');
    } catch (error) {
      expect((error as Error).message).not.toContain('12345678901234');
    }
  });
});

describe('constantTimeEqual / matchToken', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
  ])('%j vs %j → %s', (a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });

  it('finds the matching token among several', () => {
    expect(matchToken('old', ['new', 'old'])).toBe('old');
    expect(matchToken('nope', ['new', 'old'])).toBeUndefined();
  });
});
