import { FirehoseClient } from '@aws-sdk/client-firehose';
import type { EventEnvelope } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { createLogger, createMetrics } from '../shared/powertools';
import { lazyS3BodyReader } from '../shared/lazy-s3-body-reader';
import { SkipReporter } from '../shared/skipped';
import { AnalyticsApp } from './app';
import { FirehoseRecordSink, PowertoolsMetricsEmitter } from './aws-adapters';
import { ANALYTICS_SERVICE } from './metrics';

const logger = createLogger(ANALYTICS_SERVICE);
const metrics = createMetrics(ANALYTICS_SERVICE);
// Default credential/endpoint chain, so AWS_ENDPOINT_URL points the clients at an emulator.
const clientConfig = { maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } };
const app = new AnalyticsApp({
  sink: new FirehoseRecordSink(new FirehoseClient(clientConfig), requireEnv('DELIVERY_STREAM_NAME')),
  bodies: lazyS3BodyReader(requireEnv('OVERSIZED_BUCKET_NAME'), clientConfig),
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
