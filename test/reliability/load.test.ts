/**
 * A load run through the local gateway: 10,000 signed deliveries, 50 at a time over keep-alive
 * connections, each body distinct. Every one must be accepted, and reach the consumer exactly once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildFinishedDedupeKey, type EventEnvelope } from '../../lambda/shared/contract';
import { computeSignature } from '../../lambda/verify/signature';
import { loadLocalConfig } from '../../local/local-config';
import { startLocal, type LocalKitebridge } from '../../local/server';

const TOTAL = 10_000;
const CONCURRENCY = 50;

const fixture = JSON.parse(
  readFileSync(path.join(__dirname, '../../fixtures/buildkite/build.finished.json'), 'utf8'),
) as { build: Record<string, unknown> };

describe('load: 10,000 signed deliveries through the local gateway', () => {
  let local: LocalKitebridge;
  let dataDir: string;
  let agent: http.Agent;
  const consumed: { requestId: string; dedupeKey: string }[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-load-'));
    local = await startLocal({
      config: loadLocalConfig(),
      dataDir,
      rules: [
        {
          id: 'Counting',
          pattern: { source: ['buildkite'], 'detail-type': ['build.finished'] },
          target: (event: EventEnvelope) => {
            const { requestId, dedupeKey } = (
              event.detail as { delivery: { requestId: string; dedupeKey: string } }
            ).delivery;
            consumed.push({ requestId, dedupeKey });
          },
        },
      ],
    });
    agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  });

  afterAll(async () => {
    agent?.destroy();
    await local?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  function post(body: Buffer, signature: string): Promise<{ status: number; text: string }> {
    const url = new URL(`${local.url}/buildkite`);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': body.length,
            'X-Buildkite-Event': 'build.finished',
            'X-Buildkite-Signature': signature,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  it('answers every delivery 202, and the consumer receives each exactly once', async () => {
    const sentKeys: string[] = [];
    const answers = new Map<number, number>();
    const acceptedIds: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const body = Buffer.from(
          JSON.stringify({ ...fixture, build: { ...fixture.build, number: 100_000 + i, id: `load-${i}` } }),
        );
        sentKeys.push(buildFinishedDedupeKey((JSON.parse(body.toString()) as { build: unknown }).build)!);
        const ts = String(Math.floor(Date.now() / 1000));
        const { status, text } = await post(
          body,
          `timestamp=${ts},signature=${computeSignature(local.token, ts, body)}`,
        );
        answers.set(status, (answers.get(status) ?? 0) + 1);
        if (status === 202) acceptedIds.push((JSON.parse(text) as { id: string }).id);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await local.bus.drain();

    expect(Object.fromEntries(answers)).toEqual({ 202: TOTAL });
    expect(new Set(sentKeys).size).toBe(TOTAL); // the bodies really were distinct
    expect(new Set(acceptedIds).size).toBe(TOTAL);

    expect(consumed).toHaveLength(TOTAL);
    const consumedIds = new Set(consumed.map((d) => d.requestId));
    const consumedKeys = new Set(consumed.map((d) => d.dedupeKey));
    expect(consumedIds.size).toBe(TOTAL); // no duplicate requestIds
    expect(consumedKeys.size).toBe(TOTAL); // no duplicate dedupeKeys
    expect(acceptedIds.filter((id) => !consumedIds.has(id))).toEqual([]);
    // Every sent body's dedupeKey is present (and, with the sizes equal, exactly once).
    expect(sentKeys.filter((key) => !consumedKeys.has(key))).toEqual([]);
  });
});
