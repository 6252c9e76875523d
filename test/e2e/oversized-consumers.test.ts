/**
 * One delivery over EventBridge's entry limit per consumer, end to end on one machine: signed
 * request → local gateway → verify handler (body to the local bucket, pointer event on the bus)
 * → each consumer's deployed rule → the consumer reads the whole body back and acts on fields
 * only the stored body holds.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SimulatedClock } from '../../support/simulated-clock';
import { EVENTBRIDGE_ENTRY_LIMIT_BYTES, type EventEnvelope } from '../../lambda/shared/contract';
import { computeSignature } from '../../lambda/verify/signature';
import { parseConfig } from '../../lib/config';
import { localRecordsFile, analyticsLocalRules } from '../../local/consumers/analytics';
import { localAutoscaler } from '../../local/consumers/autoscaler';
import { chatAlertsLocalRules } from '../../local/consumers/chat-alerts';
import { createLocalTriggerRelay, type LocalTriggerRelay } from '../../local/consumers/trigger-relay';
import { bodyHmac } from '../../lambda/verify/trigger-auth';
import { startLocal, type LocalKitebridge } from '../../local/server';
import { drainAdvancing } from '../../support/fakes';

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Record<string, Record<string, unknown>>;

/** 300 KB of environment: what makes real bodies large (env, meta-data, long messages). */
const BIG_ENV = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`VAR_${i}`, 'x'.repeat(1000)]));

/** Turns the event loop until `done()` holds (sockets and timers are real; no fixed sleeps). */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 2_000_000 && !done(); turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  expect(done()).toBe(true);
}

describe('oversized deliveries reach every consumer whole', () => {
  const chatLines: string[] = [];
  const autoscalerLines: string[] = [];
  const consumerLog: string[] = [];
  const relayed: string[] = [];
  const events: EventEnvelope[] = [];
  let metricsApi: http.Server;
  let buildkite: http.Server;
  let relay: LocalTriggerRelay;
  let local: LocalKitebridge;
  let dataDir: string;
  const clock = new SimulatedClock(Date.now());

  const listen = async (server: http.Server) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-oversized-'));
    metricsApi = http.createServer((_request, response) =>
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          agents: { queues: {} },
          jobs: { queues: { 'linux-arm64': { scheduled: 5, running: 0, waiting: 0 } } },
          organization: { slug: 'acme' },
        }),
      ),
    );
    buildkite = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        relayed.push(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(201, { 'Content-Type': 'application/json' }).end('{"id":"delivery-1"}');
      });
    });
    const metricsUrl = await listen(metricsApi);
    const buildkiteUrl = await listen(buildkite);

    const config = parseConfig({
      webhookIps: ['127.0.0.1/32'],
      triggers: [{ name: 'github-deploy', kind: 'github', filter: { pull_request: { merged: [true] } } }],
      autoscaler: { org: 'acme', queues: [{ queue: 'linux-arm64', asgName: 'ci-arm64', max: 10 }] },
      chatAlerts: { destinations: [{ name: 'ci', service: 'slack' }] },
    });
    relay = createLocalTriggerRelay({
      triggers: config.triggers,
      ratePerHour: 3600,
      burst: 10,
      urls: { 'github-deploy': `${buildkiteUrl}/deliver/bktr_test` },
      log: (line) => consumerLog.push(line),
    });
    const autoscaler = localAutoscaler({
      config: config.autoscaler!,
      dataDir,
      metricsApiUrl: `${metricsUrl}/v3`,
      agentToken: 'stub',
      log: (line) => autoscalerLines.push(line),
      clock,
    });
    local = await startLocal({
      config,
      dataDir,
      rules: [
        {
          id: 'Recorder',
          pattern: { source: [{ exists: true }] },
          target: (event) => void events.push(event),
        },
        ...chatAlertsLocalRules({
          dataDir,
          config: config.chatAlerts!,
          print: (text) => chatLines.push(text),
          jobsGraceMs: 0,
        }),
        ...autoscaler.rules,
        ...relay.rules,
        ...analyticsLocalRules({ dataDir, log: (line) => consumerLog.push(line) }),
      ],
      log: (line) => consumerLog.push(line),
    });
  });

  afterAll(async () => {
    relay.close();
    await local.close();
    for (const server of [metricsApi, buildkite]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const drain = () => drainAdvancing(local.bus, clock);

  async function sendBuildkite(body: Record<string, unknown>): Promise<EventEnvelope> {
    const raw = Buffer.from(JSON.stringify(body));
    expect(raw.length).toBeGreaterThan(EVENTBRIDGE_ENTRY_LIMIT_BYTES);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const response = await fetch(`${local.url}/buildkite`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Buildkite-Event': String(body.event),
        'X-Buildkite-Signature': `timestamp=${timestamp},signature=${computeSignature(local.token, timestamp, raw)}`,
      },
      body: raw,
    });
    expect(response.status).toBe(202);
    await drain();
    const event = events.at(-1) as EventEnvelope;
    // On the bus: a pointer, not the body.
    expect((event.detail.delivery as { oversized?: unknown }).oversized).toMatchObject({ bytes: raw.length });
    expect(event.detail.build).not.toHaveProperty('env');
    return event;
  }

  it('chat alerts: a failed build alerts with the commit message only the stored body holds', async () => {
    const body = fixture('build.finished');
    const build = { ...body.build, state: 'failed', message: 'Only in the stored body', env: BIG_ENV };
    await sendBuildkite({ ...body, build });
    const pointer = events.at(-1) as EventEnvelope;
    expect(pointer.detail.build).not.toHaveProperty('message');
    await until(() => chatLines.some((line) => line.includes('Only in the stored body')));
  });

  it('autoscaler: a job.scheduled of a mapped queue (queue in agent_query_rules) is evaluated', async () => {
    const body = fixture('job.scheduled');
    const job = { ...body.job, agent_query_rules: ['queue=linux-arm64'] };
    await sendBuildkite({ ...body, job, build: { ...body.build, env: BIG_ENV } });
    await until(() => autoscalerLines.some((line) => line.includes('queue=linux-arm64')));
    expect(autoscalerLines.find((line) => line.startsWith('[autoscaler] Autoscaler decision'))).toContain(
      'desired=',
    );
  });

  it('analytics: the record has the fields only the stored body holds, marked oversized', async () => {
    const body = fixture('job.finished');
    const job = { ...body.job, name: 'Only-in-body job', exit_status: 3 };
    const build = { ...body.build, env: BIG_ENV, commit: 'c0ffee0000000000000000000000000000000000' };
    await sendBuildkite({ ...body, job, build });
    const records = readFileSync(localRecordsFile(dataDir), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.find((r) => r.job_name === 'Only-in-body job')).toMatchObject({
      oversized: true,
      job_exit_status: 3,
      commit: 'c0ffee0000000000000000000000000000000000',
    });
  });

  it('trigger relay: a filtered trigger relays an oversized merged pull request, byte for byte', async () => {
    const payload = {
      action: 'closed',
      pull_request: { merged: true, number: 42, body: 'y'.repeat(EVENTBRIDGE_ENTRY_LIMIT_BYTES) },
    };
    const raw = Buffer.from(JSON.stringify(payload));
    const response = await fetch(`${local.url}/triggers/github-deploy`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-GitHub-Event': 'pull_request',
        'X-GitHub-Delivery': 'oversized-1',
        'X-Hub-Signature-256': `sha256=${bodyHmac(local.token, raw, 'hex')}`,
      },
      body: raw,
    });
    expect(response.status).toBe(202);
    await drain();
    await until(() => relayed.length === 1);
    expect(relayed[0]).toBe(raw.toString('utf8'));
  });

  it('left no dead letter and no consumer error behind', async () => {
    await drain();
    expect(consumerLog.filter((line) => /dead letter|error|skipped/i.test(line))).toEqual([]);
    expect(relay.deadLetters).toEqual([]);
  });
});
