import type { QueueCounts } from './decision';
import { isJsonObject } from '../shared/json-object';

/** The response header that gives the API's minimum poll interval, in seconds. */
export const POLL_DURATION_HEADER = 'Buildkite-Agent-Metrics-Poll-Duration';

/** Counts for every queue the agent token can see, from one `GET /v3/metrics`. */
export interface AgentMetrics {
  readonly org: string;
  readonly queues: ReadonlyMap<string, QueueCounts>;
}

/** Why a metrics call gave no usable counts. */
export type MetricsFailure = 'unauthorized' | 'http-error' | 'timeout' | 'network' | 'invalid-body';

/** A metrics call's outcome; failures carry no counts, so no decision can be made from them. */
export type MetricsResult =
  | { readonly ok: true; readonly metrics: AgentMetrics; readonly pollDurationSeconds?: number }
  | {
      readonly ok: false;
      readonly failure: MetricsFailure;
      readonly status?: number;
      readonly message: string;
      readonly pollDurationSeconds?: number;
    };

/** Reads agent and job counts; never throws (a failure is a result, and means "no action"). */
export interface MetricsSource {
  fetchMetrics(): Promise<MetricsResult>;
}

export interface BuildkiteMetricsClientOptions {
  /** e.g. `https://agent.buildkite.com/v3` (or a local stub). */
  readonly baseUrl: string;
  /** The agent token (registration or cluster token), sent as `Authorization: Token …`. */
  readonly token: () => Promise<string>;
  /** @default 5000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** The counts of one queue; a queue absent from the response has nothing in it. */
export function countsOf(metrics: AgentMetrics, queue: string): { counts: QueueCounts; present: boolean } {
  const counts = metrics.queues.get(queue);
  return counts
    ? { counts, present: true }
    : {
        counts: { scheduled: 0, running: 0, waiting: 0, idleAgents: 0, busyAgents: 0, totalAgents: 0 },
        present: false,
      };
}

/** The error's name; DOMException (what an aborted fetch throws) is not always `instanceof Error`. */
const errorName = (error: unknown): string =>
  error !== null && typeof error === 'object' && typeof (error as { name?: unknown }).name === 'string'
    ? (error as { name: string }).name
    : '';
const errorMessage = (error: unknown): string =>
  error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string'
    ? (error as { message: string }).message
    : String(error);
const isTimeout = (error: unknown) => ['TimeoutError', 'AbortError'].includes(errorName(error));

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/**
 * Parses the body of `GET /v3/metrics`: `agents.queues.<q>.{idle,busy,total}` and
 * `jobs.queues.<q>.{scheduled,running,waiting}`. Returns undefined when the shape is wrong.
 */
export function parseMetricsBody(body: unknown): AgentMetrics | undefined {
  if (!isJsonObject(body) || !isJsonObject(body.jobs) || !isJsonObject(body.agents)) return undefined;
  const jobQueues = isJsonObject(body.jobs.queues) ? body.jobs.queues : {};
  const agentQueues = isJsonObject(body.agents.queues) ? body.agents.queues : {};
  const names = new Set([...Object.keys(jobQueues), ...Object.keys(agentQueues)]);
  const queues = new Map<string, QueueCounts>();
  for (const name of names) {
    const jobs = isJsonObject(jobQueues[name]) ? (jobQueues[name] as Record<string, unknown>) : {};
    const agents = isJsonObject(agentQueues[name]) ? (agentQueues[name] as Record<string, unknown>) : {};
    queues.set(name, {
      scheduled: count(jobs.scheduled),
      running: count(jobs.running),
      waiting: count(jobs.waiting),
      idleAgents: count(agents.idle),
      busyAgents: count(agents.busy),
      totalAgents: count(agents.total),
    });
  }
  const org =
    isJsonObject(body.organization) && typeof body.organization.slug === 'string'
      ? body.organization.slug
      : '';
  return { org, queues };
}

function pollDuration(headers: Headers): number | undefined {
  const raw = headers.get(POLL_DURATION_HEADER);
  if (raw === null) return undefined;
  const seconds = Number(raw.trim());
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}

/**
 * Buildkite's agent metrics API (`GET <baseUrl>/metrics`, one call for every queue the token
 * sees). Each call is bounded by `AbortSignal.timeout`; any failure (401, 5xx, timeout,
 * network, a body of the wrong shape) is returned as such, never as zero counts.
 */
export class BuildkiteMetricsClient implements MetricsSource {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: BuildkiteMetricsClientOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/metrics`;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  async fetchMetrics(): Promise<MetricsResult> {
    let response: Response;
    try {
      const token = await this.options.token();
      response = await this.fetchImpl(this.url, {
        headers: {
          Authorization: `Token ${token}`,
          Accept: 'application/json',
          'User-Agent': 'kitebridge-autoscaler',
        },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      if (isTimeout(error)) {
        return {
          ok: false,
          failure: 'timeout',
          message: `No answer from the metrics API within ${this.timeoutMs} ms.`,
        };
      }
      return {
        ok: false,
        failure: 'network',
        message: `The metrics API could not be reached: ${errorMessage(error)}`,
      };
    }
    const seconds = pollDuration(response.headers);
    const withPoll = seconds === undefined ? {} : { pollDurationSeconds: seconds };
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      return {
        ok: false,
        failure: isTimeout(error) ? 'timeout' : 'network',
        message: 'The metrics API response was cut off.',
        ...withPoll,
      };
    }
    if (response.status === 401 || response.status === 403) {
      return {
        ok: false,
        failure: 'unauthorized',
        status: response.status,
        message: `The metrics API refused the agent token (${response.status}); check the agent token secret.`,
        ...withPoll,
      };
    }
    if (!response.ok) {
      return {
        ok: false,
        failure: 'http-error',
        status: response.status,
        message: `The metrics API answered ${response.status}.`,
        ...withPoll,
      };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return {
        ok: false,
        failure: 'invalid-body',
        status: response.status,
        message: 'The metrics API answered with a body that is not JSON.',
        ...withPoll,
      };
    }
    const metrics = parseMetricsBody(body);
    if (!metrics) {
      return {
        ok: false,
        failure: 'invalid-body',
        status: response.status,
        message: 'The metrics API answer has no jobs/agents counts.',
        ...withPoll,
      };
    }
    return { ok: true, metrics, ...withPoll };
  }
}
