import type { BusEntry } from '../../lambda/shared/contract';
import { EventDeliverer, type EventDelivererDeps } from '../../lambda/verify/event-publishing';
import type { VerifiedTriggerRequest } from '../../lambda/verify/ports';
import { NOW } from '../../support/api-event';

/**
 * A real EventDeliverer on in-memory parts: `published` collects what it puts on the bus, its
 * spool takes everything, and its body store files each body in the bucket `bodies`.
 */
export function recordingEventDeliverer(
  options: Partial<Pick<EventDelivererDeps, 'log' | 'routingPaths'>> = {},
): { deliverer: EventDeliverer; published: BusEntry[] } {
  const published: BusEntry[] = [];
  const deliverer = new EventDeliverer({
    publisher: { publish: async (entry) => (published.push(entry), 'id') },
    spool: { put: async () => undefined },
    bodies: { put: async (key) => ({ bucket: 'bodies', key }) },
    log: options.log ?? { warn: () => undefined, error: () => undefined },
    ...(options.routingPaths ? { routingPaths: options.routingPaths } : {}),
  });
  return { deliverer, published };
}

/** A verified request to the trigger `trigger` with the JSON `text`, as the verifier hands it on. */
export function verifiedTrigger(
  trigger: string,
  text: string,
  rest: Partial<Pick<VerifiedTriggerRequest, 'headers' | 'delivery' | 'detailType'>> = {},
): VerifiedTriggerRequest {
  return {
    kind: 'trigger',
    trigger,
    body: JSON.parse(text),
    text,
    rawBody: Buffer.from(text),
    headers: {},
    delivery: {
      receivedAt: NOW.toISOString(),
      requestId: 'q',
      dedupeKey: 'k',
      auth: 'github',
      sourceIp: '1.1.1.1',
    },
    ...rest,
  };
}
