import { BuildkiteApiError, type BuildkiteRestClient } from '../shared/buildkite-rest';
import type { AgentChecker } from './ports';
import type { AgentCheck } from './scale-in';
import { isJsonObject } from '../shared/json-object';

/**
 * Reads one agent from Buildkite's REST API (`GET /v2/organizations/{org}/agents/{id}`, scope
 * `read_agents`) right before its instance would be terminated: idle only when Buildkite says it
 * is connected and has no job. Anything else, a failed call included, is doubt, and doubt means
 * the instance stays.
 */
export class BuildkiteAgentChecker implements AgentChecker {
  constructor(
    private readonly client: Pick<BuildkiteRestClient, 'get'>,
    private readonly org: string,
  ) {}

  async check(agentId: string): Promise<AgentCheck> {
    let body: unknown;
    try {
      ({ body } = await this.client.get<unknown>(
        `/v2/organizations/${encodeURIComponent(this.org)}/agents/${encodeURIComponent(agentId)}`,
      ));
    } catch (error) {
      const kind = error instanceof BuildkiteApiError ? error.kind : 'error';
      return { kind: 'doubt', reason: `agent lookup failed (${kind})` };
    }
    if (!isJsonObject(body)) return { kind: 'doubt', reason: 'agent lookup answered no agent object' };
    const job = body.job;
    if (isJsonObject(job)) return { kind: 'busy', ...(typeof job.id === 'string' ? { jobId: job.id } : {}) };
    if (body.connection_state !== 'connected')
      return { kind: 'doubt', reason: `agent is ${String(body.connection_state ?? 'in an unknown state')}` };
    if (job === null || job === undefined) return { kind: 'idle' };
    return { kind: 'doubt', reason: 'agent lookup gave an unreadable job' };
  }
}
