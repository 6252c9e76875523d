import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { EventEnvelope } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { createLogger, createMetrics } from '../shared/powertools';
import { lazyS3BodyReader } from '../shared/lazy-s3-body-reader';
import { SkipReporter } from '../shared/skipped';
import { ChatAlertsApp } from './app';
import { DynamoAlertStateStore, SqsDeadLetterSink } from './aws-adapters';
import { withPermanentFailuresToDeadLetters } from './dead-letters';
import { HttpPoster } from './http-poster';
import { parseRuntimeConfig } from './runtime-config';

const logger = createLogger('chat-alerts');
const metrics = createMetrics('chat-alerts');
const log = {
  info: (message: string, attributes: Record<string, unknown> = {}) => logger.info(message, attributes),
  warn: (message: string, attributes: Record<string, unknown> = {}) => logger.warn(message, attributes),
  error: (message: string, attributes: Record<string, unknown> = {}) => logger.error(message, attributes),
};
const config = parseRuntimeConfig(requireEnv('CHAT_ALERTS_CONFIG'));

// Default credential/endpoint chain, so AWS_ENDPOINT_URL points the clients at an emulator.
const clientConfig = { maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } };
const secrets = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig) });

const app = new ChatAlertsApp({
  store: new DynamoAlertStateStore(new DynamoDBClient(clientConfig), requireEnv('TABLE_NAME'), {
    ttlDays: config.stateTtlDays,
  }),
  poster: new HttpPoster({
    resolveUrl: async (destination) => {
      if (!destination.secretArn) throw new Error(`Destination ${destination.name} has no secret ARN.`);
      const value = await secrets.get(destination.secretArn, { maxAge: 300 });
      return typeof value === 'string' ? value : '';
    },
  }),
  destinations: config.destinations,
  bodies: lazyS3BodyReader(requireEnv('OVERSIZED_BUCKET_NAME'), clientConfig),
  jobsGraceMs: config.jobsGraceSeconds * 1000,
  log,
  skips: new SkipReporter(logger, metrics),
});

/** EventBridge → chat alerts; permanent failures go straight to the consumer's DLQ. */
export const handler = withPermanentFailuresToDeadLetters(
  (event: EventEnvelope) => app.handle(event),
  new SqsDeadLetterSink(new SQSClient(clientConfig), requireEnv('DEAD_LETTER_QUEUE_URL')),
  log,
);
