import { pointerDetail, type DeliveryMetadata } from '../../../lambda/shared/contract';
import {
  detailText,
  EventDeliverer,
  oversizedKey,
  type VerifiedBuildkiteDelivery,
} from '../../../lambda/verify/delivery';

const delivery: DeliveryMetadata = {
  receivedAt: '2026-11-23T12:00:00.000Z',
  requestId: 'req-9',
  dedupeKey: 'k',
  auth: 'token',
  sourceIp: '192.0.2.1',
};

function verified(text: string): VerifiedBuildkiteDelivery {
  return { kind: 'buildkite', body: JSON.parse(text), text, rawBody: Buffer.from(text), delivery };
}

describe('detailText', () => {
  it.each([
    '{"event":"ping"}',
    '{ "event" : "ping" , "x": [1, {"y": "}"}] }\n',
    '{"event":"build.finished","build":{"message":"quote \\" and brace }"}}',
  ])('appends delivery to %j without re-serialising the body', (text) => {
    const out = detailText(verified(text));
    expect(JSON.parse(out)).toEqual({ ...JSON.parse(text), delivery });
    expect(out.startsWith(text.slice(0, text.lastIndexOf('}')))).toBe(true);
  });

  it('replaces a body key named delivery instead of duplicating it', () => {
    const out = detailText(verified('{"event":"ping","delivery":"theirs"}'));
    expect(JSON.parse(out)).toEqual({ event: 'ping', delivery });
    expect(out.match(/"delivery"/g)).toHaveLength(1);
  });
});

describe('pointerDetail', () => {
  it('keeps only scalar routing fields of known objects', () => {
    const body = {
      event: 'job.finished',
      job: { id: 'j', state: 'failed', exit_status: 1, agent: { id: 'a' }, log: 'x'.repeat(10) },
      build: { id: 'b', number: 7, branch: 'main', env: { A: '1' } },
      pipeline: { slug: 'p', repository: 'r' },
      sender: { id: 'u' },
    };
    expect(pointerDetail(body, delivery)).toEqual({
      event: 'job.finished',
      job: { id: 'j', state: 'failed', exit_status: 1 },
      build: { id: 'b', number: 7, branch: 'main' },
      pipeline: { slug: 'p' },
      delivery,
    });
  });
});

describe('oversizedKey', () => {
  it('files bodies by receive date and request id', () => {
    expect(oversizedKey(delivery)).toBe('oversized/2026/11/23/req-9.json');
  });
});

describe('EventDeliverer', () => {
  const log = { warn: jest.fn(), error: jest.fn() };

  it('never spools what it published, and never publishes what it stored but failed to point at', async () => {
    const published: string[] = [];
    const spooled: string[] = [];
    const deliverer = new EventDeliverer({
      publisher: { publish: async (e) => (published.push(e.detail), 'id') },
      spool: { put: async (e) => void spooled.push(e.detail) },
      bodies: { put: async () => ({ bucket: 'b', key: 'k' }) },
      log,
    });
    expect(await deliverer.deliver(verified('{"event":"ping"}'))).toBe('published');
    expect(published).toHaveLength(1);
    expect(spooled).toHaveLength(0);
  });

  it('spools the same entry it tried to publish', async () => {
    const tried: string[] = [];
    const spooled: string[] = [];
    const deliverer = new EventDeliverer({
      publisher: {
        publish: async (e) => {
          tried.push(e.detail);
          throw new Error('down');
        },
      },
      spool: { put: async (e) => void spooled.push(e.detail) },
      bodies: { put: async () => ({ bucket: 'b', key: 'k' }) },
      log,
    });
    expect(await deliverer.deliver(verified('{"event":"ping"}'))).toBe('spooled');
    expect(spooled).toEqual(tried);
    expect(log.warn).toHaveBeenCalledWith(
      'PutEvents failed; spooling the event',
      expect.objectContaining({ reason: 'Error: down' }),
    );
  });
});
