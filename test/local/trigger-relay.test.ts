import { TRIGGER_SOURCE, triggerDetailType } from '../../lambda/shared/contract';
import {
  createLocalTriggerRelay,
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
  } = {},
) {
  const lines: string[] = [];
  relay = createLocalTriggerRelay({
    triggers: TRIGGERS,
    ratePerHour: options.ratePerHour ?? 3600,
    burst: options.burst ?? 10,
    env: options.env ?? {},
    log: (line) => lines.push(line),
    postTimeoutMs: 1000,
    ...(options.urls ? { urls: options.urls } : {}),
  });
  const bus = new LocalBus({ rules: relay.rules, attempts: 1 });
  return { relay, bus, lines };
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

  it('logs what it would send when a trigger has no URL', async () => {
    const { relay: r, bus, lines } = setUp();
    await publish(bus, 'pagerduty', { id: 'P2LA89X' }, 'sha-2');
    await bus.drain();
    await r.idle();
    expect(buildkite.requests).toHaveLength(0);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /no URL for trigger pagerduty \(set KITEBRIDGE_TRIGGER_URL_PAGERDUTY\); would POST 16 bytes: \{"id":"P2LA89X"\}/,
      ),
    );
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
