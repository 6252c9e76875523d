import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SimulatedClock } from '../../support/simulated-clock';
import { BUILDKITE_SOURCE } from '../../lambda/shared/contract';
import { parseAutoscalerConfig } from '../../lib/config/autoscaler';
import { localAutoscaler } from '../../local/consumers/autoscaler';
import { localBodyFolder } from '../../local/adapters/files';
import { LocalBus } from '../../local/local-bus';
import { drainAdvancing } from '../../support/fakes';

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Record<string, unknown>;

const delivery = {
  receivedAt: '2026-06-03T04:15:00Z',
  requestId: 'r',
  dedupeKey: 'd',
  auth: 'token',
  sourceIp: '127.0.0.1',
};
const entry = (name: string, patch: (body: Record<string, unknown>) => void = () => undefined) => {
  const body = fixture(name);
  patch(body);
  return { source: BUILDKITE_SOURCE, detailType: name, detail: JSON.stringify({ ...body, delivery }) };
};

let stub: Server;
let stubUrl: string;
let calls = 0;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'autoscaler-local-'));
  stub = createServer((req, res) => {
    calls++;
    expect(req.headers.authorization).toBe('Token stub-token');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(
      JSON.stringify({
        agents: { queues: {} },
        jobs: { queues: { 'linux-arm64': { scheduled: 7, running: 1, waiting: 3 } } },
        organization: { slug: 'acme' },
      }),
    );
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/v3`;
});
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  stub.closeAllConnections();
  await new Promise<void>((resolve) => stub.close(() => resolve()));
});
beforeEach(() => {
  calls = 0;
});

const config = parseAutoscalerConfig({
  org: 'acme',
  queues: [{ queue: 'linux-arm64', asgName: 'ci-arm64', agentsPerInstance: 2, max: 10 }],
});

/**
 * Turns the event loop until `done()` holds: the stub is a real socket, so this waits on a
 * condition, never on a length of time (the bound only stops a broken test from spinning).
 */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1_000_000 && !done(); turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  expect(done()).toBe(true);
}

/** The local autoscaler against the stub, the lines it logs, and a local bus carrying its rules. */
function onStub(clock = new SimulatedClock(0)) {
  const lines: string[] = [];
  const scaler = localAutoscaler({
    config,
    dataDir,
    metricsApiUrl: stubUrl,
    agentToken: 'stub-token',
    log: (l) => lines.push(l),
    clock,
  });
  return { scaler, lines, bus: new LocalBus({ rules: scaler.rules }) };
}

describe('local autoscaler on the local bus', () => {
  it('logs a decision for a job.scheduled of a mapped queue, with counts from the stub', async () => {
    const clock = new SimulatedClock(Date.now());
    const { lines, bus } = onStub(clock);
    await bus.publish(entry('job.scheduled'));
    await bus.drain();
    expect(calls).toBe(1);
    const decision = lines.find((l) => l.startsWith('[autoscaler] Autoscaler decision'));
    expect(decision).toContain('queue=linux-arm64');
    expect(decision).toContain('action=scale-out');
    expect(decision).toContain('desired=4');
    expect(decision).toContain('dryRun=true');
    expect(decision).toContain('waiting=3');
  });

  it('keeps an in-memory fleet and logs the actions it would take: protect, heal, the job wait', async () => {
    const clock = new SimulatedClock(Date.parse('2026-06-03T04:15:00Z'));
    const { scaler, lines, bus } = onStub(clock);
    await bus.publish(entry('job.started'));
    await bus.publish(entry('agent.lost'));
    await drainAdvancing(bus, clock);
    const members = await scaler.fleet.members('linux-arm64');
    expect(members.map((m) => `${m.instanceId} ${m.activity}`).sort()).toEqual([
      'i-07d1e5b3a9c2f4e68 lost',
      'i-0a4f2c9e81b7d3056 busy',
    ]);
    expect(lines.find((l) => l.startsWith('[autoscaler] Would protect instance from scale-in'))).toContain(
      'instanceId=i-0a4f2c9e81b7d3056',
    );
    expect(lines.find((l) => l.startsWith('[autoscaler] Would mark instance unhealthy'))).toContain(
      'instanceId=i-07d1e5b3a9c2f4e68',
    );
    // runnable_at 04:14:05.933 → started_at 04:14:10.246
    expect(lines).toContain('[autoscaler] JobWaitTime queue=linux-arm64 seconds=4.313');
  });

  it('collapses a burst into one call now and one at the end of the interval', async () => {
    const clock = new SimulatedClock(Date.now());
    const { bus } = onStub(clock);
    for (let i = 0; i < 20; i++) await bus.publish(entry('job.scheduled'));
    // The first evaluates at once; one claims the trailing evaluation and sleeps; the rest collapse.
    await until(() => calls === 1 && clock.sleepers === 1);
    await clock.advance(10_000);
    await until(() => calls === 2);
    await bus.drain();
    expect(calls).toBe(2);
    expect(clock.sleepers).toBe(0);
  });

  it('does not deliver other queues, other families, or agents of other queues', async () => {
    const { bus } = onStub();
    await bus.publish(
      entry('job.scheduled', (b) => ((b.job as Record<string, unknown>).agent_query_rules = ['queue=mac'])),
    );
    await bus.publish(entry('build.finished'));
    await bus.publish(
      entry('agent.connected', (b) => ((b.agent as Record<string, unknown>).meta_data = ['queue=mac'])),
    );
    await bus.drain();
    expect(calls).toBe(0);
  });

  it('reconciles on demand (the schedule) and reads the stub URL from the environment', async () => {
    const lines: string[] = [];
    const scaler = localAutoscaler({
      config,
      dataDir,
      env: { KITEBRIDGE_AUTOSCALER_METRICS_URL: stubUrl, BUILDKITE_AGENT_TOKEN: 'stub-token' },
      log: (l) => lines.push(l),
      clock: new SimulatedClock(0),
    });
    const outcome = await scaler.reconcile();
    expect(outcome.gate).toBe('now');
    expect(lines.some((l) => l.includes('trigger=reconcile'))).toBe(true);
    const stop = scaler.startSchedule();
    stop();
  });

  it('logs "no action" when the stub fails', async () => {
    const lines: string[] = [];
    const scaler = localAutoscaler({
      config,
      dataDir,
      metricsApiUrl: 'http://127.0.0.1:9/v3',
      log: (l) => lines.push(l),
      clock: new SimulatedClock(0),
    });
    await scaler.reconcile();
    expect(lines.join('\n')).toContain('reason=metrics-unavailable');
  });

  it('reads an oversized job event from the data folder before deciding; skips one whose body is gone', async () => {
    const folder = localBodyFolder(dataDir);
    const body = fixture('job.scheduled');
    const stored = 'oversized/2026/06/03/req-big.json';
    mkdirSync(path.dirname(path.join(folder, stored)), { recursive: true });
    writeFileSync(path.join(folder, stored), JSON.stringify(body));
    const pointerOf = (key: string) => ({
      source: BUILDKITE_SOURCE,
      detailType: 'job.scheduled',
      detail: JSON.stringify({
        event: 'job.scheduled',
        job: { id: 'j', agent_query_rules: ['queue=linux-arm64'] },
        delivery: { ...delivery, oversized: { bucket: folder, key, bytes: 300_000 } },
      }),
    });
    const { lines, bus } = onStub();
    await bus.publish(pointerOf('oversized/2026/06/03/req-gone.json'));
    await bus.drain();
    expect(calls).toBe(0);
    expect(lines).toEqual([
      expect.stringMatching(/^\[autoscaler\] Delivery skipped reason=oversized-body-missing /),
    ]);
    await bus.publish(pointerOf(stored));
    await bus.drain();
    expect(calls).toBe(1);
    expect(lines.find((l) => l.startsWith('[autoscaler] Autoscaler decision'))).toContain(
      'queue=linux-arm64',
    );
  });
});
