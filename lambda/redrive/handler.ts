import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSEvent, SQSRecord, SQSBatchResponse, Context } from 'aws-lambda';
import { requireEnv } from '../shared/env';
import { EventBridgePublisher } from '../shared/event-bridge-publisher';
import { createLogger } from '../shared/powertools';
import { fromSpoolMessage } from '../shared/spool-message';

const logger = createLogger('redrive');
const publisher = new EventBridgePublisher(new EventBridgeClient({}), requireEnv('EVENT_BUS_NAME'), {
  attempts: 3,
  baseDelayMs: 200,
});
const processor = new BatchProcessor(EventType.SQS);

/**
 * Republishes spooled events. A message that still cannot be published is reported as a
 * batch item failure, so SQS retries it and, after maxReceiveCount, moves it to the DLQ.
 */
export async function recordHandler(record: SQSRecord): Promise<void> {
  const entry = fromSpoolMessage(record);
  const eventId = await publisher.publish(entry);
  logger.info('Spooled event republished', {
    messageId: record.messageId,
    eventId,
    detailType: entry.detailType,
  });
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
