/** The queue Buildkite assigns to a job or agent that names none. */
export const DEFAULT_QUEUE = 'default';

const QUEUE_PREFIX = 'queue=';

/** The value of the first `queue=<name>` entry of a list of `key=value` strings, if any. */
function queueTag(entries: unknown): string | undefined {
  if (!Array.isArray(entries)) return undefined;
  for (const entry of entries) {
    if (typeof entry === 'string' && entry.startsWith(QUEUE_PREFIX)) {
      const name = entry.slice(QUEUE_PREFIX.length).trim();
      if (name !== '') return name;
    }
  }
  return undefined;
}

const asObject = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/**
 * The queue of a job: its `agent_query_rules` entry `queue=<name>`, or `default` when it has
 * none (Buildkite's rule). Undefined when `job` is not a job object.
 */
export function queueOfJob(job: unknown): string | undefined {
  const j = asObject(job);
  if (!j) return undefined;
  return queueTag(j.agent_query_rules) ?? DEFAULT_QUEUE;
}

/**
 * The queue of an agent: its `meta_data` tag `queue=<name>`, or `default`. Buildkite sends
 * `meta_data` as a list of `key=value` strings; an object form (`{"queue": "x"}`) is read too.
 */
export function queueOfAgent(agent: unknown): string | undefined {
  const a = asObject(agent);
  if (!a) return undefined;
  const meta = a.meta_data;
  const fromObject = asObject(meta)?.queue;
  if (typeof fromObject === 'string' && fromObject !== '') return fromObject;
  return queueTag(meta) ?? DEFAULT_QUEUE;
}

/**
 * The queue a Buildkite job or agent event concerns (from the event's `detail`), or undefined
 * for events of other families.
 */
export function queueOfEvent(detailType: string, detail: Record<string, unknown>): string | undefined {
  if (detailType.startsWith('job.')) return queueOfJob(detail.job);
  if (detailType.startsWith('agent.')) return queueOfAgent(detail.agent);
  return undefined;
}
