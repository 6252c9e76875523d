/** The index consumer: a rule sends it every `build.finished` on the bus, and it records the key. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventEnvelope } from '../shared/contract';
import { requireEnv, requireIntEnv } from '../shared/env';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createLogger, createMetrics } from '../shared/powertools';
import { recordDelivered } from './app';
import { DynamoDeliveryIndex } from './aws-adapters';

const logger = createLogger('reconcile-index');
const metrics = createMetrics('reconcile');
const index = new DynamoDeliveryIndex(
  new DynamoDBClient({ requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } }),
  requireEnv('INDEX_TABLE_NAME'),
  requireIntEnv('INDEX_TTL_SECONDS'),
);

/** Throws on a DynamoDB failure, so Lambda retries the event and then dead-letters it. */
export const handler = async (event: EventEnvelope): Promise<void> => {
  await recordDelivered(event, {
    index,
    log: logger,
    now: () => new Date(),
    // `LateDeliveries`: delivered after reconciliation published them (consumers dedupe them).
    late: () => {
      metrics.addMetric('LateDeliveries', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    },
  });
};
