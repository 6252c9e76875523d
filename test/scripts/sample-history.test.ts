import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { toRecord } from '../../lambda/analytics/to-record';
import type { AnalyticsRecord } from '../../lambda/analytics/record';
import type { EventEnvelope } from '../../lambda/shared/contract';
import { parseConfig } from '../../lib/config';
import { analyticsLocalRules, localRecordsFile } from '../../local/consumers/analytics';
import { UsageError } from '../../local/send';
import { startLocal, type LocalKitebridge } from '../../local/server';
import { renderReport, runNamedQueries } from '../../scripts/report';
import {
  DEFAULT_SEED,
  resolveOptions,
  sampleHistory,
  SampleSendError,
  sendHistory,
  type SampleDelivery,
} from '../../scripts/sample-history';

const NOW = new Date('2026-11-24T10:00:00Z'); // a Tuesday
const DAY = 86_400_000;
const TODAY = Date.parse('2026-11-24T00:00:00Z');

/** The records the analytics consumer would write for these deliveries (received now, one key each). */
function records(deliveries: readonly SampleDelivery[]): AnalyticsRecord[] {
  return deliveries.map((d, i) =>
    toRecord({
      version: '0',
      id: `e${i}`,
      'detail-type': d.event,
      source: 'buildkite',
      account: '1',
      time: NOW.toISOString(),
      region: 'local',
      resources: [],
      detail: { ...d.body, delivery: { receivedAt: NOW.toISOString(), dedupeKey: `k${i}` } },
    } as EventEnvelope),
  );
}

describe('sampleHistory', () => {
  // Prepare
  const history = sampleHistory({ seed: DEFAULT_SEED, now: NOW });
  const recs = records(history);
  const of = (event: string) => recs.filter((r) => r.event === event);

  it('is a pure function of the seed and the UTC day', () => {
    expect(sampleHistory({ seed: DEFAULT_SEED, now: new Date('2026-11-24T23:59:59Z') })).toEqual(history);
    expect(sampleHistory({ seed: DEFAULT_SEED + 1, now: NOW })).not.toEqual(history);
    expect(sampleHistory({ seed: DEFAULT_SEED, now: new Date(NOW.getTime() + DAY) })).not.toEqual(history);
  });

  it('is tens of builds of a few pipelines and branches, every job scheduled, started and finished', () => {
    const builds = of('build.finished');
    expect(builds.length).toBeGreaterThanOrEqual(40);
    expect(builds.length).toBeLessThanOrEqual(120);
    expect(new Set(builds.map((r) => r.pipeline))).toEqual(
      new Set(['deploy-api', 'web-app', 'ml-models', 'docs']),
    );
    expect(new Set(builds.map((r) => `${r.pipeline} ${r.branch}`)).size).toBeGreaterThanOrEqual(5);
    for (const event of ['job.scheduled', 'job.started']) {
      expect(
        of(event)
          .map((r) => r.job_id)
          .sort(),
      ).toEqual(
        of('job.finished')
          .map((r) => r.job_id)
          .sort(),
      );
    }
    expect(new Set(of('job.finished').map((r) => r.build_id))).toEqual(
      new Set(builds.map((r) => r.build_id)),
    );
    expect(new Set(history.map((d) => d.event))).toEqual(
      new Set(['job.scheduled', 'job.started', 'job.finished', 'build.finished', 'agent.lost']),
    );
    // Every body is one the consumers can use whole: no record is missing its ids.
    expect(recs.filter((r) => r.family !== 'agent' && r.build_id === null)).toEqual([]);
  });

  it('spreads over the two weeks before today, in event order', () => {
    const times = history.map((d) => Date.parse(d.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(TODAY - 14 * DAY);
    expect(Math.max(...times)).toBeLessThan(TODAY);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(10 * DAY);
    for (const r of recs) {
      expect(Date.parse(r.occurred_at)).toBeGreaterThanOrEqual(TODAY - 14 * DAY);
      expect(Date.parse(r.occurred_at)).toBeLessThan(TODAY);
    }
  });

  it('has realistic durations and queue waits per queue', () => {
    const durations = of('build.finished').map((r) => r.build_duration_s!);
    expect(Math.min(...durations)).toBeGreaterThan(10);
    expect(Math.max(...durations)).toBeLessThan(3600);
    const waits = (queue: string) =>
      of('job.started')
        .filter((r) => r.queue === queue)
        .map((r) => r.queue_wait_s!);
    for (const queue of ['linux-arm64', 'windows', 'gpu']) {
      expect(waits(queue).length).toBeGreaterThan(5);
      expect(Math.min(...waits(queue))).toBeGreaterThan(0);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(median(waits('gpu'))).toBeGreaterThan(median(waits('linux-arm64')));
    expect(Math.max(...waits('linux-arm64'))).toBeGreaterThan(60); // a scale-out now and then
  });

  it('has failed and passed builds, and a flaky job: failed, retried automatically, passed in the same build', () => {
    const states = of('build.finished').map((r) => r.build_state);
    expect(states.filter((s) => s === 'failed').length).toBeGreaterThanOrEqual(3);
    expect(states.filter((s) => s === 'passed').length).toBeGreaterThan(states.length / 2);

    const finished = of('job.finished');
    const retried = finished.filter((r) => r.job_retried);
    expect(retried.length).toBeGreaterThanOrEqual(2);
    for (const first of retried) {
      expect(first.job_state).toBe('failed');
      const retry = finished.find((r) => r.job_id === first.job_retried_in_job_id);
      expect(retry).toMatchObject({
        build_id: first.build_id,
        job_step_key: first.job_step_key,
        job_state: 'passed',
        job_retry_type: 'automatic',
      });
      expect(retry!.occurred_at > first.occurred_at).toBe(true);
    }
    expect(new Set(retried.map((r) => `${r.pipeline}/${r.job_step_key}`))).toContain('deploy-api/unit-tests');
  });

  it.each([0, 1, 2, 42, 2026])('with seed %p too: failures, a flaky retry and a lost agent', (seed) => {
    const other = records(sampleHistory({ seed, now: NOW }));
    expect(
      other.filter((r) => r.event === 'build.finished' && r.build_state === 'failed').length,
    ).toBeGreaterThan(0);
    expect(other.some((r) => r.event === 'job.finished' && r.job_retried)).toBe(true);
    expect(other.some((r) => r.event === 'agent.lost')).toBe(true);
  });

  it('loses a few agents, on more than one day and queue', () => {
    const lost = of('agent.lost');
    expect(lost.length).toBeGreaterThanOrEqual(3);
    expect(new Set(lost.map((r) => r.occurred_at.slice(0, 10))).size).toBeGreaterThanOrEqual(2);
    expect(new Set(lost.map((r) => r.queue)).size).toBeGreaterThanOrEqual(2);
    expect(lost.every((r) => r.agent_id !== null)).toBe(true);
  });
});

describe('resolveOptions', () => {
  it('signs with the token send would use, at send’s default endpoint unless --url is given', () => {
    const env = { KITEBRIDGE_TOKEN: 'tok-from-env', PORT: '8899' };
    expect(resolveOptions([], env)).toMatchObject({
      seed: DEFAULT_SEED,
      send: { mode: 'signature', token: 'tok-from-env', url: 'http://127.0.0.1:8899/buildkite' },
    });
    expect(
      resolveOptions(['--seed', '7', '--url', 'http://h:1/buildkite', '--token', 't2'], env),
    ).toMatchObject({
      seed: 7,
      send: { mode: 'signature', token: 't2', url: 'http://h:1/buildkite' },
    });
  });

  it.each([[['--seed', 'x']], [['--seed', '-1']], [['--path-token', 't']], [['extra']]])(
    'refuses %p',
    (argv) => {
      expect(() => resolveOptions(argv, { KITEBRIDGE_TOKEN: 't' })).toThrow(UsageError);
    },
  );
});

describe('npm run sample → npm run report, end to end', () => {
  let dataDir: string;
  let local: LocalKitebridge;
  const skipped: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-sample-'));
    local = await startLocal({
      config: parseConfig({ webhookIps: ['127.0.0.1/32'] }),
      dataDir,
      rules: analyticsLocalRules({ dataDir, log: (line) => skipped.push(line) }),
    });
  });
  afterAll(async () => {
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends every delivery signed, and the report has data in every chart', async () => {
    // Prepare
    const { seed, send } = resolveOptions(['--url', `${local.url}/buildkite`], {
      KITEBRIDGE_TOKEN: local.token,
    });
    const history = sampleHistory({ seed, now: new Date() });

    // Act
    const sent = await sendHistory(history, send);
    await local.bus.drain();

    // Assess
    expect(sent).toBe(history.length);
    expect(skipped).toEqual([]);
    const file = localRecordsFile(dataDir);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(history.length);
    const events = readFileSync(path.join(dataDir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as EventEnvelope<{ delivery: { auth: string } }>);
    expect(new Set(events.map((e) => e.detail.delivery.auth))).toEqual(new Set(['signature']));

    const results = await runNamedQueries(file);
    expect(results.buildTime.map((r) => r.pipeline).sort()).toEqual([
      'deploy-api',
      'docs',
      'ml-models',
      'web-app',
    ]);
    for (const row of results.buildTime) expect(Number(row.p95_s)).toBeGreaterThanOrEqual(Number(row.p50_s));
    expect(results.failureRate.length).toBeGreaterThanOrEqual(5);
    expect(results.failureRate.some((r) => Number(r.failure_rate) > 0)).toBe(true);
    expect(new Set(results.queueWait.map((r) => r.queue))).toEqual(
      new Set(['linux-arm64', 'windows', 'gpu']),
    );
    expect(new Set(results.queueWait.map((r) => String(r.hour))).size).toBeGreaterThanOrEqual(8);
    expect(results.flakyJobs).toContainEqual(
      expect.objectContaining({ pipeline: 'deploy-api', job: 'unit-tests' }),
    );
    expect(results.agentsLost.length).toBeGreaterThanOrEqual(2);

    const html = renderReport(results, { generatedAt: new Date(0), recordsFile: file, recordCount: sent });
    expect(html.match(/<svg /g)).toHaveLength(5);
    expect(html).not.toContain('No data yet.');
  });

  it('stops at the first refused delivery and says how many were accepted', async () => {
    const { send } = resolveOptions(['--url', `${local.url}/buildkite`, '--token', 'not-the-token'], {});
    const history = sampleHistory({ seed: 2, now: new Date() });

    const attempt = sendHistory(history, send);

    await expect(attempt).rejects.toThrow(SampleSendError);
    await expect(attempt).rejects.toMatchObject({ sent: 0, message: expect.stringContaining('401') });
  });
});
