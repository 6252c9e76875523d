/**
 * The instance view, pure: the fleet keeps one record per agent, and an instance runs
 * `agentsPerInstance` of them. This module groups a queue's agent records by instance, drops the
 * records of agents that are gone (an agent restarted on the same instance registers with a new
 * id), and says whether an instance is busy, idle (and since when) or not known well enough to
 * act on.
 */
import { isConnected, type FleetMember } from './fleet';

/**
 * One record per agent: records written under the previous key (per instance) may sit beside the
 * agent's own; the higher version wins. Order of first appearance is kept.
 */
export function latestPerAgent(members: readonly FleetMember[]): FleetMember[] {
  const byAgent = new Map<string, FleetMember>();
  for (const m of members) {
    const stored = byAgent.get(m.agentId);
    if (!stored || m.version > stored.version) byAgent.set(m.agentId, m);
  }
  return [...byAgent.values()];
}

/**
 * The records that still describe an agent on the instance, from all of the instance's records.
 *
 * - One agent per instance: the newest record (whatever its agent), as when the fleet was keyed
 *   per instance.
 * - Several: a record is superseded once `agentsPerInstance` *other* agents connected (idle or
 *   busy) after it: the instance has no room left for its agent. A stopped agent left on purpose
 *   and is dropped. A neighbour that restarts many times does not push out a busy agent, since
 *   only its last incarnation is connected.
 */
export function currentAgentsOfInstance(
  records: readonly FleetMember[],
  agentsPerInstance: number,
): FleetMember[] {
  const newestFirst = [...records].sort(
    (a, b) => b.version - a.version || a.agentId.localeCompare(b.agentId),
  );
  if (agentsPerInstance <= 1) return newestFirst.slice(0, 1);
  const current: FleetMember[] = [];
  let connectedNewer = 0;
  for (const r of newestFirst) {
    if (connectedNewer >= agentsPerInstance) break;
    if (r.activity !== 'stopped') current.push(r);
    if (isConnected(r)) connectedNewer++;
  }
  return current;
}

/** One instance as its agents' records describe it. */
export interface InstanceView {
  readonly instanceId: string;
  /** Its agents' current records (see {@link currentAgentsOfInstance}), ordered by agent id. */
  readonly agents: readonly FleetMember[];
  /**
   * `busy`: some agent runs a job. `idle`: every agent is idle. `other`: none busy, but some agent
   * is stopping, lost or disconnected. `unknown`: no current record (its agents stopped).
   */
  readonly state: 'busy' | 'idle' | 'other' | 'unknown';
  /** For `idle`: when the last of its agents became idle (the instance is idle since then). */
  readonly idleSince?: number;
  /** At least `agentsPerInstance` agents are known: an agent that never reported may run a job. */
  readonly known: boolean;
}

export interface FleetView {
  /** The queue's instances, in order of their agents' first appearance. */
  readonly instances: readonly InstanceView[];
  /** Agents without an instance id: counted, never acted on. */
  readonly unplaced: readonly FleetMember[];
}

/** The queue's agent records (one per agent, as `FleetStore.members` gives them) grouped by instance. */
export function viewFleet(members: readonly FleetMember[], agentsPerInstance: number): FleetView {
  const byInstance = new Map<string, FleetMember[]>();
  const unplaced: FleetMember[] = [];
  for (const m of members) {
    if (!m.instanceId) {
      unplaced.push(m);
      continue;
    }
    const list = byInstance.get(m.instanceId);
    if (list) list.push(m);
    else byInstance.set(m.instanceId, [m]);
  }
  const instances = [...byInstance.entries()].map(([instanceId, records]) =>
    viewInstance(instanceId, currentAgentsOfInstance(records, agentsPerInstance), agentsPerInstance),
  );
  return { instances, unplaced };
}

function viewInstance(instanceId: string, current: FleetMember[], agentsPerInstance: number): InstanceView {
  const agents = [...current].sort((a, b) => a.agentId.localeCompare(b.agentId));
  const known = agents.length >= agentsPerInstance;
  if (agents.length === 0) return { instanceId, agents, state: 'unknown', known };
  if (agents.some((a) => a.activity === 'busy')) return { instanceId, agents, state: 'busy', known };
  if (agents.every((a) => a.activity === 'idle')) {
    const idleSince = Math.max(...agents.map((a) => a.since));
    return { instanceId, agents, state: 'idle', idleSince, known };
  }
  return { instanceId, agents, state: 'other', known };
}

/**
 * The records that describe the queue's agents now: one per agent, superseded ones dropped. With
 * one agent per instance this is what the per-instance records held.
 */
export function currentMembers(members: readonly FleetMember[], agentsPerInstance: number): FleetMember[] {
  const view = viewFleet(members, agentsPerInstance);
  return [...view.unplaced, ...view.instances.flatMap((i) => i.agents)];
}
