/**
 * Reads the fields alerts need out of Buildkite payloads. Payloads are untrusted JSON: every
 * reader is defensive and returns `undefined` when a required field is missing.
 */
import type { AgentRef, Alert, BuildRef, ClusterTokenRef, FailedJob } from './model';

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Parses both timestamp forms Buildkite uses: ISO-8601 and `2018-07-01 20:14:38 UTC`. */
export function parseTimestamp(value: unknown): number | undefined {
  const text = str(value);
  if (!text) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/.test(text)
    ? `${text.slice(0, 10)}T${text.slice(11, 19)}Z`
    : text;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The build (with its pipeline) of a build or job event; undefined when the payload lacks one. */
export function parseBuild(detail: Json): BuildRef | undefined {
  const build = obj(detail.build);
  const pipeline = obj(detail.pipeline);
  const id = str(build?.id);
  const number = num(build?.number);
  if (!build || !id || number === undefined) return undefined;
  const slug = str(pipeline?.slug) ?? 'unknown-pipeline';
  const author = obj(build.author);
  const creator = obj(build.creator);
  const finishedAt = parseTimestamp(build.finished_at);
  const cancelReason = str(build.cancel_reason);
  const authorName = str(author?.name) ?? str(author?.username) ?? str(creator?.name);
  return {
    id,
    number,
    url: str(build.web_url) ?? '',
    state: str(build.state) ?? 'unknown',
    branch: str(build.branch) ?? '',
    pipelineSlug: slug,
    pipelineName: str(pipeline?.name) ?? slug,
    pipelineUrl: str(pipeline?.web_url) ?? '',
    commit: str(build.commit) ?? '',
    subject: (str(build.message) ?? '').split('\n')[0]?.trim() ?? '',
    ...(authorName ? { author: authorName } : {}),
    ...(cancelReason ? { cancelReason } : {}),
    ...(finishedAt !== undefined ? { finishedAt } : {}),
  };
}

/** Job states that fail a build (soft failures do not). */
const FAILED_JOB_STATES = new Set(['failed', 'timed_out']);

/** The job of a `job.finished` event if it failed the build (not soft-failed); else undefined. */
export function parseFailedJob(detail: Json): FailedJob | undefined {
  const job = obj(detail.job);
  const id = str(job?.id);
  if (!job || !id) return undefined;
  if (job.soft_failed === true || !FAILED_JOB_STATES.has(str(job.state) ?? '')) return undefined;
  const finishedAt = parseTimestamp(job.finished_at);
  return {
    id,
    name: str(job.name) ?? str(job.step_key) ?? str(job.command)?.split('\n')[0] ?? 'job',
    exitStatus: num(job.exit_status) ?? null,
    url: str(job.web_url) ?? '',
    ...(finishedAt !== undefined ? { finishedAt } : {}),
  };
}

function queueOf(metaData: unknown): string | undefined {
  if (!Array.isArray(metaData)) return undefined;
  const tag = metaData.find((t): t is string => typeof t === 'string' && t.startsWith('queue='));
  return tag?.slice('queue='.length);
}

function parseAgent(value: unknown): AgentRef | undefined {
  const agent = obj(value);
  const name = str(agent?.name) ?? str(agent?.hostname);
  if (!agent || !name) return undefined;
  const fields: Record<string, string | undefined> = {
    url: str(agent.web_url),
    hostname: str(agent.hostname),
    ipAddress: str(agent.ip_address),
    version: str(agent.version),
    queue: queueOf(agent.meta_data),
    lostAt: str(agent.lost_at),
  };
  return {
    name,
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
  } as AgentRef;
}

function parseToken(value: unknown): ClusterTokenRef | undefined {
  const token = obj(value);
  if (!token) return undefined;
  const fields = {
    description: str(token.description),
    allowedIps: str(token.allowed_ip_addresses),
    url: str(token.url),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as ClusterTokenRef;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/**
 * The alert for an event that needs no state (agents, tokens, Test Engine, packages);
 * undefined for any other event or a payload missing what the alert needs.
 */
export function statelessAlert(detailType: string, detail: Json): Alert | undefined {
  switch (detailType) {
    case 'agent.lost': {
      const agent = parseAgent(detail.agent);
      return agent && { kind: 'agent.lost', agent };
    }
    case 'agent.blocked': {
      const agent = parseAgent(detail.agent);
      const blockedIp = str(detail.blocked_ip) ?? str(obj(detail.agent)?.ip_address);
      const token = parseToken(detail.cluster_token);
      if (!agent || !blockedIp) return undefined;
      return { kind: 'agent.blocked', agent, blockedIp, ...optional('token', token) };
    }
    case 'cluster_token.registration_blocked': {
      const blockedIp = str(detail.blocked_ip);
      const token = parseToken(detail.cluster_token);
      if (!blockedIp) return undefined;
      return { kind: 'cluster_token.registration_blocked', blockedIp, ...optional('token', token) };
    }
    case 'workflow.alarm':
    case 'workflow.recover': {
      const subject = obj(detail.subject);
      const event = obj(detail.workflow_event);
      const testName = str(subject?.test_full_name) ?? str(subject?.test_id);
      if (!testName) return undefined;
      return {
        kind: detailType,
        testName,
        ...optional('testUrl', str(subject?.test_url)),
        ...optional('testLocation', str(subject?.test_location)),
        ...optional('workflowUrl', str(detail.workflow_url)),
        ...optional('monitor', str(event?.type)),
        ...optional('score', num(event?.score)),
        ...optional(
          'threshold',
          detailType === 'workflow.alarm'
            ? num(event?.score_threshold_high)
            : num(event?.score_threshold_low),
        ),
        ...optional('branch', str(event?.branch_filter)),
      };
    }
    case 'package.created': {
      const pkg = obj(detail.package);
      const name = str(pkg?.name);
      if (!name) return undefined;
      const registry = obj(pkg?.registry);
      return {
        kind: 'package.created',
        name,
        ...optional('url', str(pkg?.web_url)),
        ...optional('registry', str(registry?.slug)),
        ...optional('registryUrl', str(registry?.web_url)),
      };
    }
    default:
      return undefined;
  }
}
