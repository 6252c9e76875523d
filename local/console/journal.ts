/**
 * What the local console shows: one record per request to the webhook routes, the events it put
 * on the local bus, how each rule on the bus judged them, and what each consumer made of them.
 *
 * The local gateway, bus and consumers report here. A report made while a request or a bus
 * delivery is being handled is attached to it through AsyncLocalStorage, so consumers need only
 * call {@link reportToConsole}; it does nothing when no console runs.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEnvelope } from '../../lambda/shared/contract';
import { explainMatch, type FailedField } from '../../lambda/shared/pattern-explain';
import { redactedError } from '../../lambda/verify/app';
import { toInboundRequest } from '../../lambda/verify/request';
import type { Outcome } from '../../lambda/verify/types';
import type { DeadLetter, LocalRule } from '../local-bus';
import type { WireDeliverySummary, WireSentBy } from './wire';

/** What a consumer reports about one event. */
export type ConsumerReport =
  | {
      readonly kind: 'chat-alert';
      readonly destination: string;
      readonly service: string;
      readonly payload: unknown;
    }
  | { readonly kind: 'chat-duplicate'; readonly attributes: Record<string, unknown> }
  | { readonly kind: 'analytics'; readonly records: readonly unknown[] }
  | { readonly kind: 'autoscaler'; readonly message: string; readonly attributes: Record<string, unknown> }
  | { readonly kind: 'trigger-relay'; readonly message: string; readonly attributes: Record<string, unknown> }
  | {
      readonly kind: 'skipped';
      readonly consumer: string;
      readonly message: string;
      readonly attributes: Record<string, unknown>;
    };

/** How one rule on the bus judged one event. */
export interface RuleVerdict {
  readonly ruleId: string;
  readonly matched: boolean;
  readonly failed?: FailedField;
  /** For a matched rule: its target's state. */
  status?: 'delivering' | 'delivered' | 'dead-letter';
  attempts?: number;
  error?: string;
}

/** One event on the local bus and what became of it. */
export interface JournalEvent {
  readonly envelope: EventEnvelope;
  readonly rules: RuleVerdict[];
  readonly reports: (ConsumerReport & { readonly ruleId?: string; readonly at: string })[];
  readonly deadLetters: { readonly ruleId: string; readonly reason: string }[];
}

/** One request to a webhook route, as the console shows it. */
export interface Delivery {
  readonly id: number;
  readonly time: string;
  readonly method: string;
  /** The route's resource: `/buildkite`, `/buildkite/{urlToken}`, `/triggers/{name}`. */
  readonly route: string;
  /** The request path, path token masked. */
  readonly path: string;
  readonly trigger?: string;
  /** Header names and values, credentials masked as in logs. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  readonly bodyBase64: boolean;
  readonly size: number;
  /** Set by the console when it sent this request (a replay names the delivery replayed). */
  readonly sentBy?: WireSentBy;
  status?: number;
  answer?: unknown;
  code?: string;
  auth?: string;
  event?: string;
  dedupeKey?: string;
  /** An earlier delivery with the same dedupe key (a re-sent delivery). */
  duplicateOf?: number;
  error?: string;
  readonly events: JournalEvent[];
}

/** The line a delivery makes in the list: its line in the console's API, and its alert count. */
export interface DeliverySummary extends WireDeliverySummary {
  readonly alerts: number;
}

/** The header the console sets on requests it sends, to tell sends and replays apart in the list. */
export const CONSOLE_HEADER = 'X-Kitebridge-Console';

export type JournalListener = (change: {
  readonly type: 'delivery' | 'analytics';
  readonly id?: number;
}) => void;

interface Context {
  readonly journal: Journal;
  readonly deliveryId?: number;
  readonly eventId?: string;
  readonly ruleId?: string;
}

const context = new AsyncLocalStorage<Context>();

/**
 * Reports a consumer's outcome to the console handling this event, if any. `eventId` attaches
 * it to that event when the report is made outside the event's handling (a queue worker).
 */
export function reportToConsole(report: ConsumerReport, eventId?: string): void {
  const current = context.getStore();
  if (!current) return;
  current.journal.report(report, eventId);
}

export interface JournalOptions {
  /** Deliveries kept (oldest dropped first). @default 500 */
  readonly capacity?: number;
  /** Body bytes kept over all deliveries (oldest dropped first; the newest is always kept). @default 64 MiB */
  readonly maxBodyBytes?: number;
  readonly now?: () => Date;
}

/** Masks what logs mask: every credential the request presented (credential headers, path token). */
export function maskRequest(event: APIGatewayProxyEvent): {
  path: string;
  headers: [string, string][];
} {
  const request = toInboundRequest(event);
  const redact = (text: string) => redactedError(new Error(text), request).message;
  return {
    path: redact(event.path),
    headers: Object.entries(event.multiValueHeaders ?? {}).flatMap(([name, values]) =>
      (values ?? []).map((value): [string, string] => [name, redact(value)]),
    ),
  };
}

/** The console's record of the local gateway, bus and consumers. */
export class Journal {
  private readonly deliveries: Delivery[] = [];
  private readonly byId = new Map<number, Delivery>();
  private readonly events = new Map<string, { delivery: Delivery; event: JournalEvent }>();
  private readonly dedupeKeys = new Map<string, number>();
  private readonly listeners = new Set<JournalListener>();
  private rules: readonly LocalRule[] = [];
  private nextId = 1;
  private readonly capacity: number;
  private readonly maxBodyBytes: number;
  private bodyBytes = 0;
  private readonly now: () => Date;

  constructor(options: JournalOptions = {}) {
    this.capacity = options.capacity ?? 500;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.now = options.now ?? (() => new Date());
  }

  /** The rules on the local bus, explained for each event. */
  setRules(rules: readonly LocalRule[]): void {
    this.rules = rules;
  }

  ruleList(): readonly LocalRule[] {
    return this.rules;
  }

  subscribe(listener: JournalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): DeliverySummary[] {
    return [...this.deliveries].reverse().map(summary);
  }

  get(id: number): Delivery | undefined {
    return this.byId.get(id);
  }

  /** Every event on the bus, newest first. */
  allEvents(): { deliveryId: number; envelope: EventEnvelope }[] {
    return [...this.deliveries]
      .reverse()
      .flatMap((d) => d.events.map((e) => ({ deliveryId: d.id, envelope: e.envelope })));
  }

  /** Wraps the verify handler: records the request, and its answer. */
  wrapHandler<R extends { statusCode: number; body: string }>(
    handler: (event: APIGatewayProxyEvent) => Promise<R>,
  ): (event: APIGatewayProxyEvent) => Promise<R> {
    return async (event) => {
      const delivery = this.openDelivery(event);
      try {
        const result = await context.run({ journal: this, deliveryId: delivery.id }, () => handler(event));
        delivery.status = result.statusCode;
        delivery.answer = parseJson(result.body);
        return result;
      } catch (error) {
        delivery.status = 503;
        delivery.error = error instanceof Error ? error.message : String(error);
        throw error;
      } finally {
        this.changed(delivery.id);
      }
    };
  }

  /** A webhook request the gateway answered itself (source address refused, body too large). */
  refused(event: APIGatewayProxyEvent, answer: { status: number; body: string; bytes: number }): void {
    const masked = maskRequest(event);
    const delivery = this.add({
      method: event.httpMethod,
      route: event.resource,
      path: masked.path,
      headers: masked.headers,
      body: '',
      bodyBase64: false,
      size: answer.bytes,
    });
    delivery.status = answer.status;
    delivery.answer = parseJson(answer.body);
    const { error, message } = (delivery.answer ?? {}) as { error?: unknown; message?: unknown };
    if (typeof error === 'string') delivery.code = error;
    if (typeof message === 'string') delivery.error = `refused by the gateway: ${message}`;
    this.changed(delivery.id);
  }

  /** The verify handler's outcome for the request being handled. */
  outcome(outcome: Outcome): void {
    const delivery = this.current();
    if (!delivery) return;
    delivery.code = outcome.code;
    if (outcome.auth) delivery.auth = outcome.auth;
    if (outcome.event) delivery.event = outcome.event;
    if (outcome.error) delivery.error = `${outcome.error.name}: ${outcome.error.message}`;
    const answer = outcome.answer.body as { message?: unknown };
    if (outcome.answer.statusCode >= 400 && typeof answer?.message === 'string')
      delivery.error = answer.message;
    if (outcome.dedupeKey) {
      delivery.dedupeKey = outcome.dedupeKey;
      const earlier = this.dedupeKeys.get(outcome.dedupeKey);
      if (earlier !== undefined && earlier !== delivery.id) delivery.duplicateOf = earlier;
      else this.dedupeKeys.set(outcome.dedupeKey, delivery.id);
    }
  }

  /** An event the bus built: attached to the request publishing it, with every rule's verdict. */
  published(envelope: EventEnvelope): void {
    const delivery =
      this.current() ??
      this.add({
        method: '-',
        route: '(spool)',
        path: '(an event spooled earlier, published now)',
        headers: [],
        body: '',
        bodyBase64: false,
        size: 0,
      });
    const event: JournalEvent = {
      envelope,
      rules: this.rules.map((rule) => {
        const verdict = explainMatch(rule.pattern, envelope as unknown as Record<string, unknown>);
        return verdict.matched
          ? { ruleId: rule.id, matched: true, status: 'delivering', attempts: 0 }
          : { ruleId: rule.id, matched: false, failed: verdict.failed };
      }),
      reports: [],
      deadLetters: [],
    };
    delivery.events.push(event);
    this.events.set(envelope.id, { delivery, event });
    this.changed(delivery.id);
  }

  /** A rule whose target runs in this event's context, its attempts and result recorded. */
  observeRule(rule: LocalRule): LocalRule {
    return {
      ...rule,
      target: async (envelope) => {
        const verdict = this.events.get(envelope.id)?.event.rules.find((r) => r.ruleId === rule.id);
        if (verdict) verdict.attempts = (verdict.attempts ?? 0) + 1;
        try {
          await context.run({ journal: this, eventId: envelope.id, ruleId: rule.id }, () =>
            rule.target(envelope),
          );
          if (verdict) {
            verdict.status = 'delivered';
            delete verdict.error;
          }
        } catch (error) {
          if (verdict) verdict.error = error instanceof Error ? error.message : String(error);
          throw error;
        } finally {
          this.changedEvent(envelope.id);
        }
      },
    };
  }

  deadLetter(dead: DeadLetter): void {
    const found = this.events.get(dead.event.id);
    if (!found) return;
    found.event.deadLetters.push({ ruleId: dead.ruleId, reason: dead.error });
    const verdict = found.event.rules.find((r) => r.ruleId === dead.ruleId);
    if (verdict) verdict.status = 'dead-letter';
    this.changed(found.delivery.id);
  }

  /** A consumer's report: on `eventId`'s event, else on the event being delivered. */
  report(report: ConsumerReport, eventId?: string): void {
    const store = context.getStore();
    const id = eventId ?? store?.eventId;
    const found = id === undefined ? undefined : this.events.get(id);
    if (!found) return;
    found.event.reports.push({
      ...report,
      ...(store?.ruleId && !eventId ? { ruleId: store.ruleId } : {}),
      at: this.now().toISOString(),
    });
    this.changed(found.delivery.id);
    if (report.kind === 'analytics') this.emit({ type: 'analytics' });
  }

  /** Runs `fn` with this journal as the console reports go to (for consumers outside an event). */
  run<T>(fn: () => T): T {
    return context.run({ journal: this }, fn);
  }

  private current(): Delivery | undefined {
    const store = context.getStore();
    return store?.journal === this && store.deliveryId !== undefined
      ? this.byId.get(store.deliveryId)
      : undefined;
  }

  private openDelivery(event: APIGatewayProxyEvent): Delivery {
    const masked = maskRequest(event);
    const marker = masked.headers.find(([name]) => name.toLowerCase() === CONSOLE_HEADER.toLowerCase())?.[1];
    const replayOf = /^replay:(\d+)$/.exec(marker ?? '')?.[1];
    const trigger = event.pathParameters?.name;
    return this.add({
      method: event.httpMethod,
      route: event.resource,
      path: masked.path,
      ...(trigger !== undefined ? { trigger } : {}),
      headers: masked.headers,
      body: event.body ?? '',
      bodyBase64: event.isBase64Encoded,
      size:
        event.body === null ? 0 : Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8'),
      ...(marker === 'send' ? { sentBy: { kind: 'send' as const } } : {}),
      ...(replayOf !== undefined ? { sentBy: { kind: 'replay' as const, of: Number(replayOf) } } : {}),
    });
  }

  private add(fields: Omit<Delivery, 'id' | 'time' | 'events'>): Delivery {
    const delivery: Delivery = { ...fields, id: this.nextId++, time: this.now().toISOString(), events: [] };
    this.deliveries.push(delivery);
    this.byId.set(delivery.id, delivery);
    this.bodyBytes += delivery.body.length;
    while (
      this.deliveries.length > this.capacity ||
      (this.bodyBytes > this.maxBodyBytes && this.deliveries.length > 1)
    ) {
      const dropped = this.deliveries.shift() as Delivery;
      this.bodyBytes -= dropped.body.length;
      this.byId.delete(dropped.id);
      // The first delivery of a key goes with it: the map stays as small as the journal.
      if (dropped.dedupeKey !== undefined && this.dedupeKeys.get(dropped.dedupeKey) === dropped.id) {
        this.dedupeKeys.delete(dropped.dedupeKey);
      }
      for (const event of dropped.events) this.events.delete(event.envelope.id);
    }
    this.changed(delivery.id);
    return delivery;
  }

  private changedEvent(eventId: string): void {
    const found = this.events.get(eventId);
    if (found) this.changed(found.delivery.id);
  }

  private changed(id: number): void {
    this.emit({ type: 'delivery', id });
  }

  private emit(change: Parameters<JournalListener>[0]): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener (an SSE stream) that fails is the stream's problem, never the gateway's.
      }
    }
  }
}

export function summary(d: Delivery): DeliverySummary {
  return {
    id: d.id,
    time: d.time,
    route: d.route,
    path: d.path,
    size: d.size,
    alerts: d.events.reduce((n, e) => n + e.reports.filter((r) => r.kind === 'chat-alert').length, 0),
    ...(d.auth !== undefined ? { auth: d.auth } : {}),
    ...(d.status !== undefined ? { status: d.status } : {}),
    ...(d.code !== undefined ? { code: d.code } : {}),
    ...(d.event !== undefined ? { event: d.event } : {}),
    ...(d.duplicateOf !== undefined ? { duplicateOf: d.duplicateOf } : {}),
    ...(d.sentBy !== undefined ? { sentBy: d.sentBy } : {}),
    ...(d.error !== undefined ? { error: d.error } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
