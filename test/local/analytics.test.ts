import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { toRecord } from '../../lambda/analytics/to-record';
import type { AnalyticsRecord } from '../../lambda/analytics/record';
import { analyticsLocalRules, localRecordsFile } from '../../local/consumers/analytics';
import { localBodyFolder } from '../../local/adapters/files';
import { LocalBus } from '../../local/local-bus';

const fixture = (name: string) =>
  readFileSync(path.join(__dirname, '../../fixtures/buildkite', `${name}.json`), 'utf8');

describe('local analytics consumer', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(path.join(tmpdir(), 'analytics-local-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('appends the deployed toRecord output of every Buildkite event as JSON lines', async () => {
    const delivered: Parameters<typeof toRecord>[0][] = [];
    const bus = new LocalBus({
      rules: [
        ...analyticsLocalRules({ dataDir }),
        { id: 'Spy', pattern: { source: ['buildkite'] }, target: (e) => void delivered.push(e) },
      ],
    });
    for (const name of ['build.finished', 'job.started', 'agent.lost']) {
      const detail = {
        ...(JSON.parse(fixture(name)) as object),
        delivery: { receivedAt: new Date().toISOString(), dedupeKey: name },
      };
      await bus.publish({ source: 'buildkite', detailType: name, detail: JSON.stringify(detail) });
    }
    await bus.publish({ source: 'kitebridge.trigger', detailType: 'trigger.x', detail: '{"trigger":"x"}' });
    await bus.drain();
    const lines = readFileSync(localRecordsFile(dataDir), 'utf8').trim().split('\n');
    expect(localRecordsFile(dataDir)).toBe(path.join(dataDir, 'analytics', 'records.jsonl'));
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(
      expect.arrayContaining(delivered.map((event) => toRecord(event))),
    );
    expect(lines).toHaveLength(3);
  });

  const records = () =>
    readFileSync(localRecordsFile(dataDir), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AnalyticsRecord);

  it('records an oversized delivery from the body stored in the data folder, not from its pointer', async () => {
    const body = JSON.parse(fixture('job.finished')) as Record<string, unknown>;
    const key = 'oversized/2026/06/03/req-big.json';
    const folder = localBodyFolder(dataDir);
    mkdirSync(path.dirname(path.join(folder, key)), { recursive: true });
    writeFileSync(path.join(folder, key), JSON.stringify(body));
    const job = body.job as Record<string, unknown>;
    const pointer = {
      event: 'job.finished',
      job: { id: job.id, state: job.state },
      delivery: {
        receivedAt: new Date().toISOString(),
        dedupeKey: 'big',
        oversized: { bucket: folder, key, bytes: 300_000 },
      },
    };
    const lines: string[] = [];
    const bus = new LocalBus({ rules: analyticsLocalRules({ dataDir, log: (l) => lines.push(l) }) });
    await bus.publish({ source: 'buildkite', detailType: 'job.finished', detail: JSON.stringify(pointer) });
    await bus.drain();
    expect(records()).toEqual([
      expect.objectContaining({
        oversized: true,
        job_id: job.id,
        job_name: job.name,
        queue: 'linux-arm64',
        pipeline: 'deploy-api',
        build_number: 1042,
        agent_name: 'acme-linux-arm64-i-0a4f2c9e81b7d3056-1',
      }),
    ]);
    expect(lines).toEqual([]);
  });

  it('records a Test Engine monitor delivery without `event`, and prints a skip line for an elided body', async () => {
    const lines: string[] = [];
    const bus = new LocalBus({ rules: analyticsLocalRules({ dataDir, log: (l) => lines.push(l) }) });
    const delivery = { receivedAt: new Date().toISOString(), dedupeKey: 'te' };
    await bus.publish({
      source: 'buildkite',
      detailType: 'workflow.passed_on_retry',
      detail: JSON.stringify({ type: 'passed_on_retry', timestamp: '2025-09-22T05:00:14.650Z', delivery }),
    });
    await bus.publish({
      source: 'buildkite',
      detailType: 'agent.connected',
      detail: JSON.stringify({
        event: 'agent.connected',
        agent: { '...': '...' },
        delivery: { ...delivery, dedupeKey: 'a' },
      }),
    });
    await bus.drain();
    expect(
      records()
        .map((r) => [r.event, r.family, r.monitor_type])
        .sort(),
    ).toEqual([
      ['agent.connected', 'agent', null],
      ['workflow.passed_on_retry', 'workflow', 'passed_on_retry'],
    ]);
    expect(lines).toEqual([
      expect.stringMatching(/^\[analytics\] Delivery skipped .*"reason":"missing-agent-id"/),
    ]);
  });
});
