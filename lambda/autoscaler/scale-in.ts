/**
 * Safe scale-in, pure: which instances to terminate when a queue's group should shrink. Auto
 * Scaling never picks the victim: only instances whose agent is known to be idle for long enough
 * are candidates, oldest idle first, and each is re-checked with Buildkite before it goes.
 */
import type { FleetMember } from './fleet';

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
  'no-instance-id' | 'not-idle' | 'idle-too-short' | 'not-in-group' | 'not-in-service' | 'protected';

export interface IdleSelectionInput {
  /** The queue's fleet records. */
  readonly members: readonly FleetMember[];
  /** The group's instances now. */
  readonly instances: readonly GroupInstance[];
  /** How many instances the group should lose. */
  readonly count: number;
  /** How long an agent must have had no job. */
  readonly idleMs: number;
  readonly now: number;
}

export interface IdleSelection {
  /** Oldest idle first, at most `count`. */
  readonly candidates: readonly FleetMember[];
  readonly passedOver: readonly {
    readonly agentId: string;
    readonly instanceId?: string;
    readonly why: PassedOver;
  }[];
}

/**
 * Instances safe to terminate: the agent's last word is idle (connected, or finished its job) for
 * at least `idleMs`, its instance is InService and healthy in the group and not protected from
 * scale-in (someone else may have protected it). Instances kitebridge knows nothing about are
 * never candidates: without an agent record there is no telling whether they run a job.
 */
export function selectIdleInstances(input: IdleSelectionInput): IdleSelection {
  const { members, instances, count, idleMs, now } = input;
  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  const passedOver: { agentId: string; instanceId?: string; why: PassedOver }[] = [];
  const eligible: FleetMember[] = [];
  for (const member of members) {
    const id = member.instanceId;
    const pass = (why: PassedOver) =>
      passedOver.push({ agentId: member.agentId, ...(id ? { instanceId: id } : {}), why });
    if (!id) {
      pass('no-instance-id');
      continue;
    }
    if (member.activity !== 'idle') {
      pass('not-idle');
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
    if (now - member.since < idleMs) {
      pass('idle-too-short');
      continue;
    }
    eligible.push(member);
  }
  eligible.sort(
    (a, b) => a.since - b.since || (a.instanceId as string).localeCompare(b.instanceId as string),
  );
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
