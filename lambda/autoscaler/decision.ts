import type { GroupInstance } from './scale-in';

/** A queue's counts from Buildkite's agent metrics API. */
export interface QueueCounts {
  /** Jobs ready for an agent, waiting for one to pick them up. */
  readonly scheduled: number;
  /** Jobs an agent is running. */
  readonly running: number;
  /**
   * Jobs that cannot run yet: behind a `wait` or `block` step, or held by a concurrency group.
   * Published as a metric, never counted towards capacity.
   */
  readonly waiting: number;
  readonly idleAgents: number;
  readonly busyAgents: number;
  readonly totalAgents: number;
}

/** The scaling settings of one queue (a subset of its config). */
export interface ScalingPolicy {
  readonly agentsPerInstance: number;
  readonly min: number;
  readonly max: number;
  readonly buffer: number;
  readonly scaleOutCooldownSeconds: number;
  readonly scaleInCooldownSeconds: number;
  readonly scaleInEnabled: boolean;
  /** @default true */
  readonly scaleOutEnabled?: boolean;
  /** Count `waiting` jobs as demand. @default false */
  readonly scaleOutForWaitingJobs?: boolean;
  /** Fraction of the gap to the target per scale-out step. @default 1 */
  readonly scaleOutFactor?: number;
  /** Fraction of the gap to the target per scale-in step. @default 1 */
  readonly scaleInFactor?: number;
  /** One more instance while fewer than half the expected agents are connected. @default false */
  readonly availabilityBoost?: boolean;
}

/** The group as Auto Scaling (or, in dry run, the remembered dry-run state) sees it now. */
export interface GroupCapacity {
  readonly desired: number;
  /** The group's own bounds: SetDesiredCapacity outside them is refused. */
  readonly min: number;
  readonly max: number;
  /** The group's instances (absent in dry run). */
  readonly instances?: readonly GroupInstance[];
}

/** Everything a decision depends on; no clock or I/O inside the function. */
export interface DecisionInput {
  readonly policy: ScalingPolicy;
  /** Undefined when the metrics API failed: the decision is then always "no action". */
  readonly counts: QueueCounts | undefined;
  readonly group: GroupCapacity;
  /** Epoch ms of the last scale-out / scale-in this autoscaler made, if remembered. */
  readonly lastScaleOutAt?: number;
  readonly lastScaleInAt?: number;
  /** Epoch ms. */
  readonly now: number;
  /**
   * Scheduled jobs no agent of the queue can match (from the fleet): not demand, since another
   * instance of the same kind could not take them either. @default 0
   */
  readonly unmatched?: number;
}

/** Why a decision came out as it did (stable strings: they appear in logs and tests). */
export type DecisionReason =
  | 'metrics-unavailable'
  | 'at-target'
  | 'scale-out'
  | 'scale-out-cooldown'
  | 'scale-out-disabled'
  | 'scale-in'
  | 'scale-in-disabled'
  | 'scale-in-cooldown';

/** The outcome: set the group to `desired`, or leave it (`desired === current`). */
export interface Decision {
  readonly action: 'scale-out' | 'scale-in' | 'none';
  readonly reason: DecisionReason;
  readonly current: number;
  /** What the group should be set to; equals `current` when action is `none`. */
  readonly desired: number;
  /** `ceil(demand / agentsPerInstance) + buffer` (+1 for the availability boost), before clamping. */
  readonly wanted?: number;
  /** `wanted` clamped to the effective bounds. */
  readonly target?: number;
  /** Epoch ms when the cooldown that held this decision back ends. */
  readonly cooldownEndsAt?: number;
}

const hold = (current: number, reason: DecisionReason, extra: Partial<Decision> = {}): Decision => ({
  action: 'none',
  reason,
  current,
  desired: current,
  ...extra,
});

/** A scale-out or scale-in from `current` to `desired` (the reason names the action). */
const move = (
  action: 'scale-out' | 'scale-in',
  current: number,
  desired: number,
  extra: Partial<Decision>,
): Decision => ({ action, reason: action, current, desired, ...extra });

/**
 * The desired capacity of one queue's group: `ceil(demand / agentsPerInstance) + buffer`, clamped
 * to the configured and the group's own min and max, subject to cooldowns, where demand is
 * scheduled + running jobs, less scheduled jobs no agent of the queue can match, plus waiting
 * jobs when `scaleOutForWaitingJobs`.
 *
 * - No counts (the metrics API failed): no action, never a guess.
 * - Waiting jobs (behind wait/block steps) are not counted unless asked: no agent can run them yet.
 * - The availability boost adds one instance while fewer than half the agents the current
 *   capacity should bring are connected (instances booting slowly or agents failing to start).
 * - Scale-out is held within `scaleOutCooldownSeconds` of the last scale-out, and not done at all
 *   with `scaleOutEnabled: false`; each step takes `scaleOutFactor` of the gap (at least one).
 * - Scale-in happens only when enabled, and not within `scaleInCooldownSeconds` of the last
 *   scaling action in either direction (a group just grown is not shrunk on a lull); each step
 *   takes `scaleInFactor` of the gap (at least one).
 * - A capacity below the floor is raised at once, cooldown or not. With scale-in disabled the
 *   result is never below the current capacity, even when current is above max: lowering
 *   capacity may stop instances that run jobs, and that is the user's call to enable.
 */
export function decide(input: DecisionInput): Decision {
  const { policy, counts, group, now } = input;
  const current = group.desired;
  if (!counts) return hold(current, 'metrics-unavailable');

  const lower = Math.max(policy.min, group.min);
  const upper = Math.max(lower, Math.min(policy.max, group.max));
  const unmatched = Math.min(counts.scheduled, Math.max(0, input.unmatched ?? 0));
  const demand =
    counts.scheduled - unmatched + counts.running + (policy.scaleOutForWaitingJobs ? counts.waiting : 0);
  const boost =
    policy.availabilityBoost === true &&
    current > 0 &&
    counts.totalAgents * 2 < current * policy.agentsPerInstance
      ? 1
      : 0;
  const wanted = Math.ceil(demand / policy.agentsPerInstance) + policy.buffer + boost;
  const target = Math.min(upper, Math.max(lower, wanted));
  const details = { wanted, target };

  if (target === current) return hold(current, 'at-target', details);

  if (target > current) {
    // Below the floor: raised at once, cooldown, factor or disabled scale-out notwithstanding.
    if (current < lower) {
      const desired =
        policy.scaleOutEnabled === false
          ? lower
          : Math.max(lower, step(current, target, policy.scaleOutFactor));
      return move('scale-out', current, desired, details);
    }
    if (policy.scaleOutEnabled === false) return hold(current, 'scale-out-disabled', details);
    const endsAt = (input.lastScaleOutAt ?? Number.NEGATIVE_INFINITY) + policy.scaleOutCooldownSeconds * 1000;
    if (now < endsAt) return hold(current, 'scale-out-cooldown', { ...details, cooldownEndsAt: endsAt });
    return move('scale-out', current, step(current, target, policy.scaleOutFactor), details);
  }

  if (!policy.scaleInEnabled) return hold(current, 'scale-in-disabled', details);
  const last = Math.max(
    input.lastScaleInAt ?? Number.NEGATIVE_INFINITY,
    input.lastScaleOutAt ?? Number.NEGATIVE_INFINITY,
  );
  const endsAt = last + policy.scaleInCooldownSeconds * 1000;
  if (now < endsAt) return hold(current, 'scale-in-cooldown', { ...details, cooldownEndsAt: endsAt });
  return move('scale-in', current, step(current, target, policy.scaleInFactor), details);
}

/** One step from `current` towards `target`: `factor` of the gap, rounded up, at least one. */
function step(current: number, target: number, factor = 1): number {
  const gap = target - current;
  const move = Math.max(1, Math.ceil(Math.abs(gap) * factor));
  return current + Math.sign(gap) * Math.min(Math.abs(gap), move);
}
