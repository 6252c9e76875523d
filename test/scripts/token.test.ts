import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseSecretTokens } from '../../lambda/verify/tokens';
import {
  checkToken,
  parseGrace,
  runToken,
  TokenCommandError,
  withNewToken,
  withPreviousExpiring,
  type TokenDeps,
} from '../../scripts/token';

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:WebhookSecret-abc';
const NOW = Date.parse('2026-12-06T12:00:00Z');

let out: string[];
let said: string[];
const deps = (stdin = ''): TokenDeps => ({
  secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
  secretArn: ARN,
  now: () => NOW,
  readStdin: async () => stdin,
  out: (line) => void out.push(line),
  say: (line) => void said.push(line),
});
const current = (value: string) => {
  sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: value });
  sm.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { v1: ['AWSCURRENT'] } });
  sm.on(PutSecretValueCommand).resolves({});
};
const written = () =>
  sm.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input.SecretString as string);

beforeEach(() => {
  sm.reset();
  out = [];
  said = [];
});

describe('npm run token', () => {
  it.each([
    ['{"token":"t1"}', 't1'],
    ['plain-token', 'plain-token'],
    ['{"tokens":["a","b"]}', 'a'],
  ])('prints the token Buildkite should have from %s, alone on stdout', async (value, token) => {
    current(value);
    await runToken('show', deps());
    expect(out).toEqual([token]);
    expect(said).toEqual([]);
    expect(written()).toEqual([]);
  });

  // The README's former script wrote previousToken "" or "undefined" for these shapes.
  it.each([
    ['plain-old', ['plain-old']],
    ['{"tokens":["a","b"]}', ['a', 'b']],
    ['{"token":"old"}', ['old']],
  ])('--new from %s keeps every old token accepted, prints only the new one', async (value, old) => {
    current(value);
    await runToken('new', deps());
    const [token] = out;
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(parseSecretTokens(written()[0]!, NOW + 86_400_000)).toEqual([token, ...old]);
    expect(said.join('\n')).toMatch(/Wait 5 minutes.*npm run token -- --finish/);
    expect(said.join('\n')).not.toContain(token!);
  });

  it('--set reads the token from stdin and never prints it', async () => {
    current('{"token":"old"}');
    await runToken('set', deps('my-own-token-0123456789\n'));
    expect(parseSecretTokens(written()[0]!, NOW)).toEqual(['my-own-token-0123456789', 'old']);
    expect(out).toEqual([]);
  });

  it('--finish makes the old tokens expire after the grace period', async () => {
    current('{"token":"new","previousToken":"old"}');
    await runToken('finish', deps(), 30 * 60_000);
    const value = written()[0]!;
    expect(JSON.parse(value)).toEqual({
      token: 'new',
      previousToken: 'old',
      previousExpiresAt: '2026-12-06T12:30:00.000Z',
    });
    expect(parseSecretTokens(value, NOW + 30 * 60_000)).toEqual(['new']);
    expect(said.join('\n')).toMatch(/accepted until 2026-12-06T12:30:00.000Z/);
  });

  it('--finish with one token writes nothing', async () => {
    current('{"token":"only"}');
    await runToken('finish', deps());
    expect(written()).toEqual([]);
    expect(said.join('\n')).toMatch(/nothing to finish/);
  });

  it('refuses to change the secret while a rotation is in progress', async () => {
    current('{"token":"old"}');
    sm.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } });
    await expect(runToken('new', deps())).rejects.toThrow(/rotation is in progress \(version v2/);
    expect(written()).toEqual([]);
  });
});

describe('helpers', () => {
  it('withNewToken drops expired tokens and keeps live ones', () => {
    const value = '{"token":"b","previousToken":"a","previousExpiresAt":"2026-12-06T11:00:00Z"}';
    expect(JSON.parse(withNewToken(value, 'c', NOW))).toEqual({ token: 'c', previousToken: 'b' });
  });

  it('withPreviousExpiring folds extra "tokens" entries into the expiring ones', () => {
    expect(JSON.parse(withPreviousExpiring('{"tokens":["a","b","c"]}', NOW, 600_000)!)).toEqual({
      token: 'a',
      previousTokens: ['b', 'c'],
      previousExpiresAt: '2026-12-06T12:10:00.000Z',
    });
  });

  it.each([
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
  ])('parseGrace(%s)', (value, ms) => {
    expect(parseGrace(value)).toBe(ms);
  });

  it.each(['5m', '10', 'soon', ''])('parseGrace refuses %j, naming the minimum', (value) => {
    expect(() => parseGrace(value)).toThrow(/at least 10 minutes/);
  });

  it('checkToken refuses short or spaced tokens without quoting them', () => {
    expect(() => checkToken('short')).toThrow(TokenCommandError);
    expect(() => checkToken('has a space in the middle!!')).toThrow(/16 to 256 printable characters/);
    expect(checkToken('  abcdefghijklmnop\n')).toBe('abcdefghijklmnop');
  });
});
