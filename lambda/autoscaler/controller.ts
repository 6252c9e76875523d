import type { AutoscalerConfig, AutoscalerQueueConfig } from './config';
import { BUILDKITE_SOURCE, type EventEnvelope } from '../shared/contract';
import { decide, type Decision, type GroupCapacity, type QueueCounts } from './decision';
import {
  MAX_JOB_CHECKS_PER_EVALUATION,
  type FleetActions,
  type JobCheckBudget,
  type ScaleInResult,
} from './fleet-actions';
import { effectiveIntervalMs, gate, MAX_POLL_DURATION_SECONDS } from './gate';
import { countsOf, type MetricsSource } from './metrics-api';
import type { AutoscalerLog, AutoscalerStateStore, Clock, CountsPublisher, GroupScaler } from './ports';
import { queueOfEvent } from './queue';
import { SCHEDULED_EVENT } from './rules';
import { isJsonObject } from '../shared/json-object';

/** What asked for an evaluation. */
export type Trigger =
  | { readonly kind: 'reconcile'; readonly eventId?: string }
  | { readonly kind: 'event'; readonly queue: string; readonly detailType: string; readonly eventId: string };

export interface AutoscalerDeps {
  readonly config: AutoscalerConfig;
  readonly store: AutoscalerStateStore;
  readonly metrics: MetricsSource;
  readonly groups: GroupScaler;
  readonly counts: CountsPublisher;
  /** Per-instance work: safe scale-in, healing, wait figures and stuck jobs. */
  readonly fleet: FleetActions;
  readonly log: AutoscalerLog;
  readonly clock: Clock;
}

/** One queue's decision with its inputs: what the log line per decision holds. */
export interface DecisionRecord {
  readonly queue: string;
  readonly asgName?: string;
  readonly dryRun: boolean;
  readonly counts?: QueueCounts;
  /** False when the queue was absent from the metrics answer (read as empty). */
  readonly queueInMetrics?: boolean;
  readonly group?: GroupCapacity;
  readonly decision: Decision;
  /** Whether the group was changed (SetDesiredCapacity, or at least one instance terminated; never in dry run). */
  readonly applied: boolean;
  /** Instances a scale-in terminated (in dry run: would have). */
  readonly terminated?: readonly string[];
  /** Why a scale-in terminated nothing. */
  readonly scaleInHeld?: ScaleInResult['held'];
  /** Instances marked Unhealthy because their agent was lost. */
  readonly healed?: readonly string[];
  /** Scheduled jobs no agent of the queue can match (not counted as demand). */
  readonly unmatched?: number;
}

/** What one trigger led to. */
export interface EvaluationOutcome {
  readonly gate: 'now' | 'trailing' | 'collapsed' | 'claim-lost';
  /** Epoch ms the evaluation started (after any wait for the trailing edge). */
  readonly evaluatedAt?: number;
  readonly decisions: readonly DecisionRecord[];
}

/** What a bus event means to the autoscaler. */
export type EventReading =
  | { readonly kind: 'trigger'; readonly trigger: Trigger }
  /** Not for this consumer: another source or family, or a queue that is not configured. */
  | { readonly kind: 'ignored'; readonly why: 'other-source' | 'other-family' | 'unconfigured-queue' }
  /** A job or agent event whose body lacks the object that names its queue: no retry can fix it. */
  | { readonly kind: 'skipped'; readonly reason: 'missing-detail' | 'missing-job' | 'missing-agent' };

/**
 * Reads a bus event: the schedule's event reconciles every queue; a Buildkite job or agent event
 * triggers if its queue is configured (a job or agent that names no queue is in `default`, as
 * Buildkite has it). A job event without a `job` object, or an agent event without `agent`, cannot
 * name a queue: skipped, with the reason.
 */
export function readEvent(event: EventEnvelope, config: AutoscalerConfig): EventReading {
  if (event.source === SCHEDULED_EVENT.source && event['detail-type'] === SCHEDULED_EVENT.detailType) {
    return { kind: 'trigger', trigger: { kind: 'reconcile', eventId: event.id } };
  }
  if (event.source !== BUILDKITE_SOURCE) return { kind: 'ignored', why: 'other-source' };
  const detailType = event['detail-type'];
  const isJob = detailType.startsWith('job.');
  if (!isJob && !detailType.startsWith('agent.')) return { kind: 'ignored', why: 'other-family' };
  if (!isJsonObject(event.detail)) return { kind: 'skipped', reason: 'missing-detail' };
  const queue = queueOfEvent(detailType, event.detail);
  if (queue === undefined) return { kind: 'skipped', reason: isJob ? 'missing-job' : 'missing-agent' };
  if (!config.queues.some((q) => q.queue === queue)) return { kind: 'ignored', why: 'unconfigured-queue' };
  return { kind: 'trigger', trigger: { kind: 'event', queue, detailType, eventId: event.id } };
}

/** {@link readEvent}'s trigger, or undefined when the event triggers nothing. */
export function triggerOf(event: EventEnvelope, config: AutoscalerConfig): Trigger | undefined {
  const reading = readEvent(event, config);
  return reading.kind === 'trigger' ? reading.trigger : undefined;
}

/**
 * The event-driven autoscaler: passes each trigger through the collapse gate, and for the
 * invocation that wins the gate reads the metrics once, publishes them, decides per queue and
 * sets the groups. Every trigger evaluates every configured queue: one metrics call covers
 * them all, and a lost webhook for one queue is made up by any other trigger.
 *
 * Errors from Auto Scaling or the state store are rethrown (after every queue was tried) so the
 * invocation is retried; a metrics API failure is not an error: it means "no action".
 */
export class AutoscalerController {
  constructor(private readonly deps: AutoscalerDeps) {}

  async handle(trigger: Trigger): Promise<EvaluationOutcome> {
    const { store, clock, config } = this.deps;
    const state = await store.readGate();
    const verdict = gate(state, clock.now(), config.evaluateIntervalSeconds);
    if (verdict.kind === 'collapsed') return { gate: 'collapsed', decisions: [] };
    // The schedule exists for lost webhooks: an evaluation within the interval already covers it.
    if (trigger.kind === 'reconcile' && verdict.kind !== 'now') return { gate: 'collapsed', decisions: [] };

    if (verdict.kind === 'trailing') {
      const seen = state.lastEvaluatedAt as number;
      if (!(await store.claimTrailing(seen, verdict.at, clock.now())))
        return { gate: 'collapsed', decisions: [] };
      await clock.sleep(Math.max(0, verdict.at - clock.now()));
      const at = clock.now();
      if (!(await store.claimEvaluation(seen, at))) return { gate: 'claim-lost', decisions: [] };
      return {
        gate: 'trailing',
        evaluatedAt: at,
        decisions: await this.evaluate(trigger, at, state.pollDurationSeconds),
      };
    }

    const at = clock.now();
    // A reconcile records its evaluation backdated, so it holds the next event back only for the
    // API's own poll duration (if it sent one), not the whole interval: the first job of a burst
    // right after a quiet minute's reconcile is still acted on at once.
    const pollMs = Math.min(state.pollDurationSeconds ?? 0, MAX_POLL_DURATION_SECONDS) * 1000;
    const claimedAt =
      trigger.kind === 'reconcile'
        ? at - (effectiveIntervalMs(state, config.evaluateIntervalSeconds) - pollMs)
        : at;
    if (!(await store.claimEvaluation(state.lastEvaluatedAt, claimedAt)))
      return { gate: 'claim-lost', decisions: [] };
    return {
      gate: 'now',
      evaluatedAt: at,
      decisions: await this.evaluate(trigger, at, state.pollDurationSeconds),
    };
  }

  private async evaluate(
    trigger: Trigger,
    now: number,
    knownPoll: number | undefined,
  ): Promise<DecisionRecord[]> {
    const { config, metrics, store, groups, log } = this.deps;
    const result = await metrics.fetchMetrics();
    if (result.pollDurationSeconds !== undefined && result.pollDurationSeconds !== knownPoll) {
      await store.recordPollDuration(result.pollDurationSeconds, now);
    }
    const context = {
      trigger: trigger.kind,
      ...(trigger.kind === 'event' ? { triggerQueue: trigger.queue, detailType: trigger.detailType } : {}),
      eventId: trigger.eventId,
    };

    if (!result.ok) {
      log.warn('Metrics API unavailable: no scaling action', {
        ...context,
        failure: result.failure,
        status: result.status,
        message: result.message,
      });
      return config.queues.map((q) => {
        const record: DecisionRecord = {
          queue: q.queue,
          ...(q.asgName ? { asgName: q.asgName } : {}),
          dryRun: this.isDryRun(q),
          decision: {
            action: 'none',
            reason: 'metrics-unavailable',
            current: Number.NaN,
            desired: Number.NaN,
          },
          applied: false,
        };
        log.info('Autoscaler decision', {
          ...context,
          queue: q.queue,
          asgName: q.asgName,
          dryRun: record.dryRun,
          action: 'none',
          reason: 'metrics-unavailable',
        });
        return record;
      });
    }
    if (result.metrics.org !== '' && result.metrics.org !== config.org) {
      log.warn('The agent token belongs to another organization than the configured org', {
        configured: config.org,
        fromApi: result.metrics.org,
      });
    }

    const mapped = config.queues.filter((q) => !this.isDryRun(q)).map((q) => q.asgName as string);
    const capacities = mapped.length > 0 ? await groups.describe(mapped) : new Map<string, GroupCapacity>();

    const records: DecisionRecord[] = [];
    const errors: unknown[] = [];
    // The stuck-job re-checks of all queues share one cap per evaluation.
    const jobChecks: JobCheckBudget = { remaining: MAX_JOB_CHECKS_PER_EVALUATION };
    for (const q of config.queues) {
      const { counts, present } = countsOf(result.metrics, q.queue);
      this.deps.counts.publish(config.org, q.queue, counts);
      try {
        const record = await this.decideQueue(q, counts, present, capacities, now, jobChecks);
        if (record) {
          records.push(record);
          log.info('Autoscaler decision', { ...context, ...flatten(record) });
        }
      } catch (error) {
        errors.push(error);
        log.error('Scaling a queue failed; the invocation will be retried', {
          ...context,
          queue: q.queue,
          asgName: q.asgName,
          error: String(error),
        });
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `Scaling failed for ${errors.length} queues.`);
    return records;
  }

  private async decideQueue(
    q: AutoscalerQueueConfig,
    counts: QueueCounts,
    present: boolean,
    capacities: Map<string, GroupCapacity>,
    now: number,
    jobChecks: JobCheckBudget,
  ): Promise<DecisionRecord | undefined> {
    const { store, groups, log, fleet } = this.deps;
    const dryRun = this.isDryRun(q);
    const remembered = await store.readQueue(q.queue);
    let group: GroupCapacity | undefined;
    if (dryRun) {
      group = { desired: remembered.dryRunDesired ?? q.min, min: 0, max: q.max };
    } else {
      group = capacities.get(q.asgName as string);
      if (!group) {
        // A config mistake no retry can fix: say so loudly, act on the other queues.
        log.error('Auto Scaling group not found: no scaling action', { queue: q.queue, asgName: q.asgName });
        return undefined;
      }
    }
    const members = await fleet.members(q.queue);
    const { unmatched } = await fleet.reviewWaits(q, counts, members, now, jobChecks);
    const decision = decide({
      policy: q,
      counts,
      group,
      now,
      unmatched,
      ...(remembered.lastScaleOutAt !== undefined ? { lastScaleOutAt: remembered.lastScaleOutAt } : {}),
      ...(remembered.lastScaleInAt !== undefined ? { lastScaleInAt: remembered.lastScaleInAt } : {}),
    });
    let applied = false;
    let scaleIn: ScaleInResult | undefined;
    if (decision.action === 'scale-out') {
      if (!dryRun) {
        await groups.setDesired(q.asgName as string, decision.desired);
        applied = true;
      }
      await store.recordQueue(
        q.queue,
        { lastScaleOutAt: now, ...(dryRun ? { dryRunDesired: decision.desired } : {}) },
        now,
      );
    } else if (decision.action === 'scale-in') {
      // Never SetDesiredCapacity downwards: the group would pick the victims, busy or not.
      scaleIn = await fleet.scaleIn(q, members, group, decision.current - decision.desired, now);
      applied = !dryRun && scaleIn.terminated.length > 0;
      if (scaleIn.terminated.length > 0) {
        await store.recordQueue(
          q.queue,
          {
            lastScaleInAt: now,
            ...(dryRun ? { dryRunDesired: decision.current - scaleIn.terminated.length } : {}),
          },
          now,
        );
      }
    }
    const healed = await fleet.healQueue(q, members, dryRun ? undefined : group, now);
    return {
      queue: q.queue,
      ...(q.asgName ? { asgName: q.asgName } : {}),
      dryRun,
      counts,
      queueInMetrics: present,
      group,
      decision,
      applied,
      ...(scaleIn ? { terminated: scaleIn.terminated } : {}),
      ...(scaleIn?.held ? { scaleInHeld: scaleIn.held } : {}),
      ...(healed.length > 0 ? { healed } : {}),
      ...(unmatched > 0 ? { unmatched } : {}),
    };
  }

  private isDryRun(q: AutoscalerQueueConfig): boolean {
    return this.deps.config.dryRun || q.asgName === undefined;
  }
}

/** A decision record as flat log attributes (queryable in CloudWatch Logs Insights). */
function flatten(record: DecisionRecord): Record<string, unknown> {
  const { decision, counts, group } = record;
  return {
    queue: record.queue,
    asgName: record.asgName,
    dryRun: record.dryRun,
    applied: record.applied,
    action: decision.action,
    reason: decision.reason,
    current: decision.current,
    desired: decision.desired,
    wanted: decision.wanted,
    target: decision.target,
    cooldownEndsAt:
      decision.cooldownEndsAt === undefined ? undefined : new Date(decision.cooldownEndsAt).toISOString(),
    scheduled: counts?.scheduled,
    running: counts?.running,
    waiting: counts?.waiting,
    totalAgents: counts?.totalAgents,
    queueInMetrics: record.queueInMetrics,
    groupMin: group?.min,
    groupMax: group?.max,
    terminated: record.terminated,
    scaleInHeld: record.scaleInHeld,
    healed: record.healed,
    unmatched: record.unmatched,
  };
}
