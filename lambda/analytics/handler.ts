import { FirehoseClient } from '@aws-sdk/client-firehose';
import { S3Client } from '@aws-sdk/client-s3';
import type { EventEnvelope } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { createLogger, createMetrics } from '../shared/powertools';
import { S3BodyReader } from '../shared/s3-body-reader';
import { SkipReporter } from '../shared/skipped';
import { AnalyticsApp } from './app';
import { FirehoseRecordSink } from './firehose';
import { ANALYTICS_SERVICE, PowertoolsMetricsEmitter } from './metrics';

const logger = createLogger(ANALYTICS_SERVICE);
const metrics = createMetrics(ANALYTICS_SERVICE);
// Default credential/endpoint chain, so AWS_ENDPOINT_URL points the clients at an emulator.
const clientConfig = { maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } };
const app = new AnalyticsApp({
  sink: new FirehoseRecordSink(new FirehoseClient(clientConfig), requireEnv('DELIVERY_STREAM_NAME')),
  bodies: new S3BodyReader(new S3Client(clientConfig), requireEnv('OVERSIZED_BUCKET_NAME')),
  metrics: new PowertoolsMetricsEmitter(metrics),
  skips: new SkipReporter(logger, metrics),
});

/** EventBridge → one analytics record on Firehose; any failure is rethrown so the event is retried. */
export async function handler(event: EventEnvelope): Promise<void> {
  try {
    const record = await app.handle(event);
    logger.info('Record written', { event: record.event, dedupeKey: record.dedupe_key });
  } catch (error) {
    logger.error('Record not written', { event: event['detail-type'], id: event.id, error: error as Error });
    throw error;
  }
}
