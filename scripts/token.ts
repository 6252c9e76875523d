/**
 * `npm run token`: the webhook token, read and changed safely. Tokens go to stdout alone (so
 * `TOKEN=$(npm run -s token)` works) and are read from stdin, never from the command line.
 *
 *   npm run token                      print the token Buildkite should have
 *   npm run token -- --new             a new random token, accepted beside every old one; prints it
 *   npm run token -- --set             the same with a token read from stdin
 *   npm run token -- --finish [--grace 60m]   the old tokens stop being accepted after the grace period
 *   npm run token -- --local           the token of `npm start`'s local webhook secret
 *
 * The manual rotation (without a Buildkite API token) is `--new`, wait 5 minutes (the verify
 * function's secret cache), paste the token into Buildkite, `--finish`. With `buildkiteApi`
 * configured, `npm run rotate` does all of it.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { VERIFY_SECRET_CACHE_SECONDS } from '../lambda/verify/token-source';
import { acceptedTokens, primaryToken, readWebhookSecret, rotatedSecretValue } from '../lambda/verify/tokens';
import { LocalSecretStore } from '../local/adapters/local-secret-store';
import { readDataDir } from '../local/local-env';
import { commandFailed, readCommandLine, runCommand } from './command';
import { requireOutput, resolveStackName, stackOutputs } from './stack-outputs';

export const USAGE =
  'usage: npm run token [-- --stack NAME]                  print the webhook token\n' +
  '       npm run token -- --new [--stack NAME]            a new token, old ones still accepted\n' +
  '       npm run token -- --set [--stack NAME] < file     the same with your token, read from stdin\n' +
  '       npm run token -- --finish [--grace 60m] [--stack NAME]   stop accepting the old ones after the grace period\n' +
  "       npm run token -- --local                        npm start's token (its webhook secret's current token)";

/** A problem the person can fix; the message says how. */
export class TokenCommandError extends Error {}

const DEFAULT_GRACE_MS = 60 * 60_000;
/** The verify function's secret cache, which a token change takes to reach every warm function. */
const VERIFY_CACHE_MINUTES = VERIFY_SECRET_CACHE_SECONDS / 60;

/** `30m`, `2h`, `1d` → milliseconds; at least 10 minutes (longer than the verify cache). */
export function parseGrace(value: string): number {
  const match = /^(\d+)(m|h|d)$/.exec(value.trim());
  const ms = match
    ? Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd']
    : NaN;
  if (!Number.isFinite(ms) || ms < 10 * 60_000) {
    throw new TokenCommandError(
      `--grace ${JSON.stringify(value)} must be a duration of at least 10 minutes, such as 30m, 2h or 1d (the verify function caches the secret for ${VERIFY_CACHE_MINUTES}).`,
    );
  }
  return ms;
}

/** A token for a new webhook secret: trimmed, printable, no white space, 16 to 256 characters. */
export function checkToken(token: string): string {
  const trimmed = token.trim();
  if (!/^[\x21-\x7e]{16,256}$/.test(trimmed)) {
    throw new TokenCommandError(
      'The token read from stdin must be 16 to 256 printable characters without spaces (e.g. openssl rand -hex 24).',
    );
  }
  return trimmed;
}

/** The secret's next value with `token` as the token and every token accepted now kept, without expiry. */
export function withNewToken(currentValue: string, token: string, nowMs: number): string {
  return rotatedSecretValue(token, acceptedTokens(readWebhookSecret(currentValue), nowMs));
}

/** The secret's next value with the previous tokens expiring `graceMs` from now; undefined when there are none. */
export function withPreviousExpiring(
  currentValue: string,
  nowMs: number,
  graceMs: number,
): string | undefined {
  const secret = readWebhookSecret(currentValue);
  const token = primaryToken(secret);
  const previous = acceptedTokens(secret, nowMs).filter((t) => t !== token);
  if (!token || previous.length === 0) return undefined;
  return rotatedSecretValue(token, previous, new Date(nowMs + graceMs));
}

export interface TokenDeps {
  readonly secrets: SecretsManagerClient;
  readonly secretArn: string;
  readonly now: () => number;
  readonly readStdin: () => Promise<string>;
  readonly out: (line: string) => void;
  readonly say: (line: string) => void;
}

async function currentValue(deps: TokenDeps): Promise<string> {
  const { SecretString } = await deps.secrets.send(new GetSecretValueCommand({ SecretId: deps.secretArn }));
  if (SecretString === undefined) throw new TokenCommandError('The webhook secret has no text value.');
  return SecretString;
}

async function refuseDuringRotation(deps: TokenDeps): Promise<void> {
  const { VersionIdsToStages = {} } = await deps.secrets.send(
    new DescribeSecretCommand({ SecretId: deps.secretArn }),
  );
  const pending = Object.entries(VersionIdsToStages).find(
    ([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  );
  if (pending) {
    throw new TokenCommandError(
      `A rotation is in progress (version ${pending[0]} is AWSPENDING): let it finish (npm run rotate -- --status), then try again.`,
    );
  }
}

async function put(deps: TokenDeps, value: string): Promise<void> {
  await deps.secrets.send(new PutSecretValueCommand({ SecretId: deps.secretArn, SecretString: value }));
}

/** Runs one of the four modes. */
export async function runToken(
  mode: 'show' | 'new' | 'set' | 'finish',
  deps: TokenDeps,
  graceMs = DEFAULT_GRACE_MS,
): Promise<void> {
  const value = await currentValue(deps);
  if (mode === 'show') {
    const token = primaryToken(readWebhookSecret(value));
    if (!token)
      throw new TokenCommandError('The webhook secret holds no current token: run npm run token -- --new.');
    deps.out(token);
    return;
  }
  await refuseDuringRotation(deps);
  if (mode === 'finish') {
    const next = withPreviousExpiring(value, deps.now(), graceMs);
    if (!next) {
      deps.say('The webhook secret accepts one token only: nothing to finish.');
      return;
    }
    await put(deps, next);
    deps.say(
      `The old tokens are accepted until ${new Date(deps.now() + graceMs).toISOString()}, then refused.`,
    );
    return;
  }
  const token = mode === 'new' ? randomBytes(24).toString('hex') : checkToken(await deps.readStdin());
  await put(deps, withNewToken(value, token, deps.now()));
  if (mode === 'new') deps.out(token);
  deps.say(
    `The webhook secret now accepts the new token beside the old ones. Wait ${VERIFY_CACHE_MINUTES} minutes (every verify function re-reads the secret), ` +
      'then give Buildkite the new token (npm run register, or paste it in the webhook settings), then run npm run token -- --finish.',
  );
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function tokenMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = readCommandLine(
    'token',
    USAGE,
    {
      args: argv,
      options: {
        new: { type: 'boolean', default: false },
        set: { type: 'boolean', default: false },
        finish: { type: 'boolean', default: false },
        grace: { type: 'string' },
        stack: { type: 'string' },
        local: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    ({ values }) => {
      if ([values.new, values.set, values.finish].filter(Boolean).length > 1) {
        throw new TokenCommandError('Give one of --new, --set and --finish.');
      }
      if (values.grace !== undefined && !values.finish)
        throw new TokenCommandError('--grace goes with --finish.');
      if (values.local && (values.new || values.set || values.finish || values.stack !== undefined)) {
        throw new TokenCommandError(
          '--local prints the local token only: change it with npm run rotate -- --local (or restart npm start with KITEBRIDGE_TOKEN).',
        );
      }
    },
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  try {
    if (values.local) {
      // The local secret's current token: what npm run rotate -- --local gave the Buildkite stub.
      console.log(new LocalSecretStore(readDataDir(env)).currentToken());
      return 0;
    }
    const graceMs = values.grace === undefined ? DEFAULT_GRACE_MS : parseGrace(values.grace);
    const stackName = resolveStackName(values.stack);
    const secretArn = requireOutput(await stackOutputs(stackName), 'WebhookSecretArn', stackName);
    const mode = values.new ? 'new' : values.set ? 'set' : values.finish ? 'finish' : 'show';
    await runToken(
      mode,
      {
        secrets: new SecretsManagerClient({}),
        secretArn,
        now: Date.now,
        readStdin: () => readAll(process.stdin),
        out: (line) => console.log(line),
        say: (line) => console.error(line),
      },
      graceMs,
    );
    return 0;
  } catch (error) {
    return commandFailed('token', error);
  }
}

if (require.main === module) runCommand('token', tokenMain);
