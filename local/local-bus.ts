import { randomUUID } from 'node:crypto';
import {
  EVENTBRIDGE_ENTRY_LIMIT_BYTES,
  entrySize,
  type BusEntry,
  type EventEnvelope,
} from '../lambda/shared/contract';
import { matchesPattern, validatePattern, type EventPattern } from '../lambda/shared/event-pattern';

/** A rule on the local bus: the same pattern the CDK app deploys, and a local target. */
export interface LocalRule {
  readonly id: string;
  readonly pattern: EventPattern;
  readonly target: (event: EventEnvelope) => Promise<void> | void;
}

export interface DeadLetter {
  readonly ruleId: string;
  readonly event: EventEnvelope;
  readonly error: string;
}

export interface LocalBusOptions {
  readonly rules: readonly LocalRule[];
  /** Attempts per target before the event becomes a dead letter. @default 3 */
  readonly attempts?: number;
  readonly onDeadLetter?: (deadLetter: DeadLetter) => void;
  /** Told of each event the bus built, before any rule's target runs (the local console). */
  readonly onPublish?: (event: EventEnvelope) => void;
  readonly account?: string;
  readonly region?: string;
}

/**
 * An in-process stand-in for the EventBridge bus: wraps each entry in a real event envelope,
 * applies the size limit PutEvents applies, and delivers to every rule whose pattern matches
 * (EventBridge pattern semantics), asynchronously and with retries, like the service.
 */
export class LocalBus {
  private readonly rules: readonly LocalRule[];
  private readonly inflight = new Set<Promise<void>>();
  private readonly attempts: number;

  constructor(private readonly options: LocalBusOptions) {
    for (const rule of options.rules) {
      try {
        validatePattern(rule.pattern);
      } catch (error) {
        throw new Error(`Rule ${rule.id}: ${(error as Error).message}`);
      }
    }
    this.rules = options.rules;
    this.attempts = options.attempts ?? 3;
  }

  /** Puts one entry on the bus and returns its event id; delivery to targets happens after. */
  async publish(entry: BusEntry): Promise<string> {
    if (entrySize(entry) > EVENTBRIDGE_ENTRY_LIMIT_BYTES) {
      throw new Error(
        `Entry of ${entrySize(entry)} bytes exceeds the EventBridge limit of ${EVENTBRIDGE_ENTRY_LIMIT_BYTES}.`,
      );
    }
    const detail: unknown = JSON.parse(entry.detail);
    if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
      throw new Error('Detail must be a JSON object.');
    }
    const event: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.detailType,
      source: entry.source,
      account: this.options.account ?? '000000000000',
      time: new Date(entry.time ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.options.region ?? 'local',
      resources: [],
      detail: detail as Record<string, unknown>,
    };
    this.options.onPublish?.(event);
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event as unknown as Record<string, unknown>)) continue;
      const delivery = this.deliver(rule, event).finally(() => this.inflight.delete(delivery));
      this.inflight.add(delivery);
    }
    return event.id;
  }

  /** Resolves when every delivery started so far has finished (tests and shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private async deliver(rule: LocalRule, event: EventEnvelope): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        await rule.target(event);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.options.onDeadLetter?.({
      ruleId: rule.id,
      event,
      error: lastError instanceof Error ? lastError.message : String(lastError),
    });
  }
}
