import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TRIGGER_SOURCE, triggerDetailType } from '../../lambda/shared/contract';
import {
  createLocalTriggerRelay,
  relayQueueFolder,
  triggerUrlEnvName,
  type LocalTriggerRelay,
} from '../../local/consumers/trigger-relay';
import { LocalBus } from '../../local/local-bus';
import { startFakeBuildkite, TRIGGER_TOKEN, type FakeBuildkite } from '../lambda/trigger-relay/support';

const TRIGGERS = [
  { name: 'github-deploy', filter: { action: ['closed'], pull_request: { merged: [true] } } },
  { name: 'pagerduty' },
];

let buildkite: FakeBuildkite;
let relay: LocalTriggerRelay | undefined;
beforeAll(async () => {
  buildkite = await startFakeBuildkite();
});
afterAll(() => buildkite.close());
beforeEach(() => {
  buildkite.requests.length = 0;
  buildkite.answer = (_r, i) => ({ status: 201, body: { id: `bk-${i}` } });
});
afterEach(() => relay?.close());

function publish(bus: LocalBus, trigger: string, payload: unknown, dedupeKey: string) {
  return bus.publish({
    source: TRIGGER_SOURCE,
    detailType: triggerDetailType(trigger),
    detail: JSON.stringify({
      trigger,
      payload,
      headers: {},
      delivery: {
        receivedAt: '2026-11-23T12:00:00.000Z',
        requestId: 'r',
        dedupeKey,
        auth: 'github',
        sourceIp: '127.0.0.1',
      },
    }),
  });
}

function setUp(
  options: {
    urls?: Record<string, string>;
    env?: NodeJS.ProcessEnv;
    ratePerHour?: number;
    burst?: number;
    dataDir?: string;
    clock?: () => number;
  } = {},
) {
  const lines: string[] = [];
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  relay = createLocalTriggerRelay({
    triggers: TRIGGERS,
    ratePerHour: options.ratePerHour ?? 3600,
    burst: options.burst ?? 10,
    env: options.env ?? {},
    log: (line) => {
      lines.push(line);
      for (const watcher of watchers.filter((w) => w.pattern.test(line))) watcher.resolve();
    },
    postTimeoutMs: 1000,
    ...(options.urls ? { urls: options.urls } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const bus = new LocalBus({ rules: relay.rules, attempts: 1 });
  /** Resolves once a log line matches (already logged, or when it is). */
  const logged = (pattern: RegExp) =>
    lines.some((line) => pattern.test(line))
      ? Promise.resolve()
      : new Promise<void>((resolve) => watchers.push({ pattern, resolve }));
  return { relay, bus, lines, logged };
}

describe('local trigger relay', () => {
  it('uses the deployed patterns: one rule per trigger, with its payload filter', () => {
    const { relay: r } = setUp();
    expect(r.rules.map((rule) => [rule.id, rule.pattern])).toEqual([
      [
        'TriggerRelay-github-deploy',
        {
          source: ['kitebridge.trigger'],
          'detail-type': ['trigger.github-deploy'],
          detail: { payload: { action: ['closed'], pull_request: { merged: [true] } } },
        },
      ],
      ['TriggerRelay-pagerduty', { source: ['kitebridge.trigger'], 'detail-type': ['trigger.pagerduty'] }],
    ]);
  });

  it('posts matching requests to the configured URL, once per delivery, skipping filtered ones', async () => {
    const { relay: r, bus, lines } = setUp({ urls: { 'github-deploy': buildkite.triggerUrl } });
    const merged = { action: 'closed', pull_request: { number: 1, merged: true } };
    await publish(bus, 'github-deploy', merged, 'github:1');
    await bus.drain();
    await r.idle();
    await publish(bus, 'github-deploy', merged, 'github:1'); // GitHub re-sent it
    await publish(
      bus,
      'github-deploy',
      { action: 'closed', pull_request: { number: 2, merged: false } },
      'github:2',
    );
    await bus.drain();
    await r.idle();
    expect(buildkite.requests.map((q) => JSON.parse(q.body))).toEqual([merged]);
    expect(lines.join('\n')).not.toContain(TRIGGER_TOKEN);
    expect(lines.some((l) => l.includes('Already relayed'))).toBe(true);
  });

  it('reads a trigger URL from KITEBRIDGE_TRIGGER_URL_<NAME>', async () => {
    expect(triggerUrlEnvName('github-deploy')).toBe('KITEBRIDGE_TRIGGER_URL_GITHUB_DEPLOY');
    const { relay: r, bus } = setUp({ env: { KITEBRIDGE_TRIGGER_URL_PAGERDUTY: buildkite.triggerUrl } });
    await publish(bus, 'pagerduty', { id: 'P2LA89X', type: 'incident_status_update' }, 'sha-1');
    await bus.drain();
    await r.idle();
    expect(buildkite.requests).toHaveLength(1);
  });

  it('runs dry when a trigger has no URL: says what it would send, never "Relayed to Buildkite"', async () => {
    const { relay: r, bus, lines } = setUp();
    await publish(bus, 'pagerduty', { id: 'P2LA89X' }, 'sha-2');
    await bus.drain();
    await r.idle();
    await publish(bus, 'pagerduty', { id: 'P2LA89X' }, 'sha-2'); // re-sent
    await bus.drain();
    await r.idle();
    expect(buildkite.requests).toHaveLength(0);
    expect(lines).toEqual([
      expect.stringMatching(
        /^\[trigger-relay\] dry run: trigger pagerduty has no URL \(set KITEBRIDGE_TRIGGER_URL_PAGERDUTY to relay for real\); would POST 16 bytes: \{"id":"P2LA89X"\}$/,
      ),
      expect.stringMatching(/^\[trigger-relay\] dry run: nothing sent to Buildkite \{"trigger":"pagerduty"/),
      expect.stringMatching(
        /^\[trigger-relay\] dry run: already handled, nothing to send \{"trigger":"pagerduty"/,
      ),
    ]);
    expect(lines.join('\n')).not.toMatch(/Relayed to Buildkite|Already relayed|dry-run-/);
  });

  it('dead-letters a request Buildkite refuses, with the reason', async () => {
    buildkite.answer = () => ({ status: 404, body: { message: 'Not Found' } });
    const { relay: r, bus } = setUp({ urls: { pagerduty: buildkite.triggerUrl } });
    await publish(bus, 'pagerduty', { id: 'x' }, 'sha-3');
    await bus.drain();
    await r.idle();
    expect(r.deadLetters).toEqual([
      {
        body: expect.stringContaining('"trigger.pagerduty"'),
        reason: expect.stringMatching(/^Buildkite answered 404/),
      },
    ]);
  });

  it('holds requests over the rate in the queue and sends them later, none dropped', async () => {
    const { relay: r, bus } = setUp({
      urls: { pagerduty: buildkite.triggerUrl },
      ratePerHour: 7200,
      burst: 1,
    });
    const times: number[] = [];
    buildkite.answer = (_q, i) => {
      times.push(Date.now());
      return { status: 201, body: { id: `bk-${i}` } };
    };
    for (const i of [1, 2, 3]) await publish(bus, 'pagerduty', { i }, `sha-rate-${i}`);
    await bus.drain();
    await r.idle();
    expect(buildkite.requests).toHaveLength(3);
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(2 * 500);
  });
});

describe('local trigger relay across a stop', () => {
  let dataDir: string;
  let now: number;
  const clock = () => now;
  const queueFile = () => path.join(relayQueueFolder(dataDir), 'queue.json');
  const savedMessages = () =>
    (JSON.parse(readFileSync(queueFile(), 'utf8')) as { messages: { message: { body: string } }[] }).messages;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-relay-queue-'));
    now = Date.parse('2026-11-23T12:00:00.000Z');
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  /** A start of the relay on the data folder, paced at one request an hour. */
  const startOneAnHour = () =>
    setUp({ urls: { pagerduty: buildkite.triggerUrl }, ratePerHour: 1, burst: 1, dataDir, clock });

  it('keeps a request waiting for pacing on disk at close, and relays it after the next start', async () => {
    const first = startOneAnHour();
    await publish(first.bus, 'pagerduty', { n: 1 }, 'sha-keep-1');
    await publish(first.bus, 'pagerduty', { n: 2 }, 'sha-keep-2');
    await first.bus.drain();
    await first.logged(/Over the trigger rate; waiting in the queue/);

    expect(await first.relay.close()).toBe(1);
    expect(buildkite.requests.map((q) => JSON.parse(q.body))).toEqual([{ n: 1 }]);
    expect(savedMessages()).toEqual([
      {
        message: expect.objectContaining({ body: expect.stringContaining('sha-keep-2') }),
        receive: 1,
        dueAt: expect.any(Number),
      },
    ]);

    now += 3600 * 1000; // the next start, an hour later: the reserved slot has come
    const second = startOneAnHour();
    expect(second.relay.resume()).toBe(1);
    await second.relay.idle();
    expect(buildkite.requests.map((q) => JSON.parse(q.body))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(second.lines).toContainEqual(
      expect.stringMatching(/resumed 1 request\(s\) accepted before the last stop/),
    );
    expect(existsSync(queueFile())).toBe(false);
  });

  it('lets a POST in flight finish at close, and keeps the retry it asks for', async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let held: ServerResponse | undefined;
    const slow = createServer((request, response) => {
      request.resume();
      held = response;
      arrived();
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/deliver/t`;
      const { relay: r, bus } = setUp({ urls: { pagerduty: url }, dataDir, clock });
      await publish(bus, 'pagerduty', { n: 1 }, 'sha-inflight');
      await bus.drain();
      await arrival;

      const closing = r.close();
      held!.writeHead(503).end('busy');
      expect(await closing).toBe(1);
      expect(savedMessages()).toEqual([
        expect.objectContaining({
          message: expect.objectContaining({ attempt: 1, body: expect.stringContaining('sha-inflight') }),
        }),
      ]);
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('keeps a request that reaches the queue after close, instead of starting it', async () => {
    const { relay: r, bus } = setUp({ urls: { pagerduty: buildkite.triggerUrl }, dataDir, clock });
    expect(await r.close()).toBe(0);
    expect(existsSync(queueFile())).toBe(false);
    await publish(bus, 'pagerduty', { n: 1 }, 'sha-late');
    await bus.drain();
    expect(r.size()).toBe(1);
    expect(savedMessages()).toHaveLength(1);
    expect(buildkite.requests).toHaveLength(0);
  });

  it('appends dead letters to a file in the data folder', async () => {
    buildkite.answer = () => ({ status: 404, body: { message: 'Not Found' } });
    const { relay: r, bus } = setUp({ urls: { pagerduty: buildkite.triggerUrl }, dataDir, clock });
    await publish(bus, 'pagerduty', { n: 1 }, 'sha-dead');
    await bus.drain();
    await r.idle();
    const lines = readFileSync(path.join(relayQueueFolder(dataDir), 'dead-letters.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      {
        at: '2026-11-23T12:00:00.000Z',
        reason: expect.stringMatching(/^Buildkite answered 404/),
        body: expect.stringContaining('sha-dead'),
      },
    ]);
  });

  it('moves an unreadable queue file aside and starts empty', () => {
    mkdirSync(relayQueueFolder(dataDir), { recursive: true });
    writeFileSync(queueFile(), '{not json');
    const { relay: r, lines } = setUp({ dataDir, clock });
    expect(r.resume()).toBe(0);
    expect(readdirSync(relayQueueFolder(dataDir))).toEqual([`queue.json.unreadable-${now}`]);
    expect(lines).toEqual([expect.stringMatching(/could not read .*queue\.json .*moved it to .*unreadable/)]);
  });
});
