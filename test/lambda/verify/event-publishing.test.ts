import { INLINE_ENTRY_LIMIT_BYTES, type DeliveryMetadata } from '../../../lambda/shared/contract';
import { BASELINE_ROUTING_PATHS, pointerDetail, routingTrie } from '../../../lambda/shared/pointer';
import { detailText, EventDeliverer, oversizedKey } from '../../../lambda/verify/event-publishing';
import type { VerifiedBuildkiteDelivery } from '../../../lambda/verify/ports';
import { recordingEventDeliverer, verifiedTrigger } from '../../support/event-deliverer';

const delivery: DeliveryMetadata = {
  receivedAt: '2026-11-23T12:00:00.000Z',
  requestId: 'req-9',
  dedupeKey: 'k',
  auth: 'token',
  sourceIp: '192.0.2.1',
};

function verified(text: string): VerifiedBuildkiteDelivery {
  const body = JSON.parse(text);
  return {
    kind: 'buildkite',
    detailType: String(body.event),
    body,
    text,
    rawBody: Buffer.from(text),
    delivery,
  };
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
  /** The job fields the baseline routes on. */
  const routedJob = {
    id: 'j',
    state: 'failed',
    exit_status: 1,
    soft_failed: false,
    agent_query_rules: ['queue=deploy'],
  };
  const body = {
    event: 'job.finished',
    job: { ...routedJob, agent: { id: 'a' }, log: 'x'.repeat(10) },
    build: { id: 'b', number: 7, branch: 'main', env: { A: '1' }, meta_data: { team: 'core' } },
    pipeline: { slug: 'p', repository: 'r' },
    sender: { id: 'u' },
    steps: [{ key: 'a', label: 'x' }, { key: 'b' }, 'scalar'],
  };

  it('keeps the baseline routing fields, whole, and nothing else', () => {
    expect(pointerDetail(body, delivery, routingTrie(BASELINE_ROUTING_PATHS))).toEqual({
      event: 'job.finished',
      job: routedJob,
      build: { id: 'b', number: 7, branch: 'main' },
      pipeline: { slug: 'p' },
      delivery,
    });
  });

  it('keeps every path a rule names, objects whole and arrays element by element', () => {
    const trie = routingTrie([['build', 'meta_data'], ['steps', 'key'], ['sender']]);
    expect(pointerDetail(body, delivery, trie)).toEqual({
      build: { meta_data: { team: 'core' } },
      steps: [{ key: 'a' }, { key: 'b' }, 'scalar'],
      sender: { id: 'u' },
      delivery,
    });
  });

  it('keeps a scalar where a rule expected an object, so the pattern fails the same way', () => {
    expect(pointerDetail({ event: 'x', build: 'oops' }, delivery, routingTrie([['build', 'state']]))).toEqual(
      {
        build: 'oops',
        delivery,
      },
    );
  });
});

describe('EventDeliverer: oversized bodies', () => {
  const log = { warn: jest.fn(), error: jest.fn() };
  const big = 'x'.repeat(INLINE_ENTRY_LIMIT_BYTES);

  it('publishes a pointer carrying the routed paths and where the body is', async () => {
    const { deliverer, published } = recordingEventDeliverer({ log, routingPaths: [['extra', 'a']] });
    const text = JSON.stringify({
      event: 'build.finished',
      build: { state: 'failed', log: big },
      extra: { a: 1 },
    });
    await deliverer.deliver(verified(text));
    const detail = JSON.parse(published[0]!.detail);
    expect(detail).toEqual({
      event: 'build.finished',
      build: { state: 'failed' },
      extra: { a: 1 },
      delivery: {
        ...delivery,
        oversized: { bucket: 'bodies', key: oversizedKey(delivery), bytes: text.length },
      },
    });
  });

  it('publishes a Test Engine monitor body under workflow.<type>', async () => {
    const { deliverer, published } = recordingEventDeliverer({ log });
    const body = { type: 'passed_on_retry', timestamp: '2026-01-01T00:00:00Z', blob: big };
    const text = JSON.stringify(body);
    await deliverer.deliver({ ...verified(text), detailType: 'workflow.passed_on_retry' });
    expect(published[0]!.detailType).toBe('workflow.passed_on_retry');
    expect(JSON.parse(published[0]!.detail)).toMatchObject({ type: 'passed_on_retry' });
  });

  it('projects a trigger payload on the paths its filter names', async () => {
    const { deliverer, published } = recordingEventDeliverer({
      log,
      routingPaths: [
        ['payload', 'action'],
        ['payload', 'pull_request', 'merged'],
      ],
    });
    const text = JSON.stringify({ action: 'closed', pull_request: { merged: true, body: big } });
    await deliverer.deliver(
      verifiedTrigger('gh', text, { headers: { 'x-github-event': 'pull_request' }, delivery }),
    );
    expect(JSON.parse(published[0]!.detail)).toEqual({
      trigger: 'gh',
      headers: { 'x-github-event': 'pull_request' },
      payload: { action: 'closed', pull_request: { merged: true } },
      delivery: {
        ...delivery,
        oversized: { bucket: 'bodies', key: oversizedKey(delivery), bytes: text.length },
      },
    });
  });

  it('falls back to the baseline when the routed values themselves are too large, and says so', async () => {
    const { deliverer, published } = recordingEventDeliverer({ log, routingPaths: [['build', 'message']] });
    const text = JSON.stringify({ event: 'build.finished', build: { state: 'failed', message: big } });
    await deliverer.deliver(verified(text));
    expect(JSON.parse(published[0]!.detail).build).toEqual({ state: 'failed' });
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('baseline'), expect.any(Object));
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

describe('EventDeliverer: sizing an inline entry from the known text length', () => {
  const log = { warn: jest.fn(), error: jest.fn() };

  /** A body whose inline entry is exactly `entryBytes` long, with two-byte characters and trailing white space. */
  function bodyOfEntrySize(entryBytes: number): string {
    const tail = `,"delivery":${JSON.stringify(delivery)}}`;
    // entrySize: source + detail-type + detail + 14 for the time.
    const fixed = 'buildkite'.length + 'build.finished'.length + 14 + Buffer.byteLength(tail);
    const head = '{"event":"build.finished","pad":"';
    const padBytes = entryBytes - fixed - head.length - 1; // 1: the closing quote
    const pad = 'é'.repeat(Math.floor(padBytes / 2)) + 'x'.repeat(padBytes % 2);
    return `${head}${pad}"}\n  `;
  }

  it.each([
    [INLINE_ENTRY_LIMIT_BYTES, 'inline', true],
    [INLINE_ENTRY_LIMIT_BYTES + 1, 'a pointer', true],
    [INLINE_ENTRY_LIMIT_BYTES, 'inline', false],
    [INLINE_ENTRY_LIMIT_BYTES + 1, 'a pointer', false],
  ])('an entry of %i bytes goes out %s (text length known: %s)', async (entryBytes, expected, known) => {
    const text = bodyOfEntrySize(entryBytes);
    const { deliverer, published } = recordingEventDeliverer({ log });
    const input = verified(text);
    await deliverer.deliver(known ? { ...input, textBytes: input.rawBody.length } : input);

    const detail = JSON.parse(published[0]!.detail);
    if (expected === 'inline') {
      expect(Buffer.byteLength(detailText(input)) + 'buildkite'.length + 'build.finished'.length + 14).toBe(
        entryBytes,
      );
      expect(detail.pad).toBe(JSON.parse(text).pad);
    } else {
      expect(detail.delivery.oversized).toMatchObject({ bytes: Buffer.byteLength(text) });
    }
  });
});
