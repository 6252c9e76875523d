/**
 * The ports of the verify function: what the orchestrator (`app.ts`) and the event publishing
 * (`event-publishing.ts`) need from the outside world. The AWS adapters (`aws-adapters.ts`,
 * `aws-sqs-spool.ts`, `aws-s3-body-store.ts`), the local mode's file adapters and the tests'
 * fakes implement them.
 */
import type { BusEntry, DeliveryMetadata, OversizedPointer } from '../shared/contract';
import type { TriggerDefinition } from '../shared/triggers';
import type { TokenSource } from './token-source';
import type { Outcome } from './types';

/** Puts one entry on the bus; resolves with the EventBridge event id, rejects when it gave up. */
export interface Publisher {
  publish(entry: BusEntry): Promise<string>;
}

/** Durable fallback when the bus cannot be reached: a redrive function republishes from it. */
export interface Spool {
  put(entry: BusEntry): Promise<void>;
}

/** Stores bodies too large for an EventBridge entry. */
export interface BodyStore {
  put(key: string, body: Buffer): Promise<Omit<OversizedPointer, 'bytes'>>;
}

/** An authenticated, well-formed Buildkite delivery. */
export interface VerifiedBuildkiteDelivery {
  readonly kind: 'buildkite';
  /** The event name (`body.event`), or `workflow.<type>` for a Test Engine monitor body without one. */
  readonly detailType: string;
  readonly body: Record<string, unknown>;
  /** The body as UTF-8 text (already proven to be a JSON object). */
  readonly text: string;
  readonly rawBody: Buffer;
  /**
   * UTF-8 byte length of `text`, when known to be exact (the text round-trips to `rawBody`):
   * the entry is then sized without scanning the body again. @default measured
   */
  readonly textBytes?: number;
  readonly delivery: DeliveryMetadata;
  /** `JSON.stringify(delivery)`, when the verifier already wrote it. @default serialised */
  readonly deliveryText?: string;
}

/** An authenticated pipeline-trigger request. */
export interface VerifiedTriggerRequest {
  readonly kind: 'trigger';
  readonly trigger: string;
  /** The parsed JSON payload. */
  readonly body: unknown;
  /** The body as UTF-8 text (already proven to be JSON). */
  readonly text: string;
  readonly rawBody: Buffer;
  /** The safe subset of request headers (lower-case names). */
  readonly headers: Readonly<Record<string, string>>;
  readonly delivery: DeliveryMetadata;
  /**
   * Published under this detail-type instead: a sender's ping goes out as
   * `trigger.<name>.ping` (see `triggerPingDetailType` in the contract), which no relay rule matches.
   * @default `trigger.<name>`
   */
  readonly detailType?: string;
}

export type VerifiedDelivery = VerifiedBuildkiteDelivery | VerifiedTriggerRequest;

export interface Deliverer {
  /** Resolves once the event is on the bus or durably spooled; rejects when neither worked. */
  deliver(verified: VerifiedDelivery): Promise<'published' | 'spooled'>;
}

export interface DeliveryLog {
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** Receives every outcome once, after the answer is decided: logging and metrics live here. */
export type OutcomeObserver = (outcome: Outcome, requestId: string, sourceIp: string) => void;

/** A configured trigger and the source of its secrets. */
export interface TriggerEntry {
  readonly definition: TriggerDefinition;
  readonly secrets: TokenSource;
}

export interface VerifyDeps {
  /** The Buildkite webhook tokens. */
  readonly tokens: TokenSource;
  readonly deliverer: Deliverer;
  /** Configured pipeline triggers by name. @default none */
  readonly triggers?: ReadonlyMap<string, TriggerEntry>;
  readonly now?: () => Date;
}
