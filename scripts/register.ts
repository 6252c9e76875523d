/**
 * `npm run register`: creates or updates this deployment's webhook in Buildkite, through the
 * Notification Services API, with the URL from the stack outputs (`WebhookUrl`), the token from
 * the webhook secret, signature mode and every event. Idempotent: it finds its own webhook by URL
 * and description (`kitebridge (<stack>)`) and never touches another service.
 *
 *   npm run register [-- --dry-run] [--adopt] [--stack NAME]
 *   npm run register -- --local [--dry-run]     # npm start's endpoint, against BUILDKITE_API_URL
 *
 * The Buildkite API token comes from the `BuildkiteApiTokenSecretArn` secret (`buildkiteApi` in
 * cdk.json), or from BUILDKITE_API_TOKEN when set. `--adopt` takes over a webhook for the same URL
 * that someone created by hand (it gets kitebridge's description and settings).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'node:fs';
import { apiTokenFromSecret, BuildkiteRestClient } from '../lambda/shared/buildkite-rest';
import {
  BuildkiteWebhooks,
  findOwnWebhook,
  webhookBody,
  webhookDescription,
  webhookDifferences,
  type DesiredWebhook,
  type NotificationService,
} from '../lambda/shared/buildkite-webhooks';
import { VERIFY_SECRET_CACHE_SECONDS } from '../lambda/verify/token-source';
import { primaryToken, readWebhookSecret } from '../lambda/verify/tokens';
import { devTokenFile, readDataDir } from '../local/local-env';
import { commandFailed, readCommandLine, runCommand } from './command';
import { localBuildkiteFromEnv, localWebhookUrl } from './local-buildkite';
import { requireOutput, resolveStackName, stackOutputs } from './stack-outputs';

export const USAGE =
  'usage: npm run register [-- --dry-run] [--adopt] [--stack NAME]\n' +
  '       npm run register -- --local [--dry-run] [--adopt]   (npm start, against BUILDKITE_API_URL)';

/** A problem the person running the command can fix; the message says how. */
export class RegisterError extends Error {}

export type RegisterAction = 'created' | 'updated' | 'unchanged' | 'would-create' | 'would-update';

export interface RegisterResult {
  readonly action: RegisterAction;
  /** The service's id (absent for would-create). */
  readonly serviceId?: string;
  /** What changed (or would): field names, never values. */
  readonly changes: readonly string[];
}

/** The calls `register` makes on the organization's services (BuildkiteWebhooks). */
export type WebhookApi = Pick<BuildkiteWebhooks, 'list' | 'create' | 'update'>;

/**
 * Brings kitebridge's webhook in line with `desired`: creates it, updates what differs, or leaves
 * it. A webhook for the same URL with another description is someone else's: an error unless
 * `adopt`, which takes it over.
 */
export async function register(
  api: WebhookApi,
  desired: DesiredWebhook,
  options: {
    readonly dryRun?: boolean;
    readonly adopt?: boolean;
    /**
     * When every verify function has read the secret's current value (its version's creation plus
     * the verify cache): giving Buildkite the token earlier could get deliveries refused.
     */
    readonly tokenReadyAt?: number;
    readonly now?: () => number;
  } = {},
): Promise<RegisterResult> {
  const tooSoon = () => {
    const now = (options.now ?? Date.now)();
    if (options.tokenReadyAt === undefined || options.dryRun || now >= options.tokenReadyAt) return;
    throw new RegisterError(
      `The webhook token changed less than ${VERIFY_SECRET_CACHE_SECONDS / 60} minutes ago, so some verify functions may not accept it yet. ` +
        `Run again after ${new Date(options.tokenReadyAt).toISOString()} (a rotation in progress gives Buildkite the token itself: npm run rotate -- --status).`,
    );
  };
  const match = findOwnWebhook(await api.list(), desired.url, desired.description);
  let target: NotificationService | undefined = match.own;
  if (!target && match.strangers.length > 0) {
    const names = match.strangers.map((s) => `"${s.description}" (${s.id})`).join(', ');
    if (!options.adopt || match.strangers.length > 1) {
      throw new RegisterError(
        `Buildkite already has a webhook for ${desired.url} that kitebridge did not create: ${names}. ` +
          (match.strangers.length > 1
            ? 'Delete all but one in Organization Settings → Notification Services, then run again with --adopt.'
            : "Run again with --adopt to take it over (its description and settings become kitebridge's), or delete it in Buildkite."),
      );
    }
    target = match.strangers[0];
  }
  if (!target) {
    if (options.dryRun) return { action: 'would-create', changes: ['a new webhook'] };
    tooSoon();
    const created = await api.create(desired);
    return { action: 'created', serviceId: created.id, changes: ['a new webhook'] };
  }
  const changes = webhookDifferences(target, desired);
  if (target.description !== desired.description)
    changes.unshift(`description ("${target.description}" → "${desired.description}")`);
  if (changes.length === 0) return { action: 'unchanged', serviceId: target.id, changes };
  if (options.dryRun) return { action: 'would-update', serviceId: target.id, changes };
  if (changes.includes('token')) tooSoon();
  const wanted = webhookBody(desired);
  await api.update(target, {
    description: desired.description,
    settings: wanted.settings as Record<string, unknown>,
  });
  return { action: 'updated', serviceId: target.id, changes };
}

/** One line saying what happened, for people. */
export function describeResult(
  result: RegisterResult,
  desired: DesiredWebhook,
  organization: string,
): string {
  const where = `organization ${organization}, ${desired.url}`;
  switch (result.action) {
    case 'created':
      return `Created the webhook ${result.serviceId} (${where}): signature mode, every event. Buildkite sends a ping now.`;
    case 'updated':
      return `Updated the webhook ${result.serviceId} (${where}): ${result.changes.join('; ')}. Buildkite sends a ping now.`;
    case 'unchanged':
      return `The webhook ${result.serviceId} (${where}) is already up to date: nothing to do.`;
    case 'would-create':
      return `Dry run: would create a webhook (${where}): signature mode, every event.`;
    case 'would-update':
      return `Dry run: would update the webhook ${result.serviceId} (${where}): ${result.changes.join('; ')}.`;
  }
}

async function secretString(
  client: SecretsManagerClient,
  secretId: string,
  what: string,
): Promise<{ value: string; createdAt?: number }> {
  try {
    const { SecretString, CreatedDate } = await client.send(
      new GetSecretValueCommand({ SecretId: secretId }),
    );
    if (SecretString === undefined) throw new RegisterError(`The ${what} secret has no text value.`);
    return { value: SecretString, ...(CreatedDate ? { createdAt: CreatedDate.getTime() } : {}) };
  } catch (error) {
    if (error instanceof RegisterError) throw error;
    const name = (error as Error).name;
    throw new RegisterError(
      `Could not read the ${what} secret (${name}): check your AWS credentials and region, and that they may read ${secretId}.`,
    );
  }
}

/** What a run needs, from the stack (or from npm start's files with --local). */
export interface Target {
  readonly organization: string;
  readonly apiToken: string;
  readonly desired: DesiredWebhook;
  /** When every verify function accepts the secret's current value. */
  readonly tokenReadyAt?: number;
}

async function deployedTarget(stackFlag: string | undefined, env: NodeJS.ProcessEnv): Promise<Target> {
  const stackName = resolveStackName(stackFlag);
  const outputs = await stackOutputs(stackName);
  const url = requireOutput(outputs, 'WebhookUrl', stackName);
  const secretArn = requireOutput(outputs, 'WebhookSecretArn', stackName);
  const organization = outputs.BuildkiteOrganization;
  const apiSecretArn = outputs.BuildkiteApiTokenSecretArn;
  if (!organization || (!apiSecretArn && !env.BUILDKITE_API_TOKEN)) {
    throw new RegisterError(
      `Stack "${stackName}" has no Buildkite API token secret: set "buildkiteApi": {"organization": "<slug>"} in cdk.json ` +
        'and deploy (npm run cdk deploy), then store a token in the BuildkiteApiTokenSecretArn secret (README: Register in Buildkite).',
    );
  }
  const secrets = new SecretsManagerClient({});
  const read = await secretString(secrets, secretArn, 'webhook');
  const webhook = readWebhookSecret(read.value);
  const token = primaryToken(webhook);
  if (!token)
    throw new RegisterError('The webhook secret holds no current token: run npm run token -- --new.');
  const apiToken = env.BUILDKITE_API_TOKEN
    ? apiTokenFromSecret(env.BUILDKITE_API_TOKEN)
    : apiTokenFromSecret((await secretString(secrets, apiSecretArn as string, 'Buildkite API token')).value);
  return {
    organization,
    apiToken,
    desired: { url, token, description: webhookDescription(stackName) },
    ...(read.createdAt === undefined
      ? {}
      : { tokenReadyAt: read.createdAt + VERIFY_SECRET_CACHE_SECONDS * 1000 }),
  };
}

function localTarget(env: NodeJS.ProcessEnv): Target {
  const { organization, apiToken } = localBuildkiteFromEnv(env);
  const tokenFile = devTokenFile(readDataDir(env));
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new RegisterError(
      `No dev token at ${tokenFile}: start kitebridge first (npm start), with the same KITEBRIDGE_DATA_DIR.`,
    );
  }
  return {
    organization,
    apiToken,
    desired: { url: localWebhookUrl(env, 'register'), token, description: webhookDescription('local') },
  };
}

async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = readCommandLine('register', USAGE, {
    args: argv,
    options: {
      'dry-run': { type: 'boolean', default: false },
      adopt: { type: 'boolean', default: false },
      local: { type: 'boolean', default: false },
      stack: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  try {
    const target = values.local ? localTarget(env) : await deployedTarget(values.stack, env);
    const client = new BuildkiteRestClient({
      token: target.apiToken,
      ...(env.BUILDKITE_API_URL ? { baseUrl: env.BUILDKITE_API_URL } : {}),
    });
    const api = new BuildkiteWebhooks(client, target.organization);
    const result = await register(api, target.desired, {
      dryRun: values['dry-run'],
      adopt: values.adopt,
      ...(target.tokenReadyAt === undefined ? {} : { tokenReadyAt: target.tokenReadyAt }),
    });
    console.log(describeResult(result, target.desired, target.organization));
    return 0;
  } catch (error) {
    return commandFailed('register', error);
  }
}

export { main as registerMain };

if (require.main === module) runCommand('register', main);
