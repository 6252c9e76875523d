/**
 * Safe scale-in, pure: which instances to terminate when a queue's group should shrink. Auto
 * Scaling never picks the victim: only instances whose agents are all known to be idle for long
 * enough are candidates, oldest idle first, and each is re-checked with Buildkite before it goes.
 */
import type { FleetMember } from './fleet';
import { viewFleet } from './instances';

/** One instance of the group, as DescribeAutoScalingGroups reports it. */
export interface GroupInstance {
  readonly instanceId: string;
  /** `InService`, `Pending`, `Terminating`, … */
  readonly lifecycleState: string;
  /** `Healthy` or `Unhealthy`. */
  readonly healthStatus: string;
  readonly protectedFromScaleIn: boolean;
}

/** Why an instance was passed over (stable strings: logs and tests). */
export type PassedOver =
  | 'no-instance-id'
  | 'not-idle'
  | 'agents-unknown'
  | 'idle-too-short'
  | 'not-in-group'
  | 'not-in-service'
  | 'protected';

export interface IdleSelectionInput {
  /** The queue's fleet records (one per agent). */
  readonly members: readonly FleetMember[];
  /** The group's instances now. */
  readonly instances: readonly GroupInstance[];
  /** How many instances the group should lose. */
  readonly count: number;
  /** How long every agent of an instance must have had no job. */
  readonly idleMs: number;
  readonly now: number;
  /** Agents each instance runs (default 1). */
  readonly agentsPerInstance?: number;
}

/** An instance whose every agent is idle: the agents to re-check, and since when it is idle. */
export interface IdleInstance {
  readonly instanceId: string;
  /** The first of its agents (by id): the one agent when there is one per instance. */
  readonly agentId: string;
  readonly agents: readonly FleetMember[];
  /** When the last of its agents became idle. */
  readonly since: number;
}

export interface IdleSelection {
  /** Oldest idle first, at most `count`. */
  readonly candidates: readonly IdleInstance[];
  readonly passedOver: readonly {
    /** The agent without an instance id, else the instance's first agent (by id). */
    readonly agentId: string;
    readonly instanceId?: string;
    readonly why: PassedOver;
    /** The agent that is not idle (`not-idle`), or how many agents are known (`agents-unknown`). */
    readonly busyAgentId?: string;
    readonly knownAgents?: number;
  }[];
}

/**
 * Instances safe to terminate: every agent of the instance is idle (connected, or finished its
 * job) and the last of them for at least `idleMs`, at least `agentsPerInstance` agents are known
 * on it (one that never reported may run a job), the instance is InService and healthy in the
 * group and not protected from scale-in (someone else may have protected it). Instances
 * kitebridge knows nothing about are never candidates: without agent records there is no
 * telling whether they run a job.
 */
export function selectIdleInstances(input: IdleSelectionInput): IdleSelection {
  const { members, instances, count, idleMs, now } = input;
  const agentsPerInstance = input.agentsPerInstance ?? 1;
  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  const passedOver: IdleSelection['passedOver'][number][] = [];
  const view = viewFleet(members, agentsPerInstance);
  for (const m of view.unplaced) passedOver.push({ agentId: m.agentId, why: 'no-instance-id' });
  const eligible: IdleInstance[] = [];
  for (const inst of view.instances) {
    const id = inst.instanceId;
    const agentId = inst.agents[0]?.agentId ?? '';
    const pass = (why: PassedOver, extra: { busyAgentId?: string; knownAgents?: number } = {}) =>
      passedOver.push({ agentId, instanceId: id, why, ...extra });
    if (inst.state === 'busy' || inst.state === 'other') {
      const notIdle =
        inst.agents.find((a) => a.activity === 'busy') ?? inst.agents.find((a) => a.activity !== 'idle');
      pass('not-idle', agentsPerInstance > 1 && notIdle ? { busyAgentId: notIdle.agentId } : {});
      continue;
    }
    if (!inst.known || inst.idleSince === undefined) {
      pass('agents-unknown', { knownAgents: inst.agents.length });
      continue;
    }
    const instance = byId.get(id);
    if (!instance) {
      pass('not-in-group');
      continue;
    }
    if (instance.lifecycleState !== 'InService' || instance.healthStatus !== 'Healthy') {
      pass('not-in-service');
      continue;
    }
    if (instance.protectedFromScaleIn) {
      pass('protected');
      continue;
    }
    if (now - inst.idleSince < idleMs) {
      pass('idle-too-short');
      continue;
    }
    eligible.push({ instanceId: id, agentId, agents: inst.agents, since: inst.idleSince });
  }
  eligible.sort((a, b) => a.since - b.since || a.instanceId.localeCompare(b.instanceId));
  return { candidates: eligible.slice(0, Math.max(0, count)), passedOver };
}

/** What Buildkite's REST API says about an agent right before its instance would go. */
export type AgentCheck =
  | { readonly kind: 'idle' }
  | { readonly kind: 'busy'; readonly jobId?: string }
  /** Disconnected, unknown to the API, or the call failed: any doubt. */
  | { readonly kind: 'doubt'; readonly reason: string };

/** Terminate only when Buildkite confirms the agent is connected and has no job. */
export const mayTerminate = (check: AgentCheck): boolean => check.kind === 'idle';
