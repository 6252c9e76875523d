import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requireEnv, requireIntEnv } from '../shared/env';
import { EventBridgePublisher } from '../shared/event-bridge-publisher';
import { parseRoutingPaths } from '../shared/pointer';
import { createLogger } from '../shared/powertools';
import { createVerifyHandler } from './app';
import { EventDeliverer } from './delivery';
import { createLazyBodyStore, createLazySpool } from './lazy-adapters';
import { createOutcomeObserver } from './observer';
import { TokenSource } from './token-source';
import { parseTriggerDefinitions } from './trigger-auth';

const logger = createLogger('verify');

// Clients use the default configuration chain, so AWS_ENDPOINT_URL (and the per-service
// AWS_ENDPOINT_URL_*) point them at an emulator. Short timeouts keep the answer within
// Buildkite's few-second delivery timeout; the publisher and spool retry on their own.
// Built at import: every request needs the bus and (on a cold cache) the secret. The SQS spool
// and the S3 body store are fallbacks few requests take: each is imported (its own bundle chunk)
// and its client built on first use, which keeps both clients off the cold start (bench/README.md).
const clientConfig = { maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } };
const eventBridge = new EventBridgeClient({ ...clientConfig, maxAttempts: 1 });
const secretsProvider = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig) });
const secretArn = requireEnv('WEBHOOK_SECRET_ARN');

const secretSource = (arn: string) =>
  new TokenSource(async (fresh) => {
    const value = await secretsProvider.get(arn, { maxAge: 300, forceFetch: fresh });
    if (typeof value !== 'string') throw new Error('The secret has no string value.');
    return value;
  });
const tokens = secretSource(secretArn);
const triggers = new Map(
  parseTriggerDefinitions(process.env.TRIGGERS).map((definition) => [
    definition.name,
    { definition, secrets: secretSource(definition.secretArn as string) },
  ]),
);

const spoolQueueUrl = requireEnv('SPOOL_QUEUE_URL');
const oversizedBucket = requireEnv('OVERSIZED_BUCKET_NAME');
const deliverer = new EventDeliverer({
  publisher: new EventBridgePublisher(eventBridge, requireEnv('EVENT_BUS_NAME')),
  spool: createLazySpool(async () =>
    (await import('./sqs-spool')).createSqsSpool(clientConfig, spoolQueueUrl),
  ),
  bodies: createLazyBodyStore(async () =>
    (await import('./s3-body-store')).createS3BodyStore(clientConfig, oversizedBucket),
  ),
  log: logger,
  routingPaths: parseRoutingPaths(process.env.ROUTING_PATHS),
});

export const handler = createVerifyHandler(
  { tokens, deliverer, triggers },
  {
    replayWindowSeconds: requireIntEnv('REPLAY_WINDOW_SECONDS'),
    maxBodyBytes: requireIntEnv('MAX_BODY_BYTES'),
  },
  // One line per request: the structured log line, carrying the request's metrics as EMF.
  createOutcomeObserver({
    serviceName: 'verify',
    logLevel: logger.getLevelName(),
    metricsDisabled: process.env.POWERTOOLS_METRICS_DISABLED === 'true',
  }),
);
