import {
  acceptedTokens,
  constantTimeEqual,
  matchToken,
  parseSecretTokens,
  primaryToken,
  readWebhookSecret,
  rotatedSecretValue,
} from '../../../lambda/verify/tokens';

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

describe('rotation values', () => {
  const T0 = Date.parse('2026-12-06T18:00:00Z');

  it('accepts the previous token until previousExpiresAt, then only the current one', () => {
    const value = '{"token":"new","previousToken":"old","previousExpiresAt":"2026-12-06T18:00:00Z"}';
    expect(parseSecretTokens(value, T0 - 1)).toEqual(['new', 'old']);
    expect(parseSecretTokens(value, T0)).toEqual(['new']);
    expect(parseSecretTokens(value, T0 + 3_600_000)).toEqual(['new']);
  });

  it('reads previousTokens like previousToken, with the same expiry', () => {
    const value = JSON.stringify({
      token: 'n',
      previousTokens: ['a', 'b', 'n'],
      previousExpiresAt: '2026-12-06T18:00:00Z',
    });
    expect(readWebhookSecret(value)).toEqual({ current: ['n'], previous: ['a', 'b'], previousExpiresAt: T0 });
    expect(parseSecretTokens(value, T0 - 1)).toEqual(['n', 'a', 'b']);
  });

  it.each([
    ['"soon"', /previousExpiresAt" must be an ISO-8601 time/],
    ['42', /previousExpiresAt" must be an ISO-8601 time/],
  ])('rejects previousExpiresAt %s, naming the field', (raw, message) => {
    expect(() => readWebhookSecret(`{"token":"a","previousToken":"b","previousExpiresAt":${raw}}`)).toThrow(
      message,
    );
  });

  it('an only-previous secret whose tokens expired holds no token', () => {
    expect(() =>
      parseSecretTokens('{"previousToken":"a","previousExpiresAt":"2026-12-06T18:00:00Z"}', T0),
    ).toThrow(/expired/);
  });

  it.each([
    ['{"token":"a"}', 'a'],
    ['{"tokens":["b","c"]}', 'b'],
    ['plain', 'plain'],
    ['{"token":"n","previousToken":"o"}', 'n'],
  ])('primaryToken of %s is %s', (value, expected) => {
    expect(primaryToken(readWebhookSecret(value))).toBe(expected);
  });

  it('rotatedSecretValue keeps every old token and round-trips through the reader', () => {
    const expires = new Date(T0);
    expect(JSON.parse(rotatedSecretValue('n', ['o'], expires))).toEqual({
      token: 'n',
      previousToken: 'o',
      previousExpiresAt: '2026-12-06T18:00:00.000Z',
    });
    expect(JSON.parse(rotatedSecretValue('n', ['o', 'p', 'n']))).toEqual({
      token: 'n',
      previousTokens: ['o', 'p'],
    });
    expect(JSON.parse(rotatedSecretValue('n', ['n'], expires))).toEqual({ token: 'n' });
    expect(parseSecretTokens(rotatedSecretValue('n', ['o', 'p'], expires), T0 - 1)).toEqual(['n', 'o', 'p']);
  });

  // The manual rotation script the README used to give wrote previousToken as "" or "undefined"
  // for these shapes: building the value from what the reader returns keeps every old token.
  it.each([
    ['plain-old', ['plain-old']],
    ['{"tokens":["a","b"]}', ['a', 'b']],
    ['{"token":"x","previousToken":"y"}', ['x', 'y']],
  ])('a rotation from %s keeps %j accepted', (value, old) => {
    const secret = readWebhookSecret(value);
    const rotated = rotatedSecretValue('fresh', acceptedTokens(secret, T0));
    expect(parseSecretTokens(rotated, T0)).toEqual(['fresh', ...old]);
    expect(rotated).not.toMatch(/"undefined"|""/);
  });
});
