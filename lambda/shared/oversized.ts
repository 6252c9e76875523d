import type { EventEnvelope, OversizedPointer } from './contract';
import { isJsonObject } from './json-object';

/** Reads a body the verify function stored because it was too large for an EventBridge entry. */
export interface BodyReader {
  read(pointer: OversizedPointer): Promise<string>;
}

/** The pointer of an oversized delivery (`detail.delivery.oversized`), or undefined for an inline one. */
export function oversizedPointerOf(detail: unknown): OversizedPointer | undefined {
  if (!isJsonObject(detail) || !isJsonObject(detail.delivery)) return undefined;
  const pointer = detail.delivery.oversized;
  if (!isJsonObject(pointer) || typeof pointer.bucket !== 'string' || typeof pointer.key !== 'string') {
    return undefined;
  }
  return {
    bucket: pointer.bucket,
    key: pointer.key,
    bytes: typeof pointer.bytes === 'number' ? pointer.bytes : 0,
  };
}

/**
 * The event as it would have been published inline: for a pointer event, the stored body read
 * back (a Buildkite body plus the pointer's `delivery`; a trigger request's `payload`), so a
 * consumer sees every field whatever the body's size. Inline events are returned unchanged.
 * Rejects when the body cannot be read or is not what was stored (the caller retries).
 */
export async function withFullDetail<E extends EventEnvelope>(event: E, reader: BodyReader): Promise<E> {
  const pointer = oversizedPointerOf(event.detail);
  if (!pointer) return event;
  const text = await reader.read(pointer);
  const body: unknown = JSON.parse(text);
  const detail = event.detail as Record<string, unknown>;
  if ('trigger' in detail && typeof detail.trigger === 'string') {
    return { ...event, detail: { ...detail, payload: body } };
  }
  if (!isJsonObject(body)) throw new Error(`Stored body ${pointer.key} is not a JSON object.`);
  return { ...event, detail: { ...body, delivery: detail.delivery } };
}
