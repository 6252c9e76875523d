import type { AnalyticsRecord } from '../../../lambda/analytics/record';
import { analyticsCharts, quantile } from '../../../local/console/analytics';

type Rec = Partial<AnalyticsRecord>;
let n = 0;
const rec = (fields: Rec): Rec => ({ dedupe_key: `k${n++}`, ...fields });
const chart = (records: Rec[], id: string) => analyticsCharts(records).find((c) => c.id === id)!;

describe('analyticsCharts', () => {
  it('interpolates quantiles as DuckDB quantile_cont does', () => {
    expect(quantile([10, 20, 30, 40], 0.5)).toBe(25);
    expect(quantile([10, 20, 30, 40], 0.95)).toBeCloseTo(38.5);
    expect(quantile([7], 0.95)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('gives build time p50 and p95 per pipeline over finished builds, counting a delivery once', () => {
    const records = [
      rec({ event: 'build.finished', pipeline: 'api', build_duration_s: 100 }),
      rec({ event: 'build.finished', pipeline: 'api', build_duration_s: 300 }),
      rec({ event: 'build.finished', pipeline: 'web', build_duration_s: 50 }),
      rec({ event: 'build.started', pipeline: 'web', build_duration_s: 999 }),
    ];
    const bars = chart([...records, { ...records[0] }], 'build-time-p50-p95-per-pipeline-7d').bars;
    expect(bars).toEqual([
      { label: 'api', value: 200, high: 290, note: '2 build(s)' },
      { label: 'web', value: 50, high: 50, note: '1 build(s)' },
    ]);
  });

  it('gives the failure rate per pipeline and branch, leaving out blocked and canceled builds', () => {
    const finished = (state: string, blocked = false) =>
      rec({
        event: 'build.finished',
        pipeline: 'api',
        branch: 'main',
        build_state: state,
        build_blocked: blocked,
      });
    const bars = chart(
      [
        finished('failed'),
        finished('passed'),
        finished('passed'),
        finished('failed', true),
        finished('canceled'),
      ],
      'failure-rate-per-pipeline-branch-30d',
    ).bars;
    expect(bars).toEqual([{ label: 'api · main', value: 33.33, note: '1/3 failed' }]);
  });

  it('gives queue wait p95, flaky jobs and agents lost', () => {
    const charts = analyticsCharts([
      rec({ event: 'job.started', queue: 'linux', queue_wait_s: 10 }),
      rec({ event: 'job.started', queue: 'linux', queue_wait_s: 20 }),
      rec({
        event: 'job.finished',
        pipeline: 'api',
        build_id: 'b1',
        job_step_key: 'unit',
        job_state: 'failed',
        occurred_at: '2026-12-01T10:00:00Z',
      }),
      rec({
        event: 'job.finished',
        pipeline: 'api',
        build_id: 'b1',
        job_step_key: 'unit',
        job_state: 'passed',
        occurred_at: '2026-12-01T10:05:00Z',
      }),
      rec({
        event: 'job.finished',
        pipeline: 'api',
        build_id: 'b2',
        job_step_key: 'lint',
        job_state: 'passed',
        occurred_at: '2026-12-01T10:00:00Z',
      }),
      rec({ event: 'agent.lost', queue: 'linux', agent_id: 'a1', occurred_at: '2026-12-01T10:00:00Z' }),
      rec({ event: 'agent.lost', queue: 'linux', agent_id: 'a1', occurred_at: '2026-12-01T11:00:00Z' }),
    ]);
    expect(charts.find((c) => c.id === 'queue-wait-p95-per-queue-hour-7d')?.bars).toEqual([
      { label: 'linux', value: 19.5, note: '2 job(s)' },
    ]);
    expect(charts.find((c) => c.id === 'flaky-jobs-30d')?.bars).toEqual([{ label: 'api · unit', value: 1 }]);
    expect(charts.find((c) => c.id === 'agents-lost-per-day-30d')?.bars).toEqual([
      { label: '2026-12-01 · linux', value: 1 },
    ]);
  });

  it('titles each chart after its named query', () => {
    expect(analyticsCharts([]).map((c) => c.title)).toEqual([
      'Build time per pipeline',
      'Failure rate per pipeline and branch',
      'Queue wait p95 per queue per hour',
      'Flaky jobs',
      'Agents lost per day',
    ]);
  });
});
