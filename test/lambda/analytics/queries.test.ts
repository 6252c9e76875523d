import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NAMED_QUERIES, renderQuery } from '../../../lambda/analytics/queries';
import { RECORD_COLUMNS, type AnalyticsRecord } from '../../../lambda/analytics/record';
import { familyOf } from '../../../lambda/analytics/to-record';
import { runNamedQueries, type QueryResults, type Row } from '../../../scripts/report';

const DAY = 86_400_000;
const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();
let seq = 0;

/** A record with every column null, then `fields`; received now unless told otherwise. */
function rec(fields: Partial<AnalyticsRecord> & { event: string }): AnalyticsRecord {
  const base = Object.fromEntries(RECORD_COLUMNS.map((c) => [c.name, null])) as unknown as AnalyticsRecord;
  seq += 1;
  return {
    ...base,
    schema_version: 1,
    dedupe_key: `k${seq}`,
    event_id: `e${seq}`,
    family: familyOf(fields.event),
    received_at: iso(now - 60_000),
    occurred_at: iso(now - 60_000),
    oversized: false,
    ...fields,
  };
}

const build = (
  pipeline: string,
  branch: string,
  state: string,
  duration: number,
  extra: Partial<AnalyticsRecord> = {},
) =>
  rec({
    event: 'build.finished',
    pipeline,
    branch,
    build_state: state,
    build_blocked: false,
    build_duration_s: duration,
    ...extra,
  });

const H1 = '2026-06-03T01:00:00.000Z';
const H2 = '2026-06-03T02:00:00.000Z';
const at = (hour: string, minutes: number) => iso(Date.parse(hour) + minutes * 60_000);
const started = (queue: string, hour: string, minute: number, wait: number) =>
  rec({ event: 'job.started', queue, queue_wait_s: wait, occurred_at: at(hour, minute) });
const finished = (
  buildId: string,
  step: string,
  state: string,
  minute: number,
  shard: number | null = null,
) =>
  rec({
    event: 'job.finished',
    pipeline: 'api',
    build_id: buildId,
    job_step_key: step,
    job_state: state,
    job_parallel_index: shard,
    occurred_at: at(H1, minute),
  });
const lost = (agent: string, queue: string, day: string) =>
  rec({ event: 'agent.lost', agent_id: agent, queue, occurred_at: `${day}T05:00:00.000Z` });

const firstApiBuild = build('api', 'main', 'passed', 60);
const records: AnalyticsRecord[] = [
  firstApiBuild,
  { ...firstApiBuild, event_id: 'duplicate-delivery' }, // same dedupe_key: must count once
  build('api', 'main', 'passed', 120),
  build('api', 'main', 'failed', 180),
  build('api', 'main', 'passed', 240),
  build('api', 'release', 'failed', 600),
  build('web', 'feature/x', 'passed', 30),
  build('web', 'feature/x', 'passed', 90),
  build('web', 'feature/x', 'canceled', 5), // not in the failure rate
  build('web', 'feature/x', 'passed', 50, { build_blocked: true }), // blocked: not in the failure rate
  build('api', 'main', 'failed', 9999, { received_at: iso(now - 10 * DAY) }), // 30-day window only
  build('api', 'main', 'failed', 9999, { received_at: iso(now - 40 * DAY) }), // in no window
  rec({ event: 'build.running', pipeline: 'api', build_state: 'running' }),
  started('linux', H1, 5, 10),
  started('linux', H1, 10, 20),
  started('linux', H1, 20, 30),
  started('linux', H1, 30, 40),
  started('linux', H2, 5, 100),
  started('gpu', H1, 15, 300),
  started('gpu', H1, 16, 500),
  finished('b1', 'unit', 'failed', 1),
  finished('b1', 'unit', 'passed', 5),
  finished('b2', 'unit', 'passed', 1),
  finished('b2', 'unit', 'failed', 5),
  finished('b3', 'lint', 'failed', 1),
  finished('b4', 'unit', 'failed', 1, 0),
  finished('b4', 'unit', 'passed', 5, 1),
  finished('b5', 'e2e', 'timed_out', 1),
  finished('b5', 'e2e', 'passed', 9),
  finished('b6', 'unit', 'failed', 2),
  finished('b6', 'unit', 'passed', 7),
  lost('a1', 'linux', '2026-06-01'),
  lost('a1', 'linux', '2026-06-01'),
  lost('a2', 'linux', '2026-06-01'),
  lost('a3', 'gpu', '2026-06-02'),
];

/** Percentile by linear interpolation between closest ranks (numpy's default), computed here, not by SQL. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (sorted.length - 1) * p;
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

let dir: string;
let results: QueryResults;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'analytics-queries-'));
  const file = path.join(dir, 'records.jsonl');
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  results = await runNamedQueries(file);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pick = (rows: readonly Row[], keys: string[]) =>
  rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])));

describe('named queries on DuckDB', () => {
  it('build time p50/p95 per pipeline over 7 days, each delivery once', () => {
    const api = [60, 120, 180, 240, 600];
    const web = [30, 90, 5, 50];
    expect(results.buildTime).toHaveLength(2);
    const byPipeline = Object.fromEntries(results.buildTime.map((r) => [r.pipeline, r]));
    expect(byPipeline.api).toMatchObject({ builds: 5 });
    expect(byPipeline.api!.p50_s).toBeCloseTo(percentile(api, 0.5), 6);
    expect(byPipeline.api!.p95_s).toBeCloseTo(percentile(api, 0.95), 6);
    expect(byPipeline.web).toMatchObject({ builds: 4 });
    expect(byPipeline.web!.p50_s).toBeCloseTo(percentile(web, 0.5), 6);
    expect(byPipeline.web!.p95_s).toBeCloseTo(percentile(web, 0.95), 6);
    expect(percentile(api, 0.95)).toBeCloseTo(528, 6); // a hand check of the helper
  });

  it('failure rate per pipeline and branch over 30 days, passed + failed only', () => {
    expect(pick(results.failureRate, ['pipeline', 'branch', 'builds', 'failed', 'failure_rate'])).toEqual([
      { pipeline: 'api', branch: 'release', builds: 1, failed: 1, failure_rate: 1 },
      // 4 recent (1 failed) + the 10-day-old failure; the duplicate and the 40-day-old one are not counted.
      { pipeline: 'api', branch: 'main', builds: 5, failed: 2, failure_rate: 2 / 5 },
      { pipeline: 'web', branch: 'feature/x', builds: 2, failed: 0, failure_rate: 0 },
    ]);
  });

  it('queue wait p95 per queue per hour', () => {
    const rows: Row[] = results.queueWait.map((r) => ({ ...r, hour: String(r.hour).slice(0, 13) }));
    expect(pick(rows, ['queue', 'hour', 'jobs'])).toEqual([
      { queue: 'gpu', hour: '2026-06-03 01', jobs: 2 },
      { queue: 'linux', hour: '2026-06-03 01', jobs: 4 },
      { queue: 'linux', hour: '2026-06-03 02', jobs: 1 },
    ]);
    expect(rows[0]!.p95_wait_s).toBeCloseTo(percentile([300, 500], 0.95), 6);
    expect(rows[1]!.p95_wait_s).toBeCloseTo(percentile([10, 20, 30, 40], 0.95), 6);
    expect(rows[2]!.p95_wait_s).toBeCloseTo(100, 6);
  });

  it('flaky jobs: failed, then passed on retry in the same build and shard', () => {
    expect(pick(results.flakyJobs, ['pipeline', 'job', 'flaky_builds'])).toEqual([
      { pipeline: 'api', job: 'unit', flaky_builds: 2 }, // b1, b6 (b2 passed first, b4 was two shards)
      { pipeline: 'api', job: 'e2e', flaky_builds: 1 }, // b5: timed_out counts as failed
    ]);
  });

  it('agents lost per day and queue, each agent once', () => {
    const rows: Row[] = results.agentsLost.map((r) => ({ ...r, day: String(r.day).slice(0, 10) }));
    expect(pick(rows, ['day', 'queue', 'agents_lost'])).toEqual([
      { day: '2026-06-01', queue: 'linux', agents_lost: 2 },
      { day: '2026-06-02', queue: 'gpu', agents_lost: 1 },
    ]);
  });

  it('gives empty results, not errors, without a records file', async () => {
    const empty = await runNamedQueries(path.join(dir, 'missing.jsonl'));
    expect(Object.values(empty).every((rows) => rows.length === 0)).toBe(true);
  });
});

describe('query text', () => {
  it('is the same for Athena and DuckDB but for the table reference', () => {
    for (const query of Object.values(NAMED_QUERIES)) {
      const athena = renderQuery(query, '"kitebridge_analytics"."records"');
      expect(athena.replaceAll('"kitebridge_analytics"."records"', 'records')).toBe(
        renderQuery(query, 'records'),
      );
      expect(athena).toMatch(/WHERE dt >= date_format\(current_timestamp - INTERVAL '\d+' DAY, '%Y-%m-%d'\)/);
      expect(athena).toContain('PARTITION BY dedupe_key');
    }
  });
});
