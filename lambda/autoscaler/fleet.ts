/**
 * Instance identity, pure: which instance runs which agent and whether it is busy, read from job
 * and agent events, merged last-writer-wins by event time so replays and out-of-order deliveries
 * converge on the same record.
 */
import { queueOfAgent, queueOfJob } from './queue';
import { isJsonObject } from '../shared/json-object';

/** What an agent is doing, as far as its events tell. */
export type AgentActivity = 'idle' | 'busy' | 'stopping' | 'disconnected' | 'lost' | 'stopped';

/** The EC2 meta-data tag the agent sets when started with `tags-from-ec2-meta-data`. */
const INSTANCE_ID_TAG = 'aws:instance-id=';
/** EC2 instance ids: `i-` and 8 or 17 hex digits. */
const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;

/**
 * Ranks break ties between events with the same timestamp (Buildkite's webhook times are whole
 * seconds): an agent connects before it works, works before it stops, and is lost last. The job
 * events of one second (job.finished and job.started share a second when a job runs for less than
 * one, or when the agent's next job starts in the second its last one finished) are not ordered by
 * rank but merged by job id, see {@link mergeMember}.
 */
const RANK: Readonly<Record<string, number>> = {
  'job.scheduled': 0,
  'agent.connected': 1,
  'job.finished': 2,
  'job.started': 3,
  'agent.stopping': 4,
  'agent.disconnected': 5,
  'agent.stopped': 6,
  'agent.lost': 7,
};

/** Orders two observations of the same thing: higher wins, equal is a replay. */
export const versionOf = (at: number, detailType: string): number => at * 10 + (RANK[detailType] ?? 0);

const FINISHED_RANK = RANK['job.finished'] as number;
const STARTED_RANK = RANK['job.started'] as number;

/**
 * The lowest version of the job events (job.finished, job.started) of the second `version` is in,
 * when `version` is one of them; undefined for any other event.
 */
export function jobSecondOf(version: number): number | undefined {
  const rank = ((version % 10) + 10) % 10;
  return rank === FINISHED_RANK || rank === STARTED_RANK ? version - rank + FINISHED_RANK : undefined;
}

/** What an agent event says about the agent, and what the fleet record keeps of it. */
interface AgentFacts {
  readonly queue: string;
  readonly agentId: string;
  /** The EC2 instance the agent runs on; agents without one are counted, never acted on. */
  readonly instanceId?: string;
  readonly activity: AgentActivity;
  /** The job it started (busy only). */
  readonly jobId?: string;
  /**
   * The jobs seen finishing in the second of the record's version (job events only, sorted): a
   * job.started of one of them in that second is a job already over, not the agent's next job.
   */
  readonly finishedJobIds?: readonly string[];
  /**
   * Several jobs seen starting and not finishing in that second (sorted; `jobId` is the last of
   * them). Only when more than one: one agent runs one job at a time, so the others' job.finished
   * is still to come. Absent otherwise.
   */
  readonly startedJobIds?: readonly string[];
  /** The agent's `key=value` tags, for matching jobs' agent query rules. */
  readonly tags: readonly string[];
}

/** One agent event (or the agent inside a job event) reduced to what the fleet record keeps. */
export interface AgentObservation extends AgentFacts {
  readonly kind: 'agent';
  /** Epoch ms of the event (the payload's own timestamp when it has one). */
  readonly at: number;
  readonly detailType: string;
  readonly version: number;
}

/** A job event reduced to what the wait metrics and stuck-job check keep. */
export interface JobObservation {
  readonly kind: 'job';
  readonly queue: string;
  readonly jobId: string;
  readonly state: 'waiting' | 'started' | 'finished';
  /** Epoch ms the job became ready for an agent (`runnable_at`, else `scheduled_at`), when the payload says. */
  readonly readyAt?: number;
  /** Epoch ms it started (job.started). */
  readonly startedAt?: number;
  /** The job's agent query rules other than `queue=` (what an agent must match). */
  readonly rules: readonly string[];
  /** The job's build (`pipeline.slug`, `build.number` of the event), when the payload says. */
  readonly pipelineSlug?: string;
  readonly buildNumber?: number;
  readonly at: number;
  readonly detailType: string;
  readonly version: number;
}

/** What the fleet keeps per agent (with its instance, when the agent names one). */
export interface FleetMember extends AgentFacts {
  /** Epoch ms it entered `activity` (for idle: when it finished its last job or connected). */
  readonly since: number;
  readonly version: number;
}

/** What the fleet keeps per job that has not started yet (and, briefly, after it started). */
export interface TrackedJob {
  readonly queue: string;
  readonly jobId: string;
  readonly state: 'waiting' | 'started' | 'finished';
  readonly readyAt: number;
  readonly rules: readonly string[];
  /**
   * The job's build, so Buildkite can be asked about the job (records written before these were
   * kept have neither).
   */
  readonly pipelineSlug?: string;
  readonly buildNumber?: number;
  readonly version: number;
  /** Epoch ms a `job.stuck` event was published for it, if one was. */
  readonly stuckReportedAt?: number;
}

/**
 * Buildkite timestamps: `2016-07-08 07:25:23 UTC` in webhook bodies, ISO-8601 in the REST API.
 * Undefined when absent or unreadable.
 */
export function buildkiteTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const iso = value.replace(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC$/, '$1T$2Z');
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The agent's tags as `key=value` strings (Buildkite sends a list; an object form is read too). */
function tagsOf(agent: Record<string, unknown>): string[] {
  const meta = agent.meta_data;
  if (Array.isArray(meta)) return meta.filter((t): t is string => typeof t === 'string');
  if (isJsonObject(meta))
    return Object.entries(meta)
      .filter(([, v]) => typeof v === 'string')
      .map(([k, v]) => `${k}=${v as string}`);
  return [];
}

/** The instance id from the agent's `aws:instance-id=…` tag, if it is a well-formed one. */
export function instanceIdOf(tags: readonly string[]): string | undefined {
  for (const tag of tags) {
    if (!tag.startsWith(INSTANCE_ID_TAG)) continue;
    const id = tag.slice(INSTANCE_ID_TAG.length).trim();
    if (INSTANCE_ID.test(id)) return id;
  }
  return undefined;
}

/**
 * The agent's own timestamp of each agent event. Job events are ordered by the job's times, so
 * agent events must be too: an agent that connects and takes a job within the webhook's delivery
 * delay would otherwise have its (later received) agent.connected beat its job.started.
 */
const TIME_OF_AGENT_EVENT: Readonly<Record<string, string>> = {
  'agent.connected': 'connected_at',
  'agent.disconnected': 'disconnected_at',
  'agent.lost': 'lost_at',
  'agent.stopped': 'stopped_at',
};

const ACTIVITY_OF_AGENT_EVENT: Readonly<Record<string, AgentActivity>> = {
  'agent.connected': 'idle',
  'agent.stopping': 'stopping',
  'agent.disconnected': 'disconnected',
  'agent.lost': 'lost',
  'agent.stopped': 'stopped',
};

/** A job's agent query rules other than its queue. */
const rulesOf = (job: Record<string, unknown>): string[] =>
  Array.isArray(job.agent_query_rules)
    ? job.agent_query_rules.filter((r): r is string => typeof r === 'string' && !r.startsWith('queue='))
    : [];

/**
 * The build of a job event (`pipeline.slug` and `build.number` beside `job` in the body): both or
 * neither, as asking Buildkite about the job needs both.
 */
function buildOf(detail: Record<string, unknown>): { pipelineSlug?: string; buildNumber?: number } {
  const slug = isJsonObject(detail.pipeline) ? detail.pipeline.slug : undefined;
  const raw = isJsonObject(detail.build) ? detail.build.number : undefined;
  const number = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof slug !== 'string' || slug === '') return {};
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) return {};
  return { pipelineSlug: slug, buildNumber: number };
}

/**
 * What a Buildkite job or agent event says about the fleet: the agent (agent events, and the
 * `job.agent` of job.started / job.finished) and the job (job.scheduled / started / finished).
 * `receivedAt` (epoch ms, the envelope's time) stands in for payloads without a timestamp.
 */
export function observe(
  detailType: string,
  detail: Record<string, unknown>,
  receivedAt: number,
): { agent?: AgentObservation; job?: JobObservation } {
  const out: { agent?: AgentObservation; job?: JobObservation } = {};
  if (detailType.startsWith('agent.')) {
    const activity = ACTIVITY_OF_AGENT_EVENT[detailType];
    const agent = detail.agent;
    if (activity && isJsonObject(agent) && typeof agent.id === 'string') {
      const tags = tagsOf(agent);
      const instanceId = instanceIdOf(tags);
      const field = TIME_OF_AGENT_EVENT[detailType];
      const at = (field ? buildkiteTime(agent[field]) : undefined) ?? receivedAt;
      out.agent = {
        kind: 'agent',
        queue: queueOfAgent(agent) as string,
        agentId: agent.id,
        ...(instanceId ? { instanceId } : {}),
        activity,
        tags,
        at,
        detailType,
        version: versionOf(at, detailType),
      };
    }
    return out;
  }
  if (!detailType.startsWith('job.')) return out;
  const job = detail.job;
  if (!isJsonObject(job) || typeof job.id !== 'string') return out;
  const queue = queueOfJob(job) as string;
  const readyAt = buildkiteTime(job.runnable_at) ?? buildkiteTime(job.scheduled_at);
  const startedAt = buildkiteTime(job.started_at);
  const finishedAt = buildkiteTime(job.finished_at);
  const state =
    detailType === 'job.scheduled'
      ? 'waiting'
      : detailType === 'job.started'
        ? 'started'
        : detailType === 'job.finished'
          ? 'finished'
          : undefined;
  if (state === undefined) return out;
  const at = (state === 'waiting' ? readyAt : state === 'started' ? startedAt : finishedAt) ?? receivedAt;
  const build = buildOf(detail);
  out.job = {
    kind: 'job',
    queue,
    jobId: job.id,
    state,
    ...(readyAt !== undefined ? { readyAt } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    rules: rulesOf(job),
    ...build,
    at,
    detailType,
    version: versionOf(at, detailType),
  };
  const agent = job.agent;
  if (state !== 'waiting' && isJsonObject(agent) && typeof agent.id === 'string') {
    const tags = tagsOf(agent);
    const instanceId = instanceIdOf(tags);
    out.agent = {
      kind: 'agent',
      // The job's queue is the agent's: it could only take the job by matching it.
      queue,
      agentId: agent.id,
      ...(instanceId ? { instanceId } : {}),
      activity: state === 'started' ? 'busy' : 'idle',
      ...(state === 'started' ? { jobId: job.id } : { finishedJobIds: [job.id] }),
      tags,
      at,
      detailType,
      version: versionOf(at, detailType),
    };
  }
  return out;
}

/**
 * The key a member is stored under: its agent. (Records written before were keyed by instance,
 * `instance#<id>`, when they had one; the stores read them as their agent's, see `latestPerAgent`.)
 */
export const memberKey = (o: { agentId: string }): string => `agent#${o.agentId}`;

/** The member record an observation writes (when it is not older than the stored one). */
export function memberFrom(o: AgentObservation): FleetMember {
  return {
    queue: o.queue,
    agentId: o.agentId,
    ...(o.instanceId ? { instanceId: o.instanceId } : {}),
    activity: o.activity,
    ...(o.jobId ? { jobId: o.jobId } : {}),
    ...(o.finishedJobIds ? { finishedJobIds: o.finishedJobIds } : {}),
    tags: o.tags,
    since: o.at,
    version: o.version,
  };
}

/** What {@link mergeMember} makes of an observation. */
export interface MemberMerge {
  /** The record to store; undefined when the stored one stays as it is. */
  readonly record?: FleetMember;
  /**
   * The stored record now says what the observation says (its activity and job): its effects
   * (protection) apply. False for an older observation, and for one of the same second that the
   * record absorbed without taking its side (a late job.started of a job that finished).
   */
  readonly applied: boolean;
}

const sortedUnion = (a: readonly string[], b: readonly string[]): string[] =>
  [...new Set([...a, ...b])].sort();
/** The jobs a record says were started and not finished in its second. */
const runningOf = (m: FleetMember): readonly string[] =>
  m.startedJobIds ?? (m.activity === 'busy' && m.jobId ? [m.jobId] : []);

const sameRecord = (a: FleetMember, b: FleetMember): boolean =>
  JSON.stringify(Object.entries(a).sort(([x], [y]) => x.localeCompare(y))) ===
  JSON.stringify(Object.entries(b).sort(([x], [y]) => x.localeCompare(y)));

/**
 * Merges an observation (a record made by {@link memberFrom}) into the stored record of its
 * agent. Last writer by event time: an observation replaces the record unless the record is newer.
 * An equal version is a replay and is applied again (its effects are absolute, so applying them
 * twice is safe, and a retried invocation must redo what failed the first time).
 *
 * Except between the job events of one second (whole-second timestamps cannot order them): there
 * the record keeps which jobs finished and which started without finishing, and merging is a
 * union, so any delivery order ends in the same record. The agent is busy with a job that started
 * in that second and did not finish in it (one agent runs one job at a time, so that is its latest
 * job), idle when every job that started in it finished in it: a job that ran for less than a
 * second leaves its agent idle, and the next job, started in the second the last one finished,
 * busy. Records written before the job lists existed read as holding their own job only.
 */
export function mergeMember(stored: FleetMember | undefined, incoming: FleetMember): MemberMerge {
  if (stored === undefined) return { record: incoming, applied: true };
  const second = jobSecondOf(incoming.version);
  if (second === undefined || jobSecondOf(stored.version) !== second) {
    return incoming.version >= stored.version ? { record: incoming, applied: true } : { applied: false };
  }
  const finished = sortedUnion(stored.finishedJobIds ?? [], incoming.finishedJobIds ?? []);
  const running = sortedUnion(runningOf(stored), runningOf(incoming)).filter((j) => !finished.includes(j));
  const jobId = running.at(-1);
  const record: FleetMember = {
    queue: incoming.queue,
    agentId: incoming.agentId,
    ...(incoming.instanceId ? { instanceId: incoming.instanceId } : {}),
    tags: incoming.tags,
    // Both are the second's time; the earlier, should they differ, so that order does not matter.
    since: Math.min(stored.since, incoming.since),
    activity: jobId !== undefined ? 'busy' : 'idle',
    ...(jobId !== undefined ? { jobId } : {}),
    ...(finished.length > 0 ? { finishedJobIds: finished } : {}),
    ...(running.length > 1 ? { startedJobIds: running } : {}),
    version: second + (jobId !== undefined ? STARTED_RANK - FINISHED_RANK : 0),
  };
  const applied = record.activity === incoming.activity && record.jobId === incoming.jobId;
  return applied || !sameRecord(record, stored) ? { record, applied } : { applied };
}

/**
 * Last writer by event time (job records; agent records merge, see {@link mergeMember}): an
 * observation replaces the stored record unless the record is newer. An equal version is a
 * replay and is applied again (its effects are absolute, so applying them twice is safe, and a
 * retried invocation must redo what failed the first time).
 */
export const supersedes = (stored: { version: number } | undefined, incoming: { version: number }): boolean =>
  stored === undefined || incoming.version >= stored.version;

/**
 * The job record an observation writes. A started or finished job is recorded even without a
 * ready time (then its event time stands in): the record is what refuses a late job.scheduled.
 */
export function trackedJobFrom(o: JobObservation, stored: TrackedJob | undefined): TrackedJob {
  const readyAt = o.readyAt ?? stored?.readyAt ?? o.at;
  return {
    queue: o.queue,
    jobId: o.jobId,
    state: o.state,
    readyAt,
    rules: o.rules.length > 0 ? o.rules : (stored?.rules ?? []),
    ...buildOfRecord(o.pipelineSlug !== undefined ? o : (stored ?? {})),
    version: o.version,
    ...(stored?.stuckReportedAt !== undefined ? { stuckReportedAt: stored.stuckReportedAt } : {}),
  };
}

const buildOfRecord = (from: {
  pipelineSlug?: string;
  buildNumber?: number;
}): { pipelineSlug?: string; buildNumber?: number } =>
  from.pipelineSlug !== undefined && from.buildNumber !== undefined
    ? { pipelineSlug: from.pipelineSlug, buildNumber: from.buildNumber }
    : {};

/** A glob on a tag value: `*` matches any run of characters (Buildkite's agent query rules). */
function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether an agent with `tags` can take a job with `rules` (each `key=value`, value may hold
 * `*`; a `key` without `=` needs the tag present with any value; `key!=value` excludes).
 */
export function agentMatches(rules: readonly string[], tags: readonly string[]): boolean {
  const values = new Map<string, string[]>();
  for (const tag of tags) {
    const eq = tag.indexOf('=');
    const key = eq < 0 ? tag : tag.slice(0, eq);
    const value = eq < 0 ? 'true' : tag.slice(eq + 1);
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  return rules.every((rule) => {
    const neq = rule.indexOf('!=');
    if (neq > 0) {
      const have = values.get(rule.slice(0, neq)) ?? [];
      return !have.some((v) => globMatches(rule.slice(neq + 2), v));
    }
    const eq = rule.indexOf('=');
    if (eq < 0) return values.has(rule);
    const have = values.get(rule.slice(0, eq)) ?? [];
    return have.some((v) => globMatches(rule.slice(eq + 1), v));
  });
}

/** Members that count as connected: able to take a job now or after their current one. */
export const isConnected = (m: FleetMember): boolean => m.activity === 'idle' || m.activity === 'busy';
