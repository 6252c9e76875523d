/**
 * Lost-agent healing, pure: whether an instance whose agent was lost (or disconnected and did not
 * come back) should be marked Unhealthy so its group replaces it, within a per-group rate cap.
 */
import type { FleetMember } from './fleet';
import type { GroupInstance } from './scale-in';

/** The healing settings of one queue. */
export interface HealingPolicy {
  readonly healingEnabled: boolean;
  /** How long an `agent.disconnected` waits for the instance's agent to connect again. */
  readonly healingGraceSeconds: number;
  /** At most this fraction of the group (at least one instance) per window. */
  readonly healingMaxFraction: number;
  readonly healingWindowSeconds: number;
}

/** Why an instance is not healed (stable strings: logs, metrics and tests). */
export type HealSkip =
  | 'disabled'
  | 'no-instance-id'
  | 'connected'
  | 'stopped'
  | 'within-grace'
  | 'not-in-group'
  | 'not-in-service'
  | 'already-unhealthy'
  | 'rate-capped';

export type HealVerdict =
  { readonly heal: true } | { readonly heal: false; readonly why: HealSkip; readonly graceEndsAt?: number };

/** The most instances of a group of `size` that may be healed per window: a fraction, at least one. */
export const healCap = (size: number, fraction: number): number => Math.max(1, Math.floor(size * fraction));

export interface HealInput {
  readonly policy: HealingPolicy;
  readonly member: FleetMember;
  /** The member's instance in the group, if it is in it. */
  readonly instance: GroupInstance | undefined;
  /** How many of the group's instances this autoscaler healed within the window. */
  readonly healedInWindow: number;
  readonly groupSize: number;
  readonly now: number;
}

/**
 * Heal when the agent's last word is `agent.lost`, or `agent.disconnected` more than the grace
 * period ago (no later `agent.connected` from that instance replaced the record), and its
 * instance is still InService and Healthy in the group. A stopped agent stopped on purpose (its
 * instance is going away), and a group whose cap is reached is left alone: a Buildkite-side
 * outage that "loses" every agent must not drain the fleet.
 */
export function healVerdict(input: HealInput): HealVerdict {
  const { policy, member, instance, now } = input;
  if (!policy.healingEnabled) return { heal: false, why: 'disabled' };
  if (!member.instanceId) return { heal: false, why: 'no-instance-id' };
  if (member.activity === 'idle' || member.activity === 'busy') return { heal: false, why: 'connected' };
  if (member.activity === 'stopping' || member.activity === 'stopped') return { heal: false, why: 'stopped' };
  if (member.activity === 'disconnected') {
    const graceEndsAt = member.since + policy.healingGraceSeconds * 1000;
    if (now < graceEndsAt) return { heal: false, why: 'within-grace', graceEndsAt };
  }
  if (!instance) return { heal: false, why: 'not-in-group' };
  if (instance.lifecycleState !== 'InService') return { heal: false, why: 'not-in-service' };
  if (instance.healthStatus !== 'Healthy') return { heal: false, why: 'already-unhealthy' };
  if (input.healedInWindow >= healCap(input.groupSize, policy.healingMaxFraction))
    return { heal: false, why: 'rate-capped' };
  return { heal: true };
}

/** What healing makes of one instance's agents (its current records, see instances.ts). */
export type InstanceHealth =
  /** Every known agent is lost or disconnected: judge the instance by `member` (the latest of them). */
  | { readonly kind: 'all-lost'; readonly member: FleetMember }
  /** Some agents are lost or disconnected, others still connected: the instance still works. */
  | {
      readonly kind: 'partly-lost';
      readonly lost: readonly FleetMember[];
      readonly connected: readonly FleetMember[];
    }
  /** No agent lost or disconnected, or one is stopping or stopped (on purpose): nothing to heal. */
  | { readonly kind: 'none' };

/**
 * Whether an instance's agents are all gone. With several agents per instance, one lost agent
 * while its neighbours are connected (or busy) says the agent failed, not the instance: it is
 * left in place. When all are lost or disconnected, the one whose grace runs out last decides
 * (the latest disconnected agent, else the latest lost one), through {@link healVerdict}.
 */
export function instanceHealth(agents: readonly FleetMember[]): InstanceHealth {
  const lost = agents.filter((a) => a.activity === 'lost' || a.activity === 'disconnected');
  if (lost.length === 0) return { kind: 'none' };
  const connected = agents.filter((a) => a.activity === 'idle' || a.activity === 'busy');
  if (connected.length > 0) return { kind: 'partly-lost', lost, connected };
  if (lost.length < agents.length) return { kind: 'none' };
  const disconnected = lost.filter((a) => a.activity === 'disconnected');
  const pool = disconnected.length > 0 ? disconnected : lost;
  const latest = pool.reduce((a, b) => (b.since > a.since ? b : a));
  return { kind: 'all-lost', member: latest };
}
