import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../shared/clock';
import { requireEnv, requireIntEnv } from '../shared/env';
import { createLogger } from '../shared/powertools';
import { rotateWebhookToken } from './app';
import { buildkiteWebhookRegistry, SecretsManagerSecretStore } from './aws-adapters';
import type { RotationEvent } from './ports';

const logger = createLogger('webhook-rotation');
const client = new SecretsManagerClient({});
const webhook = buildkiteWebhookRegistry({
  client,
  apiTokenSecretArn: requireEnv('BUILDKITE_API_TOKEN_SECRET_ARN'),
  organization: requireEnv('BUILDKITE_ORGANIZATION'),
  webhookUrl: requireEnv('WEBHOOK_URL'),
  description: requireEnv('WEBHOOK_DESCRIPTION'),
});
const settings = {
  webhookSecretArn: requireEnv('WEBHOOK_SECRET_ARN'),
  propagationMs: requireIntEnv('PROPAGATION_SECONDS') * 1000,
  graceMs: requireIntEnv('GRACE_MINUTES') * 60_000,
};

/** Secrets Manager's rotation function for the webhook secret: one step per invocation. */
export const handler = async (event: RotationEvent, context: Context): Promise<void> => {
  logger.info('Rotation step', { step: event.Step, versionId: event.ClientRequestToken });
  await rotateWebhookToken(
    event,
    {
      secrets: (secretId, rotationToken) => new SecretsManagerSecretStore(client, secretId, rotationToken),
      webhook,
      clock: systemClock,
      log: logger,
      generateToken: () => randomBytes(24).toString('hex'),
    },
    { ...settings, remainingMs: () => context.getRemainingTimeInMillis() },
  );
};
