/** The scheduled reconciliation run (an EventBridge schedule invokes it every few minutes). */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { apiTokenFromSecret, BuildkiteRestClient } from '../shared/buildkite-rest';
import { requireEnv, requireIntEnv } from '../shared/env';
import { EventBridgePublisher } from '../shared/event-bridge-publisher';
import { createLogger, createMetrics } from '../shared/powertools';
import { ReconcileApp, type RunSummary } from './app';
import { DynamoDeliveryIndex, PowertoolsReconcileMetrics } from './aws-adapters';
import { ApiBuildSource } from './buildkite-builds';

const logger = createLogger('reconcile');
const metrics = new PowertoolsReconcileMetrics(createMetrics('reconcile'));
// Clients use the default configuration chain, so AWS_ENDPOINT_URL points them at an emulator.
const clientConfig = { requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } };
const secrets = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig) });
const tokenSecretArn = requireEnv('BUILDKITE_API_TOKEN_SECRET_ARN');
const organization = requireEnv('BUILDKITE_ORGANIZATION');
const settings = {
  lookbackMinutes: requireIntEnv('RECONCILE_LOOKBACK_MINUTES'),
  graceMinutes: requireIntEnv('RECONCILE_GRACE_MINUTES'),
};
const maxPages = requireIntEnv('RECONCILE_MAX_PAGES');
const index = new DynamoDeliveryIndex(
  new DynamoDBClient(clientConfig),
  requireEnv('INDEX_TABLE_NAME'),
  requireIntEnv('INDEX_TTL_SECONDS'),
);
const publisher = new EventBridgePublisher(new EventBridgeClient(clientConfig), requireEnv('EVENT_BUS_NAME'));
// The token is read through a 5-minute cache, so a replaced token is used within one run or two.
const client = new BuildkiteRestClient({
  token: async () => apiTokenFromSecret(await secrets.get<string>(tokenSecretArn, { maxAge: 300 })),
  timeoutMs: 10_000,
});
/** Time kept back from the function's timeout for publishing and metrics after the last wait. */
const MARGIN_MS = 30_000;

export const handler = async (_event: unknown, context: Context): Promise<RunSummary> => {
  const app = new ReconcileApp(
    {
      builds: new ApiBuildSource(client, organization, {
        maxPages,
        remainingMs: () => context.getRemainingTimeInMillis() - MARGIN_MS,
      }),
      index,
      publisher,
      metrics,
      log: logger,
      now: () => new Date(),
    },
    settings,
  );
  return app.reconcile(context.awsRequestId);
};
