/**
 * The analytics record: one flat row per kitebridge event, the same in S3 (Parquet, through the
 * Glue table) and in the local `records.jsonl`. Bump {@link RECORD_SCHEMA_VERSION} on any change
 * that is not a new nullable column at the end, and describe it in docs/analytics.md.
 */

/** Version of the record layout written in every record's `schema_version`. */
export const RECORD_SCHEMA_VERSION = 1;

/**
 * Partition values of the `family` column: the detail-type prefix of every Buildkite event kitebridge
 * knows of, and `other` for names it does not (the Glue table projects exactly these values).
 */
export const RECORD_FAMILIES = [
  'build',
  'job',
  'agent',
  'ping',
  'cluster_token',
  'package',
  'workflow',
  'other',
] as const;

export type RecordFamily = (typeof RECORD_FAMILIES)[number];

/** Column types, named as Glue / Athena spell them. */
export type ColumnType = 'string' | 'int' | 'bigint' | 'double' | 'boolean' | 'timestamp';

/** One column of the record: its name, type, and what it holds (the docs table is built from this). */
export interface RecordColumn {
  readonly name: keyof AnalyticsRecord;
  readonly type: ColumnType;
  readonly doc: string;
}

/**
 * One flat analytics record. Every field but the first six and `oversized` may be null: a field is null when the
 * event kind does not carry it or the delivery left it out. Timestamps are ISO-8601 UTC strings with
 * milliseconds (`2026-06-03T04:15:41.618Z`), whatever format Buildkite sent.
 */
export interface AnalyticsRecord {
  readonly schema_version: number;
  readonly dedupe_key: string;
  readonly event_id: string;
  readonly event: string;
  readonly family: RecordFamily;
  readonly received_at: string;
  readonly occurred_at: string;
  readonly org: string | null;
  readonly pipeline: string | null;
  readonly branch: string | null;
  readonly commit: string | null;
  readonly build_source: string | null;
  readonly build_id: string | null;
  readonly build_number: number | null;
  readonly build_state: string | null;
  readonly build_blocked: boolean | null;
  readonly build_started_at: string | null;
  readonly build_finished_at: string | null;
  readonly build_duration_s: number | null;
  readonly job_id: string | null;
  readonly job_name: string | null;
  readonly job_step_key: string | null;
  readonly job_state: string | null;
  readonly job_exit_status: number | null;
  readonly job_soft_failed: boolean | null;
  readonly job_parallel_index: number | null;
  readonly queue: string | null;
  readonly job_runnable_at: string | null;
  readonly job_started_at: string | null;
  readonly job_finished_at: string | null;
  readonly job_duration_s: number | null;
  readonly queue_wait_s: number | null;
  readonly job_retried: boolean | null;
  readonly job_retries_count: number | null;
  readonly job_retry_type: string | null;
  readonly job_retried_in_job_id: string | null;
  readonly agent_id: string | null;
  readonly agent_name: string | null;
  readonly subject_id: string | null;
  readonly subject_name: string | null;
  readonly oversized: boolean;
  readonly monitor_type: string | null;
  readonly test_id: string | null;
  readonly test_url: string | null;
}

/**
 * Every column in order, with its type and meaning. `family` is here too, but in the Glue table it
 * is a partition key (with `dt`, the UTC date of `received_at`), not a data column.
 */
export const RECORD_COLUMNS: readonly RecordColumn[] = [
  {
    name: 'schema_version',
    type: 'int',
    doc: `Record layout version, ${RECORD_SCHEMA_VERSION} for this one.`,
  },
  {
    name: 'dedupe_key',
    type: 'string',
    doc: 'Same value for the same delivery: `delivery.dedupeKey` (SHA-256 of the raw body, or build id and state for a build.finished; stable across Buildkite re-sends, reconciled copies, EventBridge and Lambda retries), else `event:<EventBridge id>`. Queries keep one row per key.',
  },
  { name: 'event_id', type: 'string', doc: 'EventBridge event id (differs between re-sends of one body).' },
  {
    name: 'event',
    type: 'string',
    doc: 'Buildkite event name, e.g. `build.finished`: the detail-type, so `workflow.<type>` (e.g. `workflow.passed_on_retry`) for Test Engine monitors that send no `event`.',
  },
  {
    name: 'family',
    type: 'string',
    doc: `Detail-type prefix: ${RECORD_FAMILIES.join(', ')}. A partition key in S3.`,
  },
  {
    name: 'received_at',
    type: 'timestamp',
    doc: 'When kitebridge received the delivery (`delivery.receivedAt`, else the event time).',
  },
  {
    name: 'occurred_at',
    type: 'timestamp',
    doc: "When the event happened by Buildkite's clock: the timestamp matching the event (`finished_at` for `build.finished`, `lost_at` for `agent.lost`, the monitor's `timestamp` for Test Engine, …), else `received_at`.",
  },
  { name: 'org', type: 'string', doc: 'Organization slug (from `organization.slug` or the API URLs).' },
  { name: 'pipeline', type: 'string', doc: 'Pipeline slug.' },
  {
    name: 'branch',
    type: 'string',
    doc: 'Build branch (Test Engine: the branch of the execution, `execution_branch`).',
  },
  {
    name: 'commit',
    type: 'string',
    doc: 'Build commit (Test Engine: the commit of the execution, `execution_commit_sha`).',
  },
  {
    name: 'build_source',
    type: 'string',
    doc: 'What created the build, as Buildkite says: `webhook`, `api`, `schedule`, `trigger_job`, `ui`, …',
  },
  { name: 'build_id', type: 'string', doc: 'Build UUID.' },
  { name: 'build_number', type: 'int', doc: 'Build number within the pipeline.' },
  {
    name: 'build_state',
    type: 'string',
    doc: 'Build state in the payload (`passed`, `failed`, `canceled`, …).',
  },
  { name: 'build_blocked', type: 'boolean', doc: 'True when the build stopped at a block step.' },
  { name: 'build_started_at', type: 'timestamp', doc: 'Build `started_at`.' },
  { name: 'build_finished_at', type: 'timestamp', doc: 'Build `finished_at`.' },
  {
    name: 'build_duration_s',
    type: 'double',
    doc: 'Build `finished_at` − `started_at`, in seconds; null until finished.',
  },
  { name: 'job_id', type: 'string', doc: 'Job UUID (job events).' },
  { name: 'job_name', type: 'string', doc: 'Job label.' },
  { name: 'job_step_key', type: 'string', doc: 'Step key, when the step has one.' },
  { name: 'job_state', type: 'string', doc: 'Job state (`scheduled`, `running`, `passed`, `failed`, …).' },
  { name: 'job_exit_status', type: 'int', doc: 'Exit status of the job command.' },
  { name: 'job_soft_failed', type: 'boolean', doc: 'True when a failure was allowed (soft fail).' },
  { name: 'job_parallel_index', type: 'int', doc: 'Index within a parallel group.' },
  {
    name: 'queue',
    type: 'string',
    doc: "Agent queue: `queue=` of the job's `agent_query_rules` or the agent's `meta_data`; `default` when a job or agent names none.",
  },
  { name: 'job_runnable_at', type: 'timestamp', doc: 'When the job became runnable.' },
  { name: 'job_started_at', type: 'timestamp', doc: 'When an agent started the job.' },
  { name: 'job_finished_at', type: 'timestamp', doc: 'When the job finished.' },
  { name: 'job_duration_s', type: 'double', doc: 'Job `finished_at` − `started_at`, in seconds.' },
  {
    name: 'queue_wait_s',
    type: 'double',
    doc: 'Job `started_at` − `runnable_at`, in seconds: time waiting for an agent.',
  },
  { name: 'job_retried', type: 'boolean', doc: 'True when this job was retried (a new job replaced it).' },
  { name: 'job_retries_count', type: 'int', doc: 'How many times the job has been retried.' },
  { name: 'job_retry_type', type: 'string', doc: '`automatic` or `manual`, for a job that is a retry.' },
  { name: 'job_retried_in_job_id', type: 'string', doc: 'The job that retried this one.' },
  { name: 'agent_id', type: 'string', doc: 'Agent UUID (agent events, and jobs that ran on an agent).' },
  { name: 'agent_name', type: 'string', doc: 'Agent name.' },
  {
    name: 'subject_id',
    type: 'string',
    doc: 'Id of the other subjects: package id, Test Engine workflow id, cluster token id, webhook service id (ping).',
  },
  {
    name: 'subject_name',
    type: 'string',
    doc: 'Their name: package name, test full name, cluster token description, organization name (ping).',
  },
  {
    name: 'oversized',
    type: 'boolean',
    doc: 'True when the body was too large for EventBridge and was stored in S3; the record is made from the stored body (from the pointer event alone, counted as `Skipped` `oversized-body-missing`, if that body is gone).',
  },
  {
    name: 'monitor_type',
    type: 'string',
    doc: "Test Engine monitor: `workflow_event.type` of an alarm or recover (`transition_count`, …), else the body's `type` (`passed_on_retry`, `probabilistic_flakiness`, …).",
  },
  {
    name: 'test_id',
    type: 'string',
    doc: 'Test Engine test id (`subject.test_id`, else a top-level `test_id`).',
  },
  {
    name: 'test_url',
    type: 'string',
    doc: 'Test Engine test URL (`subject.test_url`, else a top-level `test_url`).',
  },
];
