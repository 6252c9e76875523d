/**
 * `npm run rotate`: starts a rotation of the Buildkite webhook token now (Secrets Manager
 * RotateSecret on the `WebhookSecretArn` output). The rotation function makes the new token
 * accepted, waits until every verify function has read it (about 5.5 minutes), gives it to
 * Buildkite, checks it, and keeps the old token accepted for the grace period.
 *
 *   npm run rotate [-- --wait] [--stack NAME]
 *   npm run rotate -- --status [--stack NAME]
 *   npm run rotate -- --local [--grace 2m] | --local --status
 *
 * Needs `buildkiteApi` deployed (the rotation function) and a registered webhook (npm run register).
 * With `--local`, the same rotation function runs here, step by step, on the local webhook secret
 * `npm start` keeps in its data folder, against the Buildkite API at BUILDKITE_API_URL (the stub
 * from `npm run buildkite-stub`) where `npm run register -- --local` created the webhook.
 */
import {
  DescribeSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  type DescribeSecretCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { webhookDescription } from '../lambda/shared/buildkite-webhooks';
import { readWebhookSecret } from '../lambda/verify/tokens';
import { rotateWebhookToken } from '../lambda/webhook-rotation/app';
import { ROTATION_STEPS, type Clock, type WebhookRegistry } from '../lambda/webhook-rotation/ports';
import { LocalSecretStore, localSecretId } from '../local/adapters/local-secret-store';
import { localWebhookRegistry } from '../local/adapters/local-webhook-registry';
import { readDataDir } from '../local/local-env';
import { commandFailed, readCommandLine, runCommand } from './command';
import { localBuildkiteFromEnv, localWebhookUrl } from './local-buildkite';
import { requireOutput, resolveStackName, stackOutputs } from './stack-outputs';

export const USAGE =
  'usage: npm run rotate [-- --wait] [--stack NAME]     start a rotation of the webhook token\n' +
  '       npm run rotate -- --status [--stack NAME]     is one in progress, and when was the last\n' +
  "       npm run rotate -- --local [--grace 2m]        rotate npm start's token (against BUILDKITE_API_URL)\n" +
  "       npm run rotate -- --local --status            npm start's webhook secret: rotation state";

/** A problem the person can fix; the message says how. */
export class RotateError extends Error {}

/** The rotation in progress (the version carrying AWSPENDING and not AWSCURRENT), if any. */
export function pendingVersion(
  secret: Pick<DescribeSecretCommandOutput, 'VersionIdsToStages'>,
): string | undefined {
  return Object.entries(secret.VersionIdsToStages ?? {}).find(
    ([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  )?.[0];
}

/** One line on the secret's rotation state. */
export function describeStatus(secret: DescribeSecretCommandOutput): string {
  const pending = pendingVersion(secret);
  const last = secret.LastRotatedDate
    ? `last rotated ${secret.LastRotatedDate.toISOString()}`
    : 'never rotated';
  const schedule = secret.RotationRules?.ScheduleExpression
    ? `automatic rotation ${secret.RotationRules.ScheduleExpression}`
    : 'no automatic schedule (rotationDays 0)';
  const next = secret.NextRotationDate ? `, next ${secret.NextRotationDate.toISOString()}` : '';
  return pending
    ? `A rotation is in progress (version ${pending}); ${last}.`
    : `No rotation in progress; ${last}; ${schedule}${next}.`;
}

export interface RotateDeps {
  readonly secrets: SecretsManagerClient;
  readonly secretArn: string;
  readonly say: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long `--wait` waits at most. @default 15 minutes */
  readonly maxWaitMs?: number;
  /** @default 15 s */
  readonly pollMs?: number;
}

async function describe(deps: RotateDeps): Promise<DescribeSecretCommandOutput> {
  return deps.secrets.send(new DescribeSecretCommand({ SecretId: deps.secretArn }));
}

/** Starts a rotation; with `wait`, polls until it is over. Returns the rotation's version id. */
export async function rotate(deps: RotateDeps, wait = false): Promise<string> {
  const secret = await describe(deps);
  if (!secret.RotationEnabled || !secret.RotationLambdaARN) {
    throw new RotateError(
      'The webhook secret has no rotation function: set "buildkiteApi": {"organization": "<slug>"} in cdk.json and deploy ' +
        '(npm run cdk deploy), or rotate by hand with npm run token -- --new (README: Rotate the token).',
    );
  }
  const inProgress = pendingVersion(secret);
  if (inProgress) {
    throw new RotateError(
      `A rotation is already in progress (version ${inProgress}): wait for it (npm run rotate -- --status). ` +
        'If it keeps failing, read the webhook-rotation function log.',
    );
  }
  const { VersionId } = await deps.secrets.send(new RotateSecretCommand({ SecretId: deps.secretArn }));
  const version = VersionId ?? 'unknown';
  deps.say(
    `Started a rotation of the webhook token (version ${version}). It takes about 6 minutes: the new token is accepted first, ` +
      'Buildkite gets it once every verify function has read it, and the old one stays accepted for the grace period.',
  );
  if (!wait) return version;
  const pollMs = deps.pollMs ?? 15_000;
  for (let waited = 0; waited < (deps.maxWaitMs ?? 15 * 60_000); waited += pollMs) {
    await deps.sleep(pollMs);
    const now = await describe(deps);
    if (!pendingVersion(now)) {
      deps.say('The rotation finished: Buildkite has the new token.');
      return version;
    }
  }
  throw new RotateError(
    `The rotation (version ${version}) has not finished after ${Math.round((deps.maxWaitMs ?? 900_000) / 60_000)} minutes: ` +
      'read the webhook-rotation function log. Both tokens stay accepted meanwhile.',
  );
}

/** A margin on top of the local verify cache before the new token goes to Buildkite (30 s deployed). */
const LOCAL_PROPAGATION_MARGIN_MS = 5_000;

/** The local grace period when `--grace` is not given: two minutes, or longer than twice the cache. */
export function defaultLocalGraceMs(verifyCacheMs: number): number {
  return Math.max(2 * 60_000, 2 * verifyCacheMs + 60_000);
}

/** `90s`, `2m`, `1h` → milliseconds; longer than the local verify cache plus its margin. */
export function parseLocalGrace(value: string, verifyCacheMs: number): number {
  const match = /^(\d+)(s|m|h)$/.exec(value.trim());
  const ms = match
    ? Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h']
    : NaN;
  const least = verifyCacheMs + LOCAL_PROPAGATION_MARGIN_MS;
  if (!Number.isFinite(ms) || ms <= least) {
    throw new RotateError(
      `--grace ${JSON.stringify(value)} must be a duration such as 90s, 5m or 1h, longer than ${least / 1000} s ` +
        "(npm start's secret cache plus a margin): a shorter one could refuse the old token while a verify cache still lacks the new one.",
    );
  }
  return ms;
}

export interface LocalRotateDeps {
  readonly store: LocalSecretStore;
  readonly webhook: WebhookRegistry;
  readonly clock: Clock;
  /** How long the previous token stays accepted after the rotation. @default defaultLocalGraceMs */
  readonly graceMs?: number;
  readonly say: (line: string) => void;
  /** @default 24 random bytes, hex */
  readonly generateToken?: () => string;
  /** The rotation's version id. @default a random UUID */
  readonly versionId?: string;
}

const STEP_TITLES: Record<(typeof ROTATION_STEPS)[number], string> = {
  createSecret: 'createSecret: a new token, pending beside every token in use',
  setSecret:
    'setSecret: the current secret accepts both tokens; once every verify cache has it, Buildkite gets the new one',
  testSecret: 'testSecret: the verify check accepts the new token and Buildkite reports it',
  finishSecret: 'finishSecret: the new token is current; the old ones expire after the grace period',
};

/**
 * `npm run rotate -- --local`: what RotateSecret and the rotation function do, here: a pending
 * version in the local secret, then the four steps of lambda/webhook-rotation/app.ts, each
 * printed. A rotation left unfinished (a step failed) is resumed: every step is idempotent.
 * Returns the rotation's version id.
 */
export async function rotateLocal(deps: LocalRotateDeps): Promise<string> {
  const { store } = deps;
  const verifyCacheMs = store.verifyCacheMs();
  const graceMs = deps.graceMs ?? defaultLocalGraceMs(verifyCacheMs);
  const secretId = localSecretId(store.dataDir);
  const inProgress = store.pendingVersion();
  const versionId = inProgress ?? deps.versionId ?? randomUUID();
  if (inProgress) deps.say(`Resuming the rotation in progress (version ${inProgress}).`);
  else store.startRotation(versionId);
  const line = (message: string, fields: Record<string, unknown>) =>
    deps.say(`    ${message}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}`);
  for (const [i, Step] of ROTATION_STEPS.entries()) {
    deps.say(`Step ${i + 1}/4 ${STEP_TITLES[Step]}`);
    try {
      await rotateWebhookToken(
        { Step, SecretId: secretId, ClientRequestToken: versionId },
        {
          secrets: () => store,
          webhook: deps.webhook,
          clock: deps.clock,
          log: { info: line, warn: line },
          generateToken: deps.generateToken ?? (() => randomBytes(24).toString('hex')),
        },
        { webhookSecretArn: secretId, propagationMs: verifyCacheMs + LOCAL_PROPAGATION_MARGIN_MS, graceMs },
      );
    } catch (error) {
      throw new RotateError(
        `${Step} failed: ${(error as Error).message}\nThe old token stays accepted; run npm run rotate -- --local again to resume.`,
      );
    }
  }
  deps.say(
    `The rotation finished: Buildkite has the new token (npm run -s token -- --local prints it); ` +
      `the old one is refused after ${new Date(deps.clock.now() + graceMs).toISOString()}.`,
  );
  return versionId;
}

/** One line on the local secret's rotation state. */
export function describeLocalStatus(store: LocalSecretStore, nowMs: number): string {
  const pending = store.pendingVersion();
  const last = store.lastRotatedAt();
  const secret = readWebhookSecret(store.currentValue());
  const previous =
    secret.previous.length === 0
      ? 'it accepts one token'
      : secret.previousExpiresAt === undefined
        ? `it also accepts ${secret.previous.length} previous token(s), without expiry`
        : secret.previousExpiresAt > nowMs
          ? `the previous token(s) are accepted until ${new Date(secret.previousExpiresAt).toISOString()}`
          : 'the previous token(s) have expired';
  return pending
    ? `A rotation is in progress (version ${pending}): npm run rotate -- --local resumes it; ${previous}.`
    : `No rotation in progress; ${last ? `last rotated ${last}` : 'not rotated since npm start'}; ${previous}.`;
}

/** The local rotation's Buildkite webhook, from the environment `npm run register -- --local` reads. */
export function localRegistryFromEnv(env: NodeJS.ProcessEnv): WebhookRegistry {
  return localWebhookRegistry({
    ...localBuildkiteFromEnv(env),
    webhookUrl: localWebhookUrl(env, 'rotate'),
    description: webhookDescription('local'),
  });
}

async function localMain(
  values: { status?: boolean; wait?: boolean; grace?: string; stack?: string },
  env: NodeJS.ProcessEnv,
): Promise<void> {
  if (values.wait || values.stack !== undefined) {
    throw new RotateError('--wait and --stack are for a deployed stack: --local always runs to the end.');
  }
  const store = new LocalSecretStore(readDataDir(env));
  if (values.status) {
    if (values.grace !== undefined) throw new RotateError('--grace goes with a rotation, not --status.');
    console.log(describeLocalStatus(store, Date.now()));
    return;
  }
  const graceMs =
    values.grace === undefined ? undefined : parseLocalGrace(values.grace, store.verifyCacheMs());
  await rotateLocal({
    store,
    webhook: localRegistryFromEnv(env),
    clock: { now: Date.now, sleep: (ms) => sleep(ms) },
    ...(graceMs === undefined ? {} : { graceMs }),
    say: (line) => console.log(line),
  });
}

export async function rotateMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = readCommandLine('rotate', USAGE, {
    args: argv,
    options: {
      wait: { type: 'boolean', default: false },
      status: { type: 'boolean', default: false },
      local: { type: 'boolean', default: false },
      grace: { type: 'string' },
      stack: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  try {
    if (values.local) {
      await localMain(values, env);
      return 0;
    }
    if (values.grace !== undefined) {
      throw new RotateError(
        '--grace goes with --local; the deployed grace period is "rotationGraceMinutes" in cdk.json.',
      );
    }
    const stackName = resolveStackName(values.stack);
    const secretArn = requireOutput(await stackOutputs(stackName), 'WebhookSecretArn', stackName);
    const deps: RotateDeps = {
      secrets: new SecretsManagerClient({}),
      secretArn,
      say: (line) => console.log(line),
      sleep: (ms) => sleep(ms),
    };
    if (values.status) console.log(describeStatus(await describe(deps)));
    else await rotate(deps, values.wait);
    return 0;
  } catch (error) {
    return commandFailed('rotate', error);
  }
}

if (require.main === module) runCommand('rotate', rotateMain);
