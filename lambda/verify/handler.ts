import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requireEnv } from '../shared/env';
import { EventBridgePublisher } from '../shared/event-bridge-publisher';
import { secretsManagerFetcher } from './aws-adapters';
import { createDeployedHandler } from './deployed';
import { createLazyBodyStore, createLazySpool } from './lazy-adapters';
import { VERIFY_SECRET_CACHE_SECONDS } from './token-source';

// Clients use the default configuration chain, so AWS_ENDPOINT_URL (and the per-service
// AWS_ENDPOINT_URL_*) point them at an emulator. Short timeouts keep the answer within
// Buildkite's few-second delivery timeout; the publisher and spool retry on their own.
// Built at import: every request needs the bus and (on a cold cache) the secret. The SQS spool
// and the S3 body store are fallbacks few requests take: each is imported (its own bundle chunk)
// and its client built on first use, which keeps both clients off the cold start (bench/README.md).
const clientConfig = { maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } };
const secretsManager = new SecretsManagerClient(clientConfig);
const spoolQueueUrl = requireEnv('SPOOL_QUEUE_URL');
const oversizedBucket = requireEnv('OVERSIZED_BUCKET_NAME');

export const handler = createDeployedHandler(process.env, {
  publisher: new EventBridgePublisher(
    new EventBridgeClient({ ...clientConfig, maxAttempts: 1 }),
    requireEnv('EVENT_BUS_NAME'),
  ),
  spool: createLazySpool(async () =>
    (await import('./aws-sqs-spool')).createSqsSpool(clientConfig, spoolQueueUrl),
  ),
  bodies: createLazyBodyStore(async () =>
    (await import('./aws-s3-body-store')).createS3BodyStore(clientConfig, oversizedBucket),
  ),
  // The token rotation waits out this cache before Buildkite gets a new token.
  secret: (arn) =>
    secretsManagerFetcher(secretsManager, arn, { maxAgeMs: VERIFY_SECRET_CACHE_SECONDS * 1000 }),
});
