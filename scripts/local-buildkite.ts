/**
 * What `--local` commands (`npm run register -- --local`, `npm run rotate -- --local`) talk to: a
 * stand-in Buildkite API (`npm run buildkite-stub`) named by the environment, and the local
 * kitebridge that `npm start` serves.
 */
import { loadLocalConfig } from '../local/local-config';
import { readPort } from '../local/local-env';

/** The environment lacks what `--local` needs; the message names the fix. */
export class LocalBuildkiteError extends Error {}

/** The stand-in Buildkite API and the organization to work in. */
export interface LocalBuildkite {
  readonly baseUrl: string;
  readonly apiToken: string;
  readonly organization: string;
}

/**
 * `BUILDKITE_API_URL`, `BUILDKITE_API_TOKEN` and the organization (`BUILDKITE_ORGANIZATION`,
 * else `buildkiteApi.organization` in cdk.json); throws a LocalBuildkiteError naming the one missing.
 */
export function localBuildkiteFromEnv(env: NodeJS.ProcessEnv): LocalBuildkite {
  if (!env.BUILDKITE_API_URL) {
    throw new LocalBuildkiteError(
      '--local needs BUILDKITE_API_URL (a stand-in for Buildkite: npm run buildkite-stub prints the exports to use).',
    );
  }
  if (!env.BUILDKITE_API_TOKEN)
    throw new LocalBuildkiteError('--local needs BUILDKITE_API_TOKEN (the stub prints it).');
  const organization = env.BUILDKITE_ORGANIZATION ?? loadLocalConfig().buildkiteApi?.organization;
  if (!organization) {
    throw new LocalBuildkiteError(
      '--local needs the organization: set BUILDKITE_ORGANIZATION, or "buildkiteApi": {"organization": "<slug>"} in cdk.json.',
    );
  }
  return { baseUrl: env.BUILDKITE_API_URL, apiToken: env.BUILDKITE_API_TOKEN, organization };
}

/** The webhook URL of the kitebridge `npm start` runs (its `PORT`); `command` is named if PORT is bad. */
export function localWebhookUrl(env: NodeJS.ProcessEnv, command: string): string {
  return `http://127.0.0.1:${readPort(env, `npm run ${command} -- --local`)}/buildkite`;
}
