/**
 * The local kitebridge's webhook in a Buildkite API (the stub from `npm run buildkite-stub`, or
 * Buildkite itself), for the rotation run by `npm run rotate -- --local`: the deployed adapter
 * reads its API token from Secrets Manager, this one is given it. It finds the webhook as the
 * deployed rotation does, by URL and description (`npm run register -- --local` creates it).
 */
import { BuildkiteRestClient } from '../../lambda/shared/buildkite-rest';
import {
  BuildkiteWebhooks,
  findOwnWebhook,
  type NotificationService,
} from '../../lambda/shared/buildkite-webhooks';
import type { WebhookRegistry } from '../../lambda/webhook-rotation/ports';

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
  const webhooks = new BuildkiteWebhooks(
    new BuildkiteRestClient({ token: options.apiToken, baseUrl: options.baseUrl }),
    options.organization,
  );
  return {
    async find(): Promise<NotificationService> {
      const match = findOwnWebhook(await webhooks.list(), options.webhookUrl, options.description);
      if (!match.own) {
        throw new Error(
          `The Buildkite API at ${options.baseUrl} has no webhook for ${options.webhookUrl} described "${options.description}" ` +
            `in organization ${options.organization}: run npm run register -- --local first (with the same PORT).`,
        );
      }
      return match.own;
    },
    async setToken(service: NotificationService, token: string): Promise<void> {
      await webhooks.update(service, { settings: { token } });
    },
  };
}
