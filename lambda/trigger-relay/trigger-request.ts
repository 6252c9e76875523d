import { TRIGGER_SOURCE, triggerDetailType, type OversizedPointer } from '../shared/contract';
import { isJsonObject } from '../shared/json-object';

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

/** Why a message is not a usable trigger event: the `Reason` of the relay's `Skipped` metric. */
export type MalformedReason =
  | 'not-json'
  | 'not-an-object'
  | 'other-source'
  | 'missing-detail'
  | 'missing-trigger'
  | 'detail-type-mismatch'
  | 'missing-dedupe-key'
  | 'malformed-oversized-pointer'
  | 'missing-payload';

/**
 * A message that is not a usable `kitebridge.trigger` event. No retry or redrive can fix it, and
 * the verify function always writes these fields, so the relay skips it (see `TriggerRelayApp.process`).
 */
export class MalformedEventError extends Error {
  constructor(
    readonly reason: MalformedReason,
    what: string,
    /** The event's id and detail-type, as far as they could be read (for the log line). */
    readonly eventId = '',
    readonly detailType = '',
  ) {
    super(`Not a kitebridge trigger event: ${what}.`);
    this.name = 'MalformedEventError';
  }
}

/**
 * Reads the EventBridge event an SQS rule target delivered. Anything that is not a trigger
 * event per the contract throws MalformedEventError, with its reason (no retry can fix it).
 */
export function parseTriggerEvent(text: string): TriggerRequest {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw new MalformedEventError('not-json', 'the message is not JSON');
  }
  if (!isJsonObject(event))
    throw new MalformedEventError('not-an-object', 'the message is not a JSON object');
  const eventId = typeof event.id === 'string' ? event.id : '';
  const detailType = typeof event['detail-type'] === 'string' ? event['detail-type'] : '';
  const malformed = (reason: MalformedReason, what: string) =>
    new MalformedEventError(reason, what, eventId, detailType);
  if (event.source !== TRIGGER_SOURCE) throw malformed('other-source', `source is not ${TRIGGER_SOURCE}`);
  const detail = event.detail;
  if (!isJsonObject(detail)) throw malformed('missing-detail', 'detail is missing');
  const trigger = detail.trigger;
  if (typeof trigger !== 'string' || trigger === '')
    throw malformed('missing-trigger', 'detail.trigger is missing');
  if (detailType !== triggerDetailType(trigger)) {
    throw malformed('detail-type-mismatch', `detail-type does not match trigger "${trigger}"`);
  }
  const delivery = detail.delivery;
  if (!isJsonObject(delivery) || typeof delivery.dedupeKey !== 'string' || delivery.dedupeKey === '') {
    throw malformed('missing-dedupe-key', 'detail.delivery.dedupeKey is missing');
  }
  const base = { eventId, trigger, dedupeKey: delivery.dedupeKey };

  const oversized = delivery.oversized;
  if (oversized !== undefined) {
    if (
      !isJsonObject(oversized) ||
      typeof oversized.bucket !== 'string' ||
      typeof oversized.key !== 'string'
    ) {
      throw malformed('malformed-oversized-pointer', 'detail.delivery.oversized is not a bucket and key');
    }
    const bytes = typeof oversized.bytes === 'number' ? oversized.bytes : 0;
    return { ...base, body: { oversized: { bucket: oversized.bucket, key: oversized.key, bytes } } };
  }
  if (!('payload' in detail)) throw malformed('missing-payload', 'detail.payload is missing');
  return { ...base, body: { inline: JSON.stringify(detail.payload) } };
}
