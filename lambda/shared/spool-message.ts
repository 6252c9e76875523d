import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { BusEntry } from './contract';

/**
 * How a bus entry is carried through the spool queue: the detail as the message body (so the
 * message is no larger than the entry) and the envelope fields as message attributes.
 */
export function toSpoolMessage(entry: BusEntry): {
  MessageBody: string;
  MessageAttributes: Record<string, MessageAttributeValue>;
} {
  const attributes: Record<string, MessageAttributeValue> = {
    source: { DataType: 'String', StringValue: entry.source },
    detailType: { DataType: 'String', StringValue: entry.detailType },
  };
  if (entry.time) attributes.time = { DataType: 'String', StringValue: entry.time };
  return { MessageBody: entry.detail, MessageAttributes: attributes };
}

/** The entry a spool message carries; throws when the message is not one kitebridge wrote. */
export function fromSpoolMessage(message: {
  body: string;
  messageAttributes: Record<string, { stringValue?: string | undefined }>;
}): BusEntry {
  const source = message.messageAttributes.source?.stringValue;
  const detailType = message.messageAttributes.detailType?.stringValue;
  const time = message.messageAttributes.time?.stringValue;
  if (!source || !detailType) {
    throw new Error('Not a kitebridge spool message: the "source" and "detailType" attributes are required.');
  }
  return { source, detailType, detail: message.body, ...(time ? { time } : {}) };
}
