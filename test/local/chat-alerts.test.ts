import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chatAlertsPattern } from '../../lambda/chat-alerts/rules';
import { chatAlertsConfigSchema } from '../../lib/config/chat-alerts';
import { chatAlertsLocalRules, LOCAL_DEFAULT_CHAT_ALERTS } from '../../local/consumers/chat-alerts';
import { localBodyFolder } from '../../local/adapters/files';
import { LocalBus, type DeadLetter } from '../../local/local-bus';
import { buildFinished, detailTypeOf, fixture, jobFinished, sharedBody } from '../lambda/chat-alerts/events';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-chat-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function publish(bus: LocalBus, body: Record<string, unknown>) {
  return bus.publish({
    source: 'buildkite',
    detailType: detailTypeOf(body),
    detail: JSON.stringify({ ...body, delivery: { dedupeKey: `k-${Math.random()}` } }),
  });
}

describe('chat alerts on the local bus', () => {
  it('uses the same rule pattern as the deployed consumer', () => {
    const [rule] = chatAlertsLocalRules({ dataDir, print: () => undefined });
    const kinds = LOCAL_DEFAULT_CHAT_ALERTS.destinations.flatMap((d) => d.events);
    expect(rule!.pattern).toEqual(chatAlertsPattern(kinds));
  });

  it('prints readable alerts: failed with its jobs, still failing, fixed, agent lost', async () => {
    const printed: string[] = [];
    const dead: DeadLetter[] = [];
    const bus = new LocalBus({
      rules: chatAlertsLocalRules({ dataDir, print: (t) => printed.push(t), jobsGraceMs: 0 }),
      onDeadLetter: (d) => dead.push(d),
    });
    await publish(bus, jobFinished(1, 'j1'));
    await bus.drain();
    await publish(bus, buildFinished(1, 'failed'));
    await bus.drain();
    await publish(bus, buildFinished(2, 'failed'));
    await bus.drain();
    await publish(bus, buildFinished(3, 'passed'));
    await publish(bus, fixture('agent.lost'));
    await publish(bus, fixture('ping'));
    await bus.drain();
    expect(dead).toEqual([]);
    expect(printed).toHaveLength(4);
    expect(printed[0]).toContain('[chat-alerts → local (slack)]');
    expect(printed[0]).toContain('❌ Deploy API #1 on main failed');
    expect(printed[0]).toContain(':jest: job j1 (exit 1)');
    expect(printed[0]).toMatch(/Commit +be22b8c Retry S3 artifact uploads with exponential backoff/);
    expect(printed[1]).toContain('still failing (2 failed builds in a row)');
    expect(printed.join('\n')).toContain('✅ Deploy API #3 on main is fixed after 2 failed builds');
    expect(printed.join('\n')).toContain('Agent acme-linux-arm64-i-07d1e5b3a9c2f4e68-1 was lost');
    expect(JSON.parse(readFileSync(path.join(dataDir, 'chat-alerts-state.json'), 'utf8'))).toHaveProperty(
      'streaks',
    );
  });

  it('keeps streaks in the data dir across restarts', async () => {
    const printed: string[] = [];
    const first = new LocalBus({
      rules: chatAlertsLocalRules({ dataDir, print: () => undefined, jobsGraceMs: 0 }),
    });
    await publish(first, buildFinished(1, 'failed'));
    await first.drain();
    const second = new LocalBus({
      rules: chatAlertsLocalRules({ dataDir, print: (t) => printed.push(t), jobsGraceMs: 0 }),
    });
    await publish(second, buildFinished(2, 'passed'));
    await second.drain();
    expect(printed.join('\n')).toContain('✅ Deploy API #2 on main is fixed after 1 failed build');
  });

  it('posts the rendered payload of each destination to a configured URL', async () => {
    const bodies: unknown[] = [];
    const server: Server = createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(data));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const config = chatAlertsConfigSchema.parse({
        destinations: [
          { name: 's', service: 'slack', events: ['agent.lost'] },
          { name: 't', service: 'teams', events: ['agent.lost'] },
        ],
      });
      const bus = new LocalBus({
        rules: chatAlertsLocalRules({
          config,
          dataDir,
          postUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        }),
      });
      await publish(bus, fixture('agent.lost'));
      await publish(bus, buildFinished(1, 'failed')); // not routed: no destination wants builds
      await bus.drain();
      expect(bodies).toEqual([
        expect.objectContaining({ blocks: expect.any(Array) }),
        expect.objectContaining({ type: 'message' }),
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('alerts on Test Engine monitors without event (published as workflow.<type>)', async () => {
    const printed: string[] = [];
    const bus = new LocalBus({ rules: chatAlertsLocalRules({ dataDir, print: (t) => printed.push(t) }) });
    await publish(
      bus,
      sharedBody('buildkite/payloads/test-engine-workflow_event.probabilistic_flakiness.json'),
    );
    await bus.drain();
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain('🧪 Test Engine monitor: probabilistic flakiness');
    expect(printed[0]).toMatch(/Score +0\.2 \(alarm at 0\.1, recover at 0\.08\)/);
  });

  it('prints a skipped delivery instead of dead-lettering it', async () => {
    const printed: string[] = [];
    const dead: DeadLetter[] = [];
    const bus = new LocalBus({
      rules: chatAlertsLocalRules({ dataDir, print: (t) => printed.push(t) }),
      onDeadLetter: (d) => dead.push(d),
    });
    await publish(bus, sharedBody('realworld/buildkite/buildkite-docs.build.finished.blocked.json'));
    await bus.drain();
    expect(dead).toEqual([]);
    expect(printed).toEqual([
      expect.stringMatching(/^\[chat-alerts\] Delivery skipped.*"reason":"build-unidentified"/),
    ]);
  });

  describe('oversized deliveries', () => {
    const key = 'oversized/2026/06/03/req-big.json';
    const agent = fixture('agent.lost').agent as Record<string, unknown>;

    /** The pointer event the local gateway publishes for a body it stored under the data dir. */
    function publishPointer(bus: LocalBus) {
      return bus.publish({
        source: 'buildkite',
        detailType: 'agent.lost',
        detail: JSON.stringify({
          event: 'agent.lost',
          agent: { id: agent.id, name: agent.name, connection_state: 'lost' },
          delivery: {
            dedupeKey: 'big',
            oversized: { bucket: localBodyFolder(dataDir), key, bytes: 300_000 },
          },
        }),
      });
    }

    it('reads the stored body from the data dir before alerting', async () => {
      mkdirSync(path.dirname(path.join(localBodyFolder(dataDir), key)), { recursive: true });
      writeFileSync(path.join(localBodyFolder(dataDir), key), JSON.stringify(fixture('agent.lost')));
      const printed: string[] = [];
      const bus = new LocalBus({ rules: chatAlertsLocalRules({ dataDir, print: (t) => printed.push(t) }) });
      await publishPointer(bus);
      await bus.drain();
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain(`was lost`);
      // Only the stored body has the hostname: the pointer keeps the agent's id and name.
      expect(printed[0]).toMatch(new RegExp(`Host +${String(agent.hostname).replace(/\./g, '\\.')}`));
    });

    it('skips the delivery when the stored body is gone, printing why', async () => {
      const printed: string[] = [];
      const dead: DeadLetter[] = [];
      const bus = new LocalBus({
        rules: chatAlertsLocalRules({ dataDir, print: (t) => printed.push(t) }),
        onDeadLetter: (d) => dead.push(d),
      });
      await publishPointer(bus);
      await bus.drain();
      expect(dead).toEqual([]);
      expect(printed).toEqual([
        expect.stringMatching(/^\[chat-alerts\] Delivery skipped.*"reason":"oversized-body-missing"/),
      ]);
    });
  });
});
