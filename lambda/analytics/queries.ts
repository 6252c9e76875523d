/**
 * The named queries, written once in Athena's SQL (Trino) and run unchanged on DuckDB locally and in
 * tests. The only text that differs is the table name; DuckDB gets two macros (see
 * {@link DUCKDB_PRELUDE}) so `approx_percentile` and `date_format` mean the same there. Differences
 * that remain are listed in docs/analytics.md ("Dialects").
 */
import { RECORD_COLUMNS, type ColumnType } from './record';

/** One named query: an id (Athena named-query name), a description, and its SQL with `{{table}}`. */
export interface NamedQuery {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly sql: string;
}

/**
 * The records of the last `days` days (by `dt`, so Athena reads only those partitions), one row per
 * `dedupe_key`: at-least-once delivery may write a record twice, and every query reads this CTE.
 */
function deduped(days: number): string {
  return `WITH deduped AS (
  SELECT * FROM (
    SELECT r.*, row_number() OVER (PARTITION BY dedupe_key ORDER BY received_at, event_id) AS copy_number
    FROM {{table}} r
    WHERE dt >= date_format(current_timestamp - INTERVAL '${days}' DAY, '%Y-%m-%d')
  ) AS numbered
  WHERE copy_number = 1
)`;
}

/** The five named queries, in report order. */
export const NAMED_QUERIES = {
  buildTime: {
    id: 'build-time-p50-p95-per-pipeline-7d',
    title: 'Build time per pipeline (last 7 days)',
    description:
      'p50 and p95 of build duration (finished − started, seconds) per pipeline over finished builds.',
    sql: `${deduped(7)}
SELECT pipeline,
  count(*) AS builds,
  approx_percentile(build_duration_s, 0.5) AS p50_s,
  approx_percentile(build_duration_s, 0.95) AS p95_s
FROM deduped
WHERE event = 'build.finished' AND build_duration_s IS NOT NULL
GROUP BY pipeline
ORDER BY p95_s DESC, pipeline`,
  },
  failureRate: {
    id: 'failure-rate-per-pipeline-branch-30d',
    title: 'Failure rate per pipeline and branch (last 30 days)',
    description:
      'Failed ÷ (passed + failed) finished builds per pipeline and branch; blocked and canceled builds are left out.',
    sql: `${deduped(30)}
SELECT pipeline, branch,
  count(*) AS builds,
  sum(CASE WHEN build_state = 'failed' THEN 1 ELSE 0 END) AS failed,
  CAST(sum(CASE WHEN build_state = 'failed' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS failure_rate
FROM deduped
WHERE event = 'build.finished' AND build_state IN ('passed', 'failed') AND NOT coalesce(build_blocked, false)
GROUP BY pipeline, branch
ORDER BY failure_rate DESC, builds DESC, pipeline, branch`,
  },
  queueWait: {
    id: 'queue-wait-p95-per-queue-hour-7d',
    title: 'Queue wait p95 per queue per hour (last 7 days)',
    description:
      'p95 of started − runnable (seconds) of the jobs that started in each hour, per agent queue.',
    sql: `${deduped(7)}
SELECT queue,
  date_trunc('hour', occurred_at) AS hour,
  count(*) AS jobs,
  approx_percentile(queue_wait_s, 0.95) AS p95_wait_s
FROM deduped
WHERE event = 'job.started' AND queue_wait_s IS NOT NULL
GROUP BY queue, date_trunc('hour', occurred_at)
ORDER BY hour, queue`,
  },
  flakyJobs: {
    id: 'flaky-jobs-30d',
    title: 'Flaky jobs (last 30 days)',
    description:
      'Jobs (step key, else label; per parallel shard) that failed and then passed on a retry in the same build.',
    sql: `${deduped(30)},
attempts AS (
  SELECT pipeline, build_id, coalesce(job_step_key, job_name) AS job, coalesce(job_parallel_index, -1) AS shard,
    min(CASE WHEN job_state IN ('failed', 'timed_out') THEN occurred_at END) AS first_failed,
    max(CASE WHEN job_state = 'passed' THEN occurred_at END) AS last_passed
  FROM deduped
  WHERE event = 'job.finished'
  GROUP BY pipeline, build_id, coalesce(job_step_key, job_name), coalesce(job_parallel_index, -1)
)
SELECT pipeline, job,
  count(DISTINCT build_id) AS flaky_builds,
  max(last_passed) AS last_seen
FROM attempts
WHERE first_failed < last_passed
GROUP BY pipeline, job
ORDER BY flaky_builds DESC, pipeline, job`,
  },
  agentsLost: {
    id: 'agents-lost-per-day-30d',
    title: 'Agents lost per day (last 30 days)',
    description: 'Distinct agents with an agent.lost event per day and queue.',
    sql: `${deduped(30)}
SELECT date_trunc('day', occurred_at) AS day, queue,
  count(DISTINCT agent_id) AS agents_lost
FROM deduped
WHERE event = 'agent.lost'
GROUP BY date_trunc('day', occurred_at), queue
ORDER BY day, queue`,
  },
} as const satisfies Record<string, NamedQuery>;

/** Key of a named query. */
export type QueryName = keyof typeof NAMED_QUERIES;

/** The query text for one engine: only the table reference changes. */
export function renderQuery(query: NamedQuery, table: string): string {
  return query.sql.replaceAll('{{table}}', table);
}

/**
 * Statements run on a DuckDB connection before the queries: UTC like Athena, and macros giving
 * DuckDB the two Athena functions the queries use. `quantile_cont` is exact (linear interpolation);
 * Athena's `approx_percentile` is an estimate (within about 1% of rank).
 */
export const DUCKDB_PRELUDE: readonly string[] = [
  "SET TimeZone = 'UTC'",
  'CREATE OR REPLACE MACRO approx_percentile(x, p) AS quantile_cont(x, p)',
  'CREATE OR REPLACE MACRO date_format(t, f) AS strftime(t, f)',
];

const DUCKDB_TYPES: Readonly<Record<ColumnType, string>> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

/** DuckDB's `read_json` columns argument for the record: `{name: 'TYPE', …}`. */
function duckdbColumns(): string {
  return `{${RECORD_COLUMNS.map((c) => `${c.name}: '${DUCKDB_TYPES[c.type]}'`).join(', ')}}`;
}

/**
 * DuckDB statements that create `table` as Athena sees it: the record columns plus `dt` (in S3 a
 * partition taken from `received_at`), read from a JSON-lines file (or empty when `file` is null).
 */
export function duckdbTableStatements(table: string, file: string | null): string[] {
  const columns = RECORD_COLUMNS.map((c) => `${c.name} ${DUCKDB_TYPES[c.type]}`).join(', ');
  const statements = [`CREATE OR REPLACE TABLE ${table}_raw (${columns})`];
  if (file !== null) {
    statements.push(
      `INSERT INTO ${table}_raw SELECT * FROM read_json('${file.replaceAll("'", "''")}', format = 'newline_delimited', columns = ${duckdbColumns()})`,
    );
  }
  statements.push(
    `CREATE OR REPLACE VIEW ${table} AS SELECT *, strftime(received_at, '%Y-%m-%d') AS dt FROM ${table}_raw`,
  );
  return statements;
}
