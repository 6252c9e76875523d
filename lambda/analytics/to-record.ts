import type { EventEnvelope } from '../shared/contract';
import { RECORD_FAMILIES, RECORD_SCHEMA_VERSION, type AnalyticsRecord, type RecordFamily } from './record';
import { normaliseTime, secondsBetween } from './timestamps';

type Obj = Record<string, unknown>;

/** Strings are capped so a record stays far below Firehose's 1,000 KiB record limit. */
const MAX_STRING_LENGTH = 1024;

function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function str(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value.slice(0, MAX_STRING_LENGTH);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function int(value: unknown): number | null {
  const n = num(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

function bool(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/** The family partition of an event name: its prefix when known, else `other`. */
export function familyOf(event: string): RecordFamily {
  const prefix = event.split('.')[0] ?? '';
  return (RECORD_FAMILIES as readonly string[]).includes(prefix) && prefix !== 'other'
    ? (prefix as RecordFamily)
    : 'other';
}

/** The `queue=<name>` tag of a list of agent rules / meta-data; `default` when the list names none. */
export function queueOf(tags: unknown): string {
  if (Array.isArray(tags)) {
    for (const tag of tags) {
      if (typeof tag === 'string' && tag.startsWith('queue=') && tag.length > 6) {
        return tag.slice(6, 6 + MAX_STRING_LENGTH);
      }
    }
  }
  return 'default';
}

const ORG_IN_URL = /\/organizations\/([^/?#]+)/;

function orgOf(detail: Obj, parts: (Obj | undefined)[]): string | null {
  const direct = str(obj(detail.organization)?.slug) ?? str(obj(obj(detail.package)?.organization)?.slug);
  if (direct) return direct;
  const urls = [...parts.flatMap((p) => [p?.url, p?.build_url, p?.cluster_url]), detail.workflow_url];
  for (const url of urls) {
    const match = typeof url === 'string' ? ORG_IN_URL.exec(url) : null;
    if (match?.[1]) return match[1];
  }
  return null;
}

/** For each event, the fields (of its subject) holding when it happened, first present wins. */
const OCCURRED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'build.scheduled': ['scheduled_at', 'created_at'],
  'build.running': ['started_at'],
  'build.failing': ['failing_at'],
  'build.finished': ['finished_at'],
  'build.skipped': ['finished_at', 'created_at'],
  'job.scheduled': ['scheduled_at', 'created_at'],
  'job.activated': ['runnable_at', 'scheduled_at'],
  'job.started': ['started_at'],
  'job.finished': ['finished_at'],
  'job.promised_exit_status': ['finished_at', 'started_at'],
  'agent.connected': ['connected_at'],
  'agent.lost': ['lost_at'],
  'agent.disconnected': ['disconnected_at'],
  'agent.stopped': ['stopped_at'],
  'package.created': ['created_at'],
};

/**
 * The monitor part of a Test Engine delivery: `workflow_event` of a transition-count alarm or
 * recover, or the body itself for the other monitors (which send `type` and no `event`).
 */
function monitorOf(detail: Obj): Obj {
  return obj(detail.workflow_event) ?? detail;
}

/** A Test Engine test field: from `subject` (alarm and recover), else the body's top level. */
function testField(detail: Obj, field: string): string | null {
  return str(obj(detail.subject)?.[field]) ?? str(detail[field]);
}

function occurredAt(event: string, detail: Obj, subject: Obj | undefined): string | null {
  const family = familyOf(event);
  if (family === 'workflow') return normaliseTime(monitorOf(detail).timestamp);
  for (const field of OCCURRED_FIELDS[event] ?? []) {
    const time = normaliseTime(subject?.[field]);
    if (time) return time;
  }
  return null;
}

function subjectOf(family: RecordFamily, detail: Obj): Obj | undefined {
  switch (family) {
    case 'build':
      return obj(detail.build);
    case 'job':
      return obj(detail.job);
    case 'agent':
      return obj(detail.agent);
    case 'package':
      return obj(detail.package);
    case 'cluster_token':
      return obj(detail.cluster_token);
    default:
      return undefined;
  }
}

function subjectIdentity(family: RecordFamily, detail: Obj): { id: string | null; name: string | null } {
  switch (family) {
    case 'package': {
      const p = obj(detail.package);
      return { id: str(p?.id), name: str(p?.name) };
    }
    case 'cluster_token': {
      const t = obj(detail.cluster_token);
      return { id: str(t?.id), name: str(t?.description) };
    }
    case 'workflow':
      return { id: str(detail.workflow_id), name: testField(detail, 'test_full_name') };
    case 'ping':
      return { id: str(obj(detail.service)?.id), name: str(obj(detail.organization)?.name) };
    default:
      return { id: null, name: null };
  }
}

/**
 * The event name of a record: the envelope's detail-type, which the contract makes the Buildkite
 * event name (`workflow.<type>` for Test Engine monitors that send no `event`); the body's `event`
 * only if the detail-type is empty.
 */
export function eventNameOf(envelope: EventEnvelope): string {
  return envelope['detail-type'] || (str(obj(envelope.detail)?.event) ?? 'unknown');
}

/**
 * Per family, the objects a record needs, each with its `id`: without them the record cannot be
 * joined to the rest of its build, job or agent (documented examples elide whole objects).
 */
const REQUIRED_OBJECTS: Partial<Record<RecordFamily, readonly string[]>> = {
  build: ['build'],
  job: ['job', 'build'],
  agent: ['agent'],
  package: ['package'],
  cluster_token: ['cluster_token'],
};

/**
 * Why a record of this event is incomplete, as a `Skipped` reason (`missing-<object>` or
 * `missing-<object>-id`, the first that applies), or undefined when it has what its family needs.
 */
export function incompleteReason(envelope: EventEnvelope): string | undefined {
  const detail: Obj = obj(envelope.detail) ?? {};
  for (const key of REQUIRED_OBJECTS[familyOf(eventNameOf(envelope))] ?? []) {
    const value = obj(detail[key]);
    if (!value) return `missing-${key}`;
    if (str(value.id) === null) return `missing-${key}-id`;
  }
  return undefined;
}

/**
 * Maps any kitebridge event (every Buildkite event kind, known or not, Test Engine monitors without
 * `event` included) to one flat {@link AnalyticsRecord}. Pure and total: fields the event does not
 * carry are null, both of Buildkite's timestamp formats are read, and nothing here throws on odd
 * input. An oversized delivery is read whole before it gets here (see `AnalyticsApp`).
 */
export function toRecord(envelope: EventEnvelope): AnalyticsRecord {
  const detail: Obj = obj(envelope.detail) ?? {};
  const event = eventNameOf(envelope);
  const family = familyOf(event);
  const delivery = obj(detail.delivery);
  const build = obj(detail.build);
  const job = obj(detail.job);
  const pipeline = obj(detail.pipeline);
  const agent = family === 'agent' ? obj(detail.agent) : obj(job?.agent);
  const receivedAt =
    normaliseTime(delivery?.receivedAt) ?? normaliseTime(envelope.time) ?? new Date(0).toISOString();
  const subject = subjectOf(family, detail);
  const identity = subjectIdentity(family, detail);
  const isJob = family === 'job' && job !== undefined;
  const monitor = family === 'workflow' ? monitorOf(detail) : undefined;

  return {
    schema_version: RECORD_SCHEMA_VERSION,
    dedupe_key: str(delivery?.dedupeKey) ?? `event:${envelope.id}`,
    event_id: envelope.id,
    event,
    family,
    received_at: receivedAt,
    occurred_at: occurredAt(event, detail, subject) ?? receivedAt,
    org: orgOf(detail, [pipeline, build, job, obj(detail.agent), obj(detail.cluster_token)]),
    pipeline: str(pipeline?.slug),
    branch: str(build?.branch) ?? str(monitor?.execution_branch),
    commit: str(build?.commit) ?? str(monitor?.execution_commit_sha),
    build_source: str(build?.source),
    build_id: str(build?.id),
    build_number: int(build?.number),
    build_state: str(build?.state),
    build_blocked: bool(build?.blocked),
    build_started_at: normaliseTime(build?.started_at),
    build_finished_at: normaliseTime(build?.finished_at),
    build_duration_s: secondsBetween(build?.started_at, build?.finished_at),
    job_id: str(job?.id),
    job_name: str(job?.name) ?? str(job?.label),
    job_step_key: str(job?.step_key),
    job_state: str(job?.state),
    job_exit_status: int(job?.exit_status),
    job_soft_failed: bool(job?.soft_failed),
    job_parallel_index: int(job?.parallel_group_index),
    queue: isJob
      ? queueOf(job.agent_query_rules)
      : family === 'agent' && agent
        ? queueOf(agent.meta_data)
        : null,
    job_runnable_at: normaliseTime(job?.runnable_at),
    job_started_at: normaliseTime(job?.started_at),
    job_finished_at: normaliseTime(job?.finished_at),
    job_duration_s: secondsBetween(job?.started_at, job?.finished_at),
    queue_wait_s: secondsBetween(job?.runnable_at, job?.started_at),
    job_retried: bool(job?.retried),
    job_retries_count: int(job?.retries_count),
    job_retry_type: str(job?.retry_type),
    job_retried_in_job_id: str(job?.retried_in_job_id),
    agent_id: str(agent?.id),
    agent_name: str(agent?.name),
    subject_id: identity.id,
    subject_name: identity.name,
    oversized: obj(delivery?.oversized) !== undefined,
    monitor_type: monitor ? str(monitor.type) : null,
    test_id: family === 'workflow' ? testField(detail, 'test_id') : null,
    test_url: family === 'workflow' ? testField(detail, 'test_url') : null,
  };
}
