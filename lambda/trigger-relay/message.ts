import { TRIGGER_SOURCE, triggerDetailType, type OversizedPointer } from '../shared/contract';

/** The parts of a `kitebridge.trigger` event the relay acts on. */
export interface TriggerRequest {
  /** EventBridge event id (logged, for tracing). */
  readonly eventId: string;
  readonly trigger: string;
  /** `delivery.dedupeKey`: the sender's delivery id, else the SHA-256 of the body. */
  readonly dedupeKey: string;
  /** The body to POST: the payload as JSON text, or where the raw body is stored. */
  readonly body: { readonly inline: string } | { readonly oversized: OversizedPointer };
}

export class MalformedEventError extends Error {
  constructor(what: string) {
    super(`Not a kitebridge trigger event: ${what}.`);
    this.name = 'MalformedEventError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Reads the EventBridge event an SQS rule target delivered. Anything that is not a trigger
 * event per the contract throws MalformedEventError (no retry can fix it).
 */
export function parseTriggerEvent(text: string): TriggerRequest {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw new MalformedEventError('the message is not JSON');
  }
  if (!isObject(event)) throw new MalformedEventError('the message is not a JSON object');
  if (event.source !== TRIGGER_SOURCE) throw new MalformedEventError(`source is not ${TRIGGER_SOURCE}`);
  const detail = event.detail;
  if (!isObject(detail)) throw new MalformedEventError('detail is missing');
  const trigger = detail.trigger;
  if (typeof trigger !== 'string' || trigger === '')
    throw new MalformedEventError('detail.trigger is missing');
  if (event['detail-type'] !== triggerDetailType(trigger)) {
    throw new MalformedEventError(`detail-type does not match trigger "${trigger}"`);
  }
  const delivery = detail.delivery;
  if (!isObject(delivery) || typeof delivery.dedupeKey !== 'string' || delivery.dedupeKey === '') {
    throw new MalformedEventError('detail.delivery.dedupeKey is missing');
  }
  const eventId = typeof event.id === 'string' ? event.id : '';
  const base = { eventId, trigger, dedupeKey: delivery.dedupeKey };

  const oversized = delivery.oversized;
  if (oversized !== undefined) {
    if (!isObject(oversized) || typeof oversized.bucket !== 'string' || typeof oversized.key !== 'string') {
      throw new MalformedEventError('detail.delivery.oversized is not a bucket and key');
    }
    const bytes = typeof oversized.bytes === 'number' ? oversized.bytes : 0;
    return { ...base, body: { oversized: { bucket: oversized.bucket, key: oversized.key, bytes } } };
  }
  if (!('payload' in detail)) throw new MalformedEventError('detail.payload is missing');
  return { ...base, body: { inline: JSON.stringify(detail.payload) } };
}
