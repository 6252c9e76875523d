import {
  BUILDKITE_SOURCE,
  TRIGGER_SOURCE,
  triggerDetailType,
  type BuildkiteDetail,
  type TriggerDetail,
  INLINE_ENTRY_LIMIT_BYTES,
  entrySize,
  type BusEntry,
  type DeliveryMetadata,
  type OversizedPointer,
} from '../shared/contract';
import type {
  BodyStore,
  Deliverer,
  DeliveryLog,
  Publisher,
  Spool,
  VerifiedBuildkiteDelivery,
  VerifiedDelivery,
  VerifiedTriggerRequest,
} from './ports';
import {
  BASELINE_ROUTING_PATHS,
  pointerDetail,
  project,
  routingTrie,
  type PathTrie,
} from '../shared/pointer';

export class PersistError extends Error {
  constructor(cause: unknown) {
    super('The event could neither be published nor spooled.', { cause });
    this.name = 'PersistError';
  }
}

/**
 * Builds the detail text without re-serialising the body: the delivered JSON text with the
 * `delivery` key appended before its closing brace. Re-serialising a 500 KB body would cost
 * as much as parsing it; falls back to it only when the body already has a `delivery` key.
 */
export function detailText(verified: VerifiedBuildkiteDelivery): string {
  return sizedDetailText(verified).detail;
}

/**
 * `detailText` and its UTF-8 byte length. With `textBytes` known, the length is counted from the
 * parts instead of by a second pass over the body: after the closing brace a JSON text can only
 * hold ASCII white space, one byte a character.
 */
function sizedDetailText(verified: VerifiedBuildkiteDelivery): { detail: string; bytes: number } {
  const { body, text, delivery, textBytes, deliveryText } = verified;
  if (Object.prototype.hasOwnProperty.call(body, 'delivery')) {
    const detail = JSON.stringify({ ...body, delivery });
    return { detail, bytes: Buffer.byteLength(detail) };
  }
  const close = text.lastIndexOf('}');
  const tail = `,"delivery":${deliveryText ?? JSON.stringify(delivery)}}`;
  const detail = `${text.slice(0, close)}${tail}`;
  const bytes =
    textBytes === undefined
      ? Buffer.byteLength(detail)
      : textBytes - (text.length - close) + Buffer.byteLength(tail);
  return { detail, bytes };
}

/** A trigger event's detail, with the payload spliced in as delivered (it is known to be JSON). */
export function triggerDetailText(verified: VerifiedTriggerRequest): string {
  const head = JSON.stringify({
    trigger: verified.trigger,
    headers: verified.headers,
    delivery: verified.delivery,
  });
  return `${head.slice(0, -1)},"payload":${verified.text}}`;
}

/** Object key of an oversized body: by receive date, then request id. */
export function oversizedKey(delivery: DeliveryMetadata): string {
  const day = delivery.receivedAt.slice(0, 10).replaceAll('-', '/');
  return `oversized/${day}/${delivery.requestId}.json`;
}

export interface EventDelivererDeps {
  readonly publisher: Publisher;
  readonly spool: Spool;
  readonly bodies: BodyStore;
  readonly log: DeliveryLog;
  /**
   * Every path into `detail` that a rule on the bus names (see `../shared/pointer.ts`): a pointer
   * event keeps their values so it matches the rules the full event would. The baseline is
   * always added.
   */
  readonly routingPaths?: Iterable<readonly string[]>;
}

/** Publish, else spool; bodies too large for an entry go to the body store behind a pointer event. */
export class EventDeliverer implements Deliverer {
  private readonly routing: PathTrie;
  private readonly baseline = routingTrie(BASELINE_ROUTING_PATHS);

  constructor(private readonly deps: EventDelivererDeps) {
    this.routing = routingTrie([...BASELINE_ROUTING_PATHS, ...(deps.routingPaths ?? [])]);
  }

  async deliver(verified: VerifiedDelivery): Promise<'published' | 'spooled'> {
    // Most deliveries fit inline: that path stays synchronous (no extra promise per request).
    const entry = this.inlineEntry(verified) ?? (await this.pointerEntry(verified));
    try {
      await this.deps.publisher.publish(entry);
      return 'published';
    } catch (publishError) {
      this.deps.log.warn('PutEvents failed; spooling the event', failure(verified, publishError));
    }
    try {
      await this.deps.spool.put(entry);
      return 'spooled';
    } catch (spoolError) {
      this.deps.log.error('Spooling failed; the delivery is refused', failure(verified, spoolError));
      throw new PersistError(spoolError);
    }
  }

  /** The entry with the whole body as its detail, or undefined when that is over the limit. */
  private inlineEntry(verified: VerifiedDelivery): BusEntry | undefined {
    // The detail holds the whole body, so a body over the limit cannot fit: skip building it.
    if (verified.rawBody.length > INLINE_ENTRY_LIMIT_BYTES) return undefined;
    const { source, detailType, time } = entryBase(verified);
    const { detail, bytes } =
      verified.kind === 'buildkite'
        ? sizedDetailText(verified)
        : { detail: triggerDetailText(verified), bytes: undefined };
    const inline: BusEntry = { source, detailType, time, detail };
    // entrySize of the entry without its detail, plus the detail's bytes when already counted.
    const size =
      bytes === undefined ? entrySize(inline) : entrySize({ source, detailType, time, detail: '' }) + bytes;
    return size <= INLINE_ENTRY_LIMIT_BYTES ? inline : undefined;
  }

  /** Stores the body and returns a pointer event for it. */
  private async pointerEntry(verified: VerifiedDelivery): Promise<BusEntry> {
    const base = entryBase(verified);
    let stored: Omit<OversizedPointer, 'bytes'>;
    try {
      stored = await this.deps.bodies.put(oversizedKey(verified.delivery), verified.rawBody);
    } catch (storeError) {
      this.deps.log.error(
        'Storing an oversized body failed; the delivery is refused',
        failure(verified, storeError),
      );
      throw new PersistError(storeError);
    }
    const delivery = { ...verified.delivery, oversized: { ...stored, bytes: verified.rawBody.length } };
    const pointer = (trie: PathTrie): BusEntry => ({
      ...base,
      detail: JSON.stringify(pointerFor(verified, delivery, trie)),
    });
    const routed = pointer(this.routing);
    if (entrySize(routed) <= INLINE_ENTRY_LIMIT_BYTES) return routed;
    // The values rules name are themselves too large to carry: keep the baseline and say so.
    this.deps.log.warn(
      'The routing fields of an oversized body do not fit in an event; published the baseline fields only',
      {
        requestId: verified.delivery.requestId,
        bytes: entrySize(routed),
      },
    );
    return pointer(this.baseline);
  }
}

/** Source, detail-type and time of a delivery's entry. */
function entryBase(verified: VerifiedDelivery): Omit<BusEntry, 'detail'> {
  return verified.kind === 'buildkite'
    ? { source: BUILDKITE_SOURCE, detailType: verified.detailType, time: verified.delivery.receivedAt }
    : {
        source: TRIGGER_SOURCE,
        detailType: verified.detailType ?? triggerDetailType(verified.trigger),
        time: verified.delivery.receivedAt,
      };
}

/** A pointer event's detail: what rules can match on, and `delivery.oversized` for the rest. */
function pointerFor(
  verified: VerifiedDelivery,
  delivery: DeliveryMetadata,
  trie: PathTrie,
): BuildkiteDetail | TriggerDetail {
  if (verified.kind === 'buildkite') return pointerDetail(verified.body, delivery, trie);
  const payload = trie.children.get('payload');
  return {
    trigger: verified.trigger,
    headers: verified.headers,
    delivery,
    ...(payload ? { payload: project(verified.body, payload) } : {}),
  };
}

/** An error's name and message, never its request or response (which may hold payloads). */
export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The attributes of a failed step's log line: which request, and why (`describe`). */
function failure(verified: VerifiedDelivery, error: unknown): { requestId: string; reason: string } {
  return { requestId: verified.delivery.requestId, reason: describe(error) };
}
