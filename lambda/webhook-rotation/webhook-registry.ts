import { BuildkiteRestClient, BuildkiteUnauthorizedError } from '../shared/buildkite-rest';
import { BuildkiteWebhooks, findOwnWebhook, type NotificationService } from '../shared/buildkite-webhooks';
import type { WebhookRegistry } from './ports';

export interface WebhookRegistryOptions {
  /**
   * The Buildkite API token, read on first use and read again after Buildkite refuses it (a
   * person may have stored a new one between a failed rotation and its retry).
   */
  readonly apiToken: () => Promise<string>;
  readonly organization: string;
  /** The webhook's URL and description: how kitebridge's own webhook is recognised. */
  readonly webhookUrl: string;
  readonly description: string;
  /** @default BUILDKITE_API_URL, else https://api.buildkite.com */
  readonly baseUrl?: string;
  /** Names the API in the error when the webhook is missing, e.g. `Buildkite`. */
  readonly apiName: string;
  /** The fix when the webhook is missing, e.g. `run npm run register first`. */
  readonly registerHint: string;
}

/** kitebridge's webhook through Buildkite's REST API (deployed, or the local stub). */
export function webhookRegistry(options: WebhookRegistryOptions): WebhookRegistry {
  let webhooks: BuildkiteWebhooks | undefined;
  const api = async (): Promise<BuildkiteWebhooks> => {
    webhooks ??= new BuildkiteWebhooks(
      new BuildkiteRestClient({
        token: await options.apiToken(),
        ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      }),
      options.organization,
    );
    return webhooks;
  };
  const forgetRefusedToken = (error: unknown): never => {
    if (error instanceof BuildkiteUnauthorizedError) webhooks = undefined;
    throw error;
  };
  return {
    async find(): Promise<NotificationService> {
      const services = await (await api()).list().catch(forgetRefusedToken);
      const match = findOwnWebhook(services, options.webhookUrl, options.description);
      if (!match.own) {
        throw new Error(
          `${options.apiName} has no webhook for ${options.webhookUrl} described "${options.description}" ` +
            `in organization ${options.organization}: ${options.registerHint}`,
        );
      }
      return match.own;
    },
    async setToken(service: NotificationService, token: string): Promise<void> {
      await (await api()).update(service, { settings: { token } }).catch(forgetRefusedToken);
    },
  };
}
