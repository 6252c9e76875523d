/**
 * `npm run rotate`: starts a rotation of the Buildkite webhook token now (Secrets Manager
 * RotateSecret on the `WebhookSecretArn` output). The rotation function makes the new token
 * accepted, waits until every verify function has read it (about 5.5 minutes), gives it to
 * Buildkite, checks it, and keeps the old token accepted for the grace period.
 *
 *   npm run rotate [-- --wait] [--stack NAME]
 *   npm run rotate -- --status [--stack NAME]
 *
 * Needs `buildkiteApi` deployed (the rotation function) and a registered webhook (npm run register).
 */
import {
  DescribeSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  type DescribeSecretCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandFailed, readCommandLine, runCommand } from './command';
import { requireOutput, resolveStackName, stackOutputs } from './stack-outputs';

export const USAGE =
  'usage: npm run rotate [-- --wait] [--stack NAME]     start a rotation of the webhook token\n' +
  '       npm run rotate -- --status [--stack NAME]     is one in progress, and when was the last';

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

export async function rotateMain(argv: string[]): Promise<number> {
  const parsed = readCommandLine('rotate', USAGE, {
    args: argv,
    options: {
      wait: { type: 'boolean', default: false },
      status: { type: 'boolean', default: false },
      stack: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  try {
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
