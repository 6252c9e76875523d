/** SQS records as Lambda's SQS event source hands them to a function, for handler tests. */
import type { SQSRecord } from 'aws-lambda';
import type { BusEntry } from '../../lambda/shared/contract';
import { toSpoolMessage } from '../../lambda/shared/spool-message';

/** The record of message `id` on queue `queue` (`spool`, `relay`, …) with `body` and string attributes. */
export function sqsRecord(
  id: string,
  queue: string,
  body: string,
  attributes: Record<string, { StringValue?: string }> = {},
): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: {} as SQSRecord['attributes'],
    messageAttributes: Object.fromEntries(
      Object.entries(attributes).map(([k, v]) => [k, { dataType: 'String', stringValue: v.StringValue }]),
    ),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queue}`,
    awsRegion: 'us-east-1',
  };
}

/** The spool queue's record of a bus entry, as the redrive function receives it. */
export function spoolRecord(id: string, entry: BusEntry): SQSRecord {
  const message = toSpoolMessage(entry);
  return sqsRecord(id, 'spool', message.MessageBody, message.MessageAttributes);
}
