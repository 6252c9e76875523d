/**
 * The charts of `npm run report`, computed in memory from the local analytics records: the same
 * five questions (lambda/analytics/queries.ts) without DuckDB, over every record kept locally.
 * Deliveries of one event are counted once (by dedupe key), as the report's queries do.
 */
import type { AnalyticsRecord } from '../../lambda/analytics/record';
import { NAMED_QUERIES } from '../../lambda/analytics/queries';

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** A second value drawn on the same bar (p95 over p50). */
  readonly high?: number;
  readonly note?: string;
}

export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
}

type Rec = Partial<AnalyticsRecord>;

/** Nearest-rank-free linear interpolation, as DuckDB's quantile_cont (the local report's engine). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (at - low);
}

function group<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** The report's charts from the records (any order; duplicates counted once). */
export function analyticsCharts(records: readonly Rec[]): Chart[] {
  const seen = new Set<string>();
  const deduped = records.filter((r) => {
    const key = r.dedupe_key ?? r.event_id ?? JSON.stringify(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });

  const finished = deduped.filter((r) => r.event === 'build.finished');
  const buildTime = [
    ...group(
      finished.filter((r) => typeof r.build_duration_s === 'number'),
      (r) => r.pipeline ?? '(none)',
    ),
  ]
    .map(([pipeline, rs]): Bar => {
      const durations = rs.map((r) => r.build_duration_s as number);
      return {
        label: pipeline,
        value: round(quantile(durations, 0.5)),
        high: round(quantile(durations, 0.95)),
        note: `${rs.length} build(s)`,
      };
    })
    .sort((a, b) => (b.high ?? 0) - (a.high ?? 0) || a.label.localeCompare(b.label));

  const failureRate = [
    ...group(
      finished.filter((r) => (r.build_state === 'passed' || r.build_state === 'failed') && !r.build_blocked),
      (r) => `${r.pipeline ?? '(none)'} · ${r.branch ?? '(none)'}`,
    ),
  ]
    .map(([label, rs]): Bar => {
      const failed = rs.filter((r) => r.build_state === 'failed').length;
      return { label, value: round((100 * failed) / rs.length), note: `${failed}/${rs.length} failed` };
    })
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));

  const started = deduped.filter((r) => r.event === 'job.started' && typeof r.queue_wait_s === 'number');
  const queueWait = [...group(started, (r) => r.queue ?? '(none)')]
    .map(([queue, rs]): Bar => ({
      label: queue,
      value: round(
        quantile(
          rs.map((r) => r.queue_wait_s as number),
          0.95,
        ),
      ),
      note: `${rs.length} job(s)`,
    }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));

  const attempts = group(
    deduped.filter((r) => r.event === 'job.finished'),
    (r) =>
      `${r.pipeline ?? ''}\u0000${r.build_id ?? ''}\u0000${r.job_step_key ?? r.job_name ?? ''}\u0000${r.job_parallel_index ?? -1}`,
  );
  const flakyBuilds = new Map<string, Set<string>>();
  for (const [key, rs] of attempts) {
    const failedAt = rs
      .filter((r) => r.job_state === 'failed' || r.job_state === 'timed_out')
      .map((r) => r.occurred_at ?? '')
      .sort()[0];
    const passedAt = rs
      .filter((r) => r.job_state === 'passed')
      .map((r) => r.occurred_at ?? '')
      .sort()
      .at(-1);
    if (failedAt === undefined || passedAt === undefined || !(failedAt < passedAt)) continue;
    const [pipeline, build, job] = key.split('\u0000') as [string, string, string];
    const label = `${pipeline} · ${job}`;
    flakyBuilds.set(label, (flakyBuilds.get(label) ?? new Set()).add(build));
  }
  const flaky = [...flakyBuilds]
    .map(([label, builds]): Bar => ({ label, value: builds.size }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));

  const lost = [
    ...group(
      deduped.filter((r) => r.event === 'agent.lost'),
      (r) => `${(r.occurred_at ?? '').slice(0, 10)} · ${r.queue ?? '(none)'}`,
    ),
  ]
    .map(([label, rs]): Bar => ({ label, value: new Set(rs.map((r) => r.agent_id ?? '')).size }))
    .sort((a, b) => a.label.localeCompare(b.label));

  const chart = (query: keyof typeof NAMED_QUERIES, unit: string, bars: readonly Bar[]): Chart => ({
    id: NAMED_QUERIES[query].id,
    title: NAMED_QUERIES[query].title.replace(/ \(last \d+ days\)$/, ''),
    description: NAMED_QUERIES[query].description,
    unit,
    bars,
  });
  return [
    chart('buildTime', 's (p50, p95)', buildTime),
    chart('failureRate', '% failed', failureRate),
    chart('queueWait', 's (p95)', queueWait),
    chart('flakyJobs', 'builds', flaky),
    chart('agentsLost', 'agents', lost),
  ];
}
