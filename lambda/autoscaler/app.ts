import type { AutoscalerConfig } from './config';
import type { EventEnvelope } from '../shared/contract';
import type { BodyReader } from '../shared/oversized';
import { readFullEvent, type SkipReporter } from '../shared/skipped';
import { readEvent, type EvaluationOutcome, type Trigger } from './controller';
import type { FleetActions, TrackResult } from './fleet-actions';

/** What one bus event led to. */
export type EventResult =
  | { readonly kind: 'evaluated'; readonly outcome: EvaluationOutcome; readonly tracked?: TrackResult }
  | { readonly kind: 'ignored'; readonly why: string }
  | { readonly kind: 'skipped'; readonly reason: string };

/** Lines about events that trigger nothing (Powertools Logger satisfies it). */
export interface AutoscalerAppLog {
  debug(message: string, attributes: Record<string, unknown>): void;
}

export interface AutoscalerAppDeps {
  readonly config: AutoscalerConfig;
  /** Runs a trigger through the gate and evaluates (an `AutoscalerController`). */
  readonly controller: { handle(trigger: Trigger): Promise<EvaluationOutcome> };
  /** Records the event in the fleet and does its per-instance work (protection, healing, waits). */
  readonly fleet: Pick<FleetActions, 'track'>;
  /** Reads the stored body of an oversized delivery (S3 deployed, a folder locally). */
  readonly bodies: BodyReader;
  readonly skips: SkipReporter;
  readonly log: AutoscalerAppLog;
}

/**
 * The autoscaler's event path, deployed and local alike: read the whole event, decide whether it
 * triggers an evaluation, record it in the fleet (instance identity, protection, waits, lost
 * agents), and hand the trigger to the controller.
 *
 * An oversized delivery is read whole *before* the queue is decided: a pointer event carries
 * `job.agent_query_rules` and `agent.meta_data` when the body has them, but a pointer without them
 * cannot tell "the default queue" from "not projected", and one rule for every event is simpler
 * than two. Pointers are rare, so the extra S3 read costs next to nothing. A body that is gone, or
 * a job or agent event without the object naming its queue, is skipped (logged, counted): nothing
 * to retry, and the one-minute reconcile covers whatever it would have triggered.
 */
export class AutoscalerApp {
  constructor(private readonly deps: AutoscalerAppDeps) {}

  async handle(event: EventEnvelope): Promise<EventResult> {
    const { config, controller, bodies, log } = this.deps;
    const full = await readFullEvent(event, bodies);
    const reading = full.skip
      ? ({ kind: 'skipped', reason: full.skip } as const)
      : readEvent(full.event, config);
    if (reading.kind === 'skipped') {
      this.deps.skips.skipped({
        reason: reading.reason,
        eventId: event.id,
        detailType: event['detail-type'],
        effect: 'no evaluation (the reconcile schedule covers it)',
      });
      return reading;
    }
    if (reading.kind === 'ignored') {
      log.debug('Event ignored', { id: event.id, detailType: event['detail-type'], why: reading.why });
      return reading;
    }
    // The fleet first: a scale-in evaluated by this very event then sees the agent busy.
    const tracked =
      reading.trigger.kind === 'event'
        ? await this.deps.fleet.track(full.event['detail-type'], full.event.detail, receivedAt(full.event))
        : undefined;
    const outcome = await controller.handle(reading.trigger);
    if (outcome.gate !== 'now' && outcome.gate !== 'trailing') {
      log.debug('Trigger collapsed into another evaluation', { id: event.id, gate: outcome.gate });
    }
    return { kind: 'evaluated', outcome, ...(tracked ? { tracked } : {}) };
  }
}

/** The envelope's time as epoch ms (when kitebridge received the delivery); now if unreadable. */
function receivedAt(event: EventEnvelope): number {
  const ms = Date.parse(event.time);
  return Number.isFinite(ms) ? ms : Date.now();
}
