/**
 * Real senders are the judge: every webhook body captured in the wild (`../shared/realworld/`)
 * and every documented webhook body (`../shared/buildkite/payloads/`) is accepted through the local
 * gateway in token and signature mode (and by path token, as Test Engine sends), lands on the
 * local bus intact, and leaves no dead letter and no error line in any consumer. The files there
 * that are not webhook bodies (API answers, trigger examples) get their clear 400.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SimulatedClock } from '../../support/simulated-clock';
import type { EventEnvelope } from '../../lambda/shared/contract';
import { computeSignature } from '../../lambda/verify/signature';
import { parseConfig } from '../../lib/config';
import { analyticsLocalRules } from '../../local/consumers/analytics';
import { localAutoscaler } from '../../local/consumers/autoscaler';
import { chatAlertsLocalRules, LOCAL_DEFAULT_CHAT_ALERTS } from '../../local/consumers/chat-alerts';
import { startLocal, type LocalKitebridge } from '../../local/server';
import { drainAdvancing } from '../../support/fakes';
import { notWebhookBodies, webhookBodies, type CorpusBody } from '../support/corpus';

type Mode = 'token' | 'signature' | 'path-token';

describe('every real and documented webhook body, through the local gateway and every consumer', () => {
  const events: EventEnvelope[] = [];
  const consumerLines: string[] = [];
  const clock = new SimulatedClock(Date.now());
  let local: LocalKitebridge;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-real-bodies-'));
    const config = parseConfig({
      webhookIps: ['127.0.0.1/32'],
      // A queue some real bodies name, so the autoscaler's rule and controller see them too.
      autoscaler: { org: 'acme', queues: [{ queue: 'default', asgName: 'ci-default', max: 5 }] },
    });
    const autoscaler = localAutoscaler({
      config: config.autoscaler!,
      dataDir,
      // Nothing listens here: a metrics API failure must mean "no action", never an error.
      metricsApiUrl: 'http://127.0.0.1:9/v3',
      agentToken: 'stub',
      log: (line) => consumerLines.push(line),
      clock,
    });
    local = await startLocal({
      config,
      dataDir,
      rules: [
        { id: 'Recorder', pattern: { source: ['buildkite'] }, target: (event) => void events.push(event) },
        ...chatAlertsLocalRules({
          dataDir,
          config: LOCAL_DEFAULT_CHAT_ALERTS,
          print: (text) => consumerLines.push(text),
          jobsGraceMs: 0,
        }),
        ...autoscaler.rules,
        ...analyticsLocalRules({ dataDir, log: (line) => consumerLines.push(line) }),
      ],
      log: (line) => consumerLines.push(line),
    });
  });

  afterAll(async () => {
    await drain();
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const drain = () => drainAdvancing(local.bus, clock);

  async function post(raw: Buffer, mode: Mode): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    let url = `${local.url}/buildkite`;
    if (mode === 'token') headers['X-Buildkite-Token'] = local.token;
    if (mode === 'signature') {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers['X-Buildkite-Signature'] =
        `timestamp=${timestamp},signature=${computeSignature(local.token, timestamp, raw)}`;
    }
    if (mode === 'path-token') url = `${url}/${local.token}`;
    const response = await fetch(url, { method: 'POST', headers, body: raw });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const bodies = webhookBodies();
  const cases = bodies.flatMap((body) =>
    (['token', 'signature', 'path-token'] as const)
      .filter(
        (mode) =>
          mode !== 'path-token' || body.detailType.startsWith('workflow.') || body.name.includes('ping'),
      )
      .map((mode) => [body.name, mode, body] as [string, Mode, CorpusBody]),
  );

  it('covers the shared folders (so a missing ../shared cannot pass silently)', () => {
    expect(bodies.filter((b) => b.name.startsWith('shared/realworld/')).length).toBeGreaterThanOrEqual(15);
    expect(
      bodies.filter((b) => b.name.startsWith('shared/buildkite/payloads/')).length,
    ).toBeGreaterThanOrEqual(15);
    expect(bodies.some((b) => b.detailType === 'workflow.passed_on_retry')).toBe(true);
  });

  it.each(cases)('%s (%s): 202, on the bus intact', async (_name, mode, { raw, body, detailType }) => {
    const before = events.length;
    const answer = await post(raw, mode);
    expect(answer).toEqual({ status: 202, body: { id: expect.any(String), status: 'published' } });
    await drain();
    const event = events
      .slice(before)
      .find(
        (e) => e.detail.delivery && (e.detail.delivery as { requestId: string }).requestId === answer.body.id,
      );
    expect(event?.['detail-type']).toBe(detailType);
    const { delivery, ...detail } = event?.detail ?? {};
    expect(detail).toEqual(body);
    expect(delivery).toMatchObject({ auth: mode });
  });

  it.each(notWebhookBodies().map((f) => [f.name, f.raw] as const))(
    '%s: 400 with a clear message',
    async (_name, raw) => {
      const answer = await post(raw, 'token');
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error: 'missing_event', message: expect.stringContaining('"event"') });
    },
  );

  it('left no dead letter and no error line in any consumer', async () => {
    await drain();
    expect(existsSync(path.join(dataDir, 'dead-letters.jsonl'))).toBe(false);
    expect(consumerLines.filter((line) => /dead letter|error|exception|failed to/i.test(line))).toEqual([]);
    // Analytics recorded every accepted delivery.
    const records = readFileSync(path.join(dataDir, 'analytics', 'records.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(records.length).toBe(cases.length);
  });
});
