/**
 * Reads the fields alerts need out of Buildkite payloads. Payloads are untrusted JSON, and
 * documented examples elide whole objects (`"...": "..."`): every reader is defensive, keeps what
 * is there, and says why (a `Skip`) when what is left cannot make an alert. Links are kept only
 * when they are http(s) URLs.
 */
import type {
  AgentRef,
  Alert,
  BuildRef,
  ClusterTokenRef,
  FailedJob,
  MonitorAlert,
  MonitorObservation,
  Skip,
  SkipReason,
} from './model';

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

/** `value` if it is an http(s) URL; anything else (`javascript:`, relative, garbage) is no link. */
function webUrl(value: unknown): string | undefined {
  const text = str(value)?.trim();
  if (!text) return undefined;
  try {
    const { protocol } = new URL(text);
    return protocol === 'https:' || protocol === 'http:' ? text : undefined;
  } catch {
    return undefined;
  }
}

function skip(reason: SkipReason): Skip {
  return { skip: reason };
}

/** Whether a parse result is a skip rather than a value. */
export function isSkip(value: unknown): value is Skip {
  return obj(value) !== undefined && typeof (value as Partial<Skip>).skip === 'string';
}

/** Parses both timestamp forms Buildkite uses: ISO-8601 and `2018-07-01 20:14:38 UTC`. */
function parseTimestamp(value: unknown): number | undefined {
  const text = str(value);
  if (!text) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/.test(text)
    ? `${text.slice(0, 10)}T${text.slice(11, 19)}Z`
    : text;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** The build (with its pipeline) of a build or job event; undefined when the body has no build object. */
export function parseBuild(detail: Json): BuildRef | undefined {
  const build = obj(detail.build);
  if (!build) return undefined;
  const pipeline = obj(detail.pipeline);
  const slug = str(pipeline?.slug);
  const author = obj(build.author);
  const creator = obj(build.creator);
  const authorName = str(author?.name) ?? str(author?.username) ?? str(creator?.name);
  return {
    ...optional('id', str(build.id)),
    ...optional('number', num(build.number)),
    url: webUrl(build.web_url) ?? '',
    ...optional('state', str(build.state)),
    branch: str(build.branch) ?? '',
    ...optional('pipelineSlug', slug),
    ...optional('pipelineName', str(pipeline?.name) ?? slug),
    pipelineUrl: webUrl(pipeline?.web_url) ?? '',
    commit: str(build.commit) ?? '',
    subject: (str(build.message) ?? '').split('\n')[0]?.trim() ?? '',
    ...optional('author', authorName),
    ...optional('cancelReason', str(build.cancel_reason)),
    ...optional('finishedAt', parseTimestamp(build.finished_at)),
  };
}

/** Whether the body marks its build blocked (a blocked build arrives as `build.finished`). */
export function isBlocked(detail: Json): boolean {
  return obj(detail.build)?.blocked === true;
}

/** Whether an alert could say which build it is about: a number, a pipeline or a link. */
export function namesBuild(build: BuildRef): boolean {
  return build.number !== undefined || build.pipelineName !== undefined || build.url !== '';
}

/**
 * The key a build's state (failed jobs, its failure alert, delivery records) is kept under: its id,
 * else pipeline slug and number; undefined when the body has neither.
 */
export function buildKey(build: BuildRef): string | undefined {
  if (build.id) return build.id;
  return build.pipelineSlug && build.number !== undefined
    ? `${build.pipelineSlug}#${build.number}`
    : undefined;
}

/** Job states that fail a build (soft failures do not). */
const FAILED_JOB_STATES = new Set(['failed', 'timed_out']);

/**
 * The job of a `job.finished` event if it failed the build (not soft-failed); undefined when it
 * did not; a skip when the body has no job, or a failed job without an id.
 */
export function parseFailedJob(detail: Json): FailedJob | Skip | undefined {
  const job = obj(detail.job);
  if (!job) return skip('job-missing');
  if (job.soft_failed === true || !FAILED_JOB_STATES.has(str(job.state) ?? '')) return undefined;
  const id = str(job.id);
  if (!id) return skip('job-missing-id');
  return {
    id,
    name: str(job.name) ?? str(job.step_key) ?? str(job.command)?.split('\n')[0] ?? 'job',
    exitStatus: num(job.exit_status) ?? null,
    url: webUrl(job.web_url) ?? '',
    ...optional('finishedAt', parseTimestamp(job.finished_at)),
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
  return {
    name,
    ...optional('url', webUrl(agent.web_url)),
    ...optional('hostname', str(agent.hostname)),
    ...optional('ipAddress', str(agent.ip_address)),
    ...optional('version', str(agent.version)),
    ...optional('queue', queueOf(agent.meta_data)),
    ...optional('lostAt', str(agent.lost_at)),
  };
}

function parseToken(value: unknown): ClusterTokenRef | undefined {
  const token = obj(value);
  if (!token) return undefined;
  const ref: ClusterTokenRef = {
    ...optional('description', str(token.description)),
    ...optional('allowedIps', str(token.allowed_ip_addresses)),
    ...optional('url', webUrl(token.url)),
  };
  return Object.keys(ref).length > 0 ? ref : undefined;
}

/** The tested subject of a Test Engine body: `subject.*`, or the same fields at the top level. */
function parseTest(detail: Json): Pick<MonitorAlert, 'testName' | 'testUrl' | 'testLocation'> {
  const subject = obj(detail.subject) ?? detail;
  return {
    ...optional('testName', str(subject.test_full_name) ?? str(subject.test_name) ?? str(subject.test_id)),
    ...optional('testUrl', webUrl(subject.test_url)),
    ...optional('testLocation', str(subject.test_location)),
  };
}

/** Body fields a monitor alert shows elsewhere (title, test, links) or never (ids of links it has). */
const NOT_OBSERVATIONS = new Set([
  'type',
  'event',
  'delivery',
  'subject',
  'workflow_event',
  'workflow_id',
  'test_id',
  'test_full_name',
  'test_name',
  'test_location',
]);

/** A Test Engine monitor body without `event` (detail-type `workflow.<type>`); see `MonitorAlert`. */
function parseMonitor(detailType: string, detail: Json): MonitorAlert | Skip {
  const observations: MonitorObservation[] = [];
  const links: { key: string; url: string }[] = [];
  const fields = [...Object.entries(detail), ...Object.entries(obj(detail.workflow_event) ?? {})];
  for (const [key, value] of fields) {
    if (NOT_OBSERVATIONS.has(key)) continue;
    if (key.endsWith('_url')) {
      const url = webUrl(value);
      if (url && key !== 'workflow_url' && key !== 'test_url') links.push({ key, url });
    } else if (typeof value === 'boolean' || num(value) !== undefined || str(value) !== undefined) {
      if (!observations.some((o) => o.key === key))
        observations.push({ key, value: value as MonitorObservation['value'] });
    }
  }
  const test = parseTest(detail);
  const workflowUrl = webUrl(detail.workflow_url);
  if (!test.testName && !workflowUrl && observations.length === 0 && links.length === 0) {
    return skip('test-engine-empty');
  }
  return {
    kind: 'workflow.monitor',
    monitor: str(detail.type) ?? detailType.slice('workflow.'.length),
    ...test,
    ...optional('workflowUrl', workflowUrl),
    observations,
    links,
  };
}

/** Test Engine detail-types published with `event` (transition-count monitors). */
const TRANSITION_TYPES = new Set(['workflow.alarm', 'workflow.recover']);

/**
 * The alert for an event that needs no state (agents, tokens, Test Engine, packages); a skip
 * when the body lacks what the alert needs; undefined for any other event.
 */
export function statelessAlert(detailType: string, detail: Json): Alert | Skip | undefined {
  switch (detailType) {
    case 'agent.lost': {
      const agent = parseAgent(detail.agent);
      return agent ? { kind: 'agent.lost', agent } : skip('agent-missing');
    }
    case 'agent.blocked': {
      const agent = parseAgent(detail.agent);
      const blockedIp = str(detail.blocked_ip) ?? str(obj(detail.agent)?.ip_address);
      if (!blockedIp) return skip('blocked-ip-missing');
      return {
        kind: 'agent.blocked',
        ...optional('agent', agent),
        blockedIp,
        ...optional('token', parseToken(detail.cluster_token)),
      };
    }
    case 'cluster_token.registration_blocked': {
      const blockedIp = str(detail.blocked_ip);
      if (!blockedIp) return skip('blocked-ip-missing');
      return {
        kind: 'cluster_token.registration_blocked',
        blockedIp,
        ...optional('token', parseToken(detail.cluster_token)),
      };
    }
    case 'workflow.alarm':
    case 'workflow.recover': {
      const event = obj(detail.workflow_event);
      const { testName, testUrl, testLocation } = parseTest(detail);
      const workflowUrl = webUrl(detail.workflow_url);
      if (!testName && !workflowUrl) return skip('test-engine-empty');
      return {
        kind: detailType,
        ...optional('testName', testName),
        ...optional('testUrl', testUrl),
        ...optional('testLocation', testLocation),
        ...optional('workflowUrl', workflowUrl),
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
      if (!name) return skip('package-missing-name');
      const registry = obj(pkg?.registry);
      return {
        kind: 'package.created',
        name,
        ...optional('url', webUrl(pkg?.web_url)),
        ...optional('registry', str(registry?.slug)),
        ...optional('registryUrl', webUrl(registry?.web_url)),
      };
    }
    case 'job.stuck': {
      const job = obj(detail.job);
      const jobId = str(job?.id);
      const queue = str(detail.queue);
      if (!jobId || !queue) return skip('stuck-job-missing');
      const rules = Array.isArray(job?.agentQueryRules)
        ? job.agentQueryRules.filter((r): r is string => typeof r === 'string')
        : [];
      return {
        kind: 'job.stuck',
        queue,
        jobId,
        waitedSeconds: num(detail.waitedSeconds) ?? 0,
        ...optional('reason', str(detail.reason)),
        rules,
      };
    }
    default:
      return detailType.startsWith('workflow.') && !TRANSITION_TYPES.has(detailType)
        ? parseMonitor(detailType, detail)
        : undefined;
  }
}
