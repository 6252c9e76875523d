/**
 * The local kitebridge's webhook in a Buildkite API (the stub from `npm run buildkite-stub`, or
 * Buildkite itself), for the rotation run by `npm run rotate -- --local`: the deployed adapter
 * reads its API token from Secrets Manager, this one is given it. It finds the webhook as the
 * deployed rotation does, by URL and description (`npm run register -- --local` creates it).
 */
import type { WebhookRegistry } from '../../lambda/webhook-rotation/ports';
import { webhookRegistry } from '../../lambda/webhook-rotation/webhook-registry';

export interface LocalWebhookRegistryOptions {
  /** The Buildkite API's base URL (`BUILDKITE_API_URL`). */
  readonly baseUrl: string;
  /** The API token it accepts (`BUILDKITE_API_TOKEN`). */
  readonly apiToken: string;
  readonly organization: string;
  /** The local gateway's webhook URL, as registered. */
  readonly webhookUrl: string;
  readonly description: string;
}

export function localWebhookRegistry(options: LocalWebhookRegistryOptions): WebhookRegistry {
  return webhookRegistry({
    apiToken: async () => options.apiToken,
    organization: options.organization,
    webhookUrl: options.webhookUrl,
    description: options.description,
    baseUrl: options.baseUrl,
    apiName: `The Buildkite API at ${options.baseUrl}`,
    registerHint: 'run npm run register -- --local first (with the same PORT).',
  });
}
