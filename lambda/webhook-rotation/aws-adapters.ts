import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { apiTokenFromSecret } from '../shared/buildkite-rest';
import type { SecretStore, SecretVersion, WebhookRegistry } from './ports';
import { webhookRegistry } from './webhook-registry';

/** The webhook secret's versions in Secrets Manager. */
export class SecretsManagerSecretStore implements SecretStore {
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    /** The rotation event's RotationToken, which Secrets Manager checks on writes when present. */
    private readonly rotationToken?: string,
  ) {}

  async describe() {
    const out = await this.client.send(new DescribeSecretCommand({ SecretId: this.secretId }));
    return { rotationEnabled: out.RotationEnabled === true, versions: out.VersionIdsToStages ?? {} };
  }

  async read(select: {
    readonly stage?: string;
    readonly versionId?: string;
  }): Promise<SecretVersion | undefined> {
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({
          SecretId: this.secretId,
          ...(select.versionId ? { VersionId: select.versionId } : {}),
          ...(select.stage ? { VersionStage: select.stage } : {}),
        }),
      );
      if (out.SecretString === undefined || out.VersionId === undefined) return undefined;
      return {
        versionId: out.VersionId,
        value: out.SecretString,
        createdAt: out.CreatedDate?.getTime() ?? 0,
      };
    } catch (error) {
      if (
        error instanceof ResourceNotFoundException ||
        (error as Error).name === 'ResourceNotFoundException'
      ) {
        return undefined;
      }
      throw error;
    }
  }

  async put(versionId: string, value: string, stages: readonly string[]): Promise<void> {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: this.secretId,
        ClientRequestToken: versionId,
        SecretString: value,
        VersionStages: [...stages],
        ...(this.rotationToken ? { RotationToken: this.rotationToken } : {}),
      }),
    );
  }

  async removeStage(stage: string, from: string): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: this.secretId,
        VersionStage: stage,
        RemoveFromVersionId: from,
      }),
    );
  }
}

export interface BuildkiteRegistryOptions {
  readonly client: SecretsManagerClient;
  /** The secret holding the Buildkite API token. */
  readonly apiTokenSecretArn: string;
  readonly organization: string;
  /** The webhook's URL and description: how kitebridge's own webhook is recognised. */
  readonly webhookUrl: string;
  readonly description: string;
  /** @default BUILDKITE_API_URL, else https://api.buildkite.com */
  readonly baseUrl?: string;
}

/** kitebridge's webhook through Buildkite's REST API, with the API token read from its secret. */
export function buildkiteWebhookRegistry(options: BuildkiteRegistryOptions): WebhookRegistry {
  return webhookRegistry({
    apiToken: async () => {
      const out = await options.client.send(
        new GetSecretValueCommand({ SecretId: options.apiTokenSecretArn }),
      );
      return apiTokenFromSecret(out.SecretString);
    },
    organization: options.organization,
    webhookUrl: options.webhookUrl,
    description: options.description,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    apiName: 'Buildkite',
    registerHint: 'run npm run register first (it creates one, or adopts yours with --adopt).',
  });
}
