import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv, requireIntEnv } from '../shared/env';
import { createLogger, createMetrics } from '../shared/powertools';
import { SkipReporter } from '../shared/skipped';
import {
  DynamoDbIdempotencyStore,
  DynamoDbPacingStore,
  relayMessageOf,
  S3BodySource,
  SecretsManagerUrlSource,
  SqsRelayQueue,
} from './aws-adapters';
import { gcraParams } from './gcra';
import { FetchTriggerPoster } from './http-poster';
import { Pacer } from './pacer';
import { TriggerRelayApp } from './app';

const logger = createLogger('trigger-relay');

// Clients use the default configuration chain, so AWS_ENDPOINT_URL points them at an emulator.
const clientConfig = { requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } };
const tableName = requireEnv('RELAY_TABLE_NAME');
const dynamo = new DynamoDBClient(clientConfig);
const sqs = new SQSClient(clientConfig);

function parseSecretArns(raw: string): Record<string, string> {
  const parsed: unknown = JSON.parse(raw);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('TRIGGER_URL_SECRET_ARNS must be a JSON object of trigger name to secret ARN.');
  }
  return Object.fromEntries(Object.entries(parsed).map(([name, arn]) => [name, String(arn)]));
}

const relay = new TriggerRelayApp({
  pacer: new Pacer(
    new DynamoDbPacingStore(dynamo, tableName),
    gcraParams(requireIntEnv('TRIGGER_RATE_PER_HOUR'), requireIntEnv('TRIGGER_BURST')),
    Date.now,
  ),
  idempotency: new DynamoDbIdempotencyStore(dynamo, tableName),
  urls: new SecretsManagerUrlSource(
    new SecretsManagerClient(clientConfig),
    parseSecretArns(requireEnv('TRIGGER_URL_SECRET_ARNS')),
  ),
  bodies: new S3BodySource(new S3Client(clientConfig), requireEnv('OVERSIZED_BUCKET_NAME')),
  poster: new FetchTriggerPoster({ timeoutMs: requireIntEnv('TRIGGER_POST_TIMEOUT_MS') }),
  queue: new SqsRelayQueue(sqs, requireEnv('RELAY_QUEUE_URL'), requireEnv('RELAY_DEAD_LETTER_QUEUE_URL')),
  log: logger,
  skips: new SkipReporter(logger, createMetrics('trigger-relay')),
});
// One record at a time: they share one rate, and a batch is small.
const processor = new BatchProcessor(EventType.SQS);

/** Relays one message; a thrown error marks it failed, so SQS redelivers it (then its DLQ). */
export async function recordHandler(record: SQSRecord): Promise<void> {
  await relay.process(relayMessageOf(record));
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, recordHandler, processor, {
    context,
    processInParallel: false,
    throwOnFullBatchFailure: false,
  });
