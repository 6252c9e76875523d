import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../lib/config';
import { createLocalTriggerRelay, type LocalTriggerRelay } from '../../local/consumers/trigger-relay';
import { buildTriggerRequest, send, type SendTrigger } from '../../local/send';
import { startLocal, type LocalKitebridge } from '../../local/server';
import { triggerSendOptions } from '../support/trigger-send';

/**
 * The whole trigger path on one machine: a signed GitHub request → local gateway → verify
 * handler → local bus → the relay's rule (with its content filter) → relay → a stand-in for
 * Buildkite's pipeline-trigger endpoint, which answers 201 like Buildkite.
 */
describe('trigger relay end to end', () => {
  const TRIGGERS = [
    { name: 'github-deploy', kind: 'github' as const, filter: { pull_request: { merged: [true] } } },
    // No filter: every request it gets would start a build, so only the detail-type keeps pings out.
    { name: 'github-any', kind: 'github' as const },
  ];
  const received: { path: string; body: string }[] = [];
  let buildkite: http.Server;
  let local: LocalKitebridge;
  let relay: LocalTriggerRelay;
  let dataDir: string;

  beforeAll(async () => {
    buildkite = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        received.push({ path: request.url ?? '', body: Buffer.concat(chunks).toString() });
        response.writeHead(201, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ id: `delivery-${received.length}` }));
      });
    });
    await new Promise<void>((resolve) => buildkite.listen(0, '127.0.0.1', resolve));
    const { port } = buildkite.address() as AddressInfo;

    const config = parseConfig({ webhookIps: ['127.0.0.1/32'], triggers: TRIGGERS });
    relay = createLocalTriggerRelay({
      triggers: config.triggers,
      ratePerHour: 3600,
      burst: 10,
      urls: {
        'github-deploy': `http://127.0.0.1:${port}/deliver/bktr_test`,
        'github-any': `http://127.0.0.1:${port}/deliver/bktr_any`,
      },
      log: () => undefined,
    });
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-relay-e2e-'));
    local = await startLocal({ config, dataDir, rules: relay.rules });
  });

  afterAll(async () => {
    relay.close();
    await local.close();
    await new Promise((resolve) => buildkite.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('relays a merged pull request to the trigger URL once, even when GitHub re-delivers it', async () => {
    const options = triggerSendOptions(local, TRIGGERS, 'github-deploy', 'github-pull_request');
    // GitHub re-delivers with the same X-GitHub-Delivery: send the identical request twice.
    const request = buildTriggerRequest(
      options,
      options.trigger as SendTrigger,
      readFileSync(options.file),
      new Date(),
    );
    for (let i = 0; i < 2; i++) {
      const answer = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
      });
      expect(answer.status).toBe(202);
    }
    await local.bus.drain();
    await relay.idle();

    expect(received).toHaveLength(1);
    expect(received[0]?.path).toBe('/deliver/bktr_test');
    expect(JSON.parse(received[0]?.body ?? '{}')).toMatchObject({
      action: 'closed',
      pull_request: { merged: true },
    });
  });

  it('does not relay a request the content filter rejects', async () => {
    const before = received.length;
    const notMerged = path.join(dataDir, 'not-merged.json');
    writeFileSync(notMerged, JSON.stringify({ action: 'closed', pull_request: { merged: false } }));
    const options = triggerSendOptions(local, TRIGGERS, 'github-deploy', notMerged);
    expect((await send(options)).status).toBe(202);
    await local.bus.drain();
    await relay.idle();
    expect(received).toHaveLength(before);
  });

  it("never relays GitHub's ping, even for a trigger without a filter, but relays its next request", async () => {
    const before = received.length;
    const sendAs = async (fixture: string) => {
      const answer = await send(triggerSendOptions(local, TRIGGERS, 'github-any', fixture));
      await local.bus.drain();
      await relay.idle();
      return answer;
    };
    const ping = await sendAs('github-ping');
    expect(ping.status).toBe(202);
    expect(JSON.parse(ping.body)).toMatchObject({ ping: true });
    expect(received).toHaveLength(before);

    expect((await sendAs('github-pull_request')).status).toBe(202);
    expect(received.slice(before).map((r) => r.path)).toEqual(['/deliver/bktr_any']);
  });
});
