/**
 * What the relay needs from the outside world. The Lambda function plugs in DynamoDB, Secrets
 * Manager, S3, SQS and fetch; local mode and tests plug in memory and files.
 */
import type { OversizedPointer } from '../shared/contract';
import type { PacingState } from './gcra';

/** The one shared pacing item, read and written with compare-and-set on a version number. */
export interface PacingStore {
  /** The current state and its version (0 when the item does not exist yet). */
  read(): Promise<{ readonly state: PacingState; readonly version: number }>;
  /** Writes `next` only if the stored version is still `expectedVersion`; false when it was not. */
  write(next: PacingState, expectedVersion: number): Promise<boolean>;
}

/** The answer to a claim on one delivery's idempotency record. */
export type ClaimResult =
  | { readonly status: 'claimed' }
  /** Already relayed: Buildkite started a build for it. */
  | { readonly status: 'done'; readonly buildkiteId?: string }
  /** Another worker holds the claim until `leaseUntil` (epoch ms). */
  | { readonly status: 'in-progress'; readonly leaseUntil: number };

/** Idempotency records: one per trigger and dedupe key. */
export interface IdempotencyStore {
  /**
   * Claims `key` for `owner` until `now + leaseMs`, unless it is done (and not expired) or
   * another owner's lease is still running. `expiresAt` (epoch seconds) is when the record may
   * be forgotten.
   */
  claim(key: string, owner: string, now: number, leaseMs: number, expiresAt: number): Promise<ClaimResult>;
  /**
   * Marks `key` done with Buildkite's delivery id, kept until `expiresAt` (epoch seconds).
   * Unconditional: the build has started even if `owner`'s lease ran out meanwhile.
   */
  complete(
    key: string,
    owner: string,
    done: { readonly buildkiteId?: string; readonly completedAt: number; readonly expiresAt: number },
  ): Promise<void>;
  /** Drops `owner`'s claim so the delivery can be tried again; a no-op if it is not theirs. */
  release(key: string, owner: string): Promise<void>;
}

/** The Buildkite pipeline-trigger URL of each trigger. A secret: never logged, never in errors. */
export interface TriggerUrlSource {
  url(trigger: string): Promise<string>;
}

/** Raw bodies too large for EventBridge, stored by the verify function. */
export interface OversizedBodySource {
  get(pointer: OversizedPointer): Promise<Buffer>;
}

/** What came back from one POST to a trigger URL. */
export type PostResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      /** The answer's body, at most a few KiB, or undefined when it could not be read. */
      readonly body?: string;
      readonly retryAfter?: string;
    }
  | { readonly kind: 'timeout'; readonly afterMs: number }
  /** The request never got an answer: DNS, connection refused or reset, TLS. `code` is safe to log. */
  | { readonly kind: 'network-error'; readonly code: string };

/** POSTs a body to a trigger URL. */
export interface TriggerPoster {
  post(url: string, body: string | Buffer): Promise<PostResult>;
}

/** A message the relay received: the EventBridge event as the rule delivered it, plus relay attributes. */
export interface RelayMessage {
  readonly messageId: string;
  /** The EventBridge event (JSON text), unchanged through every re-send. */
  readonly body: string;
  /** Failed POSTs so far. */
  readonly attempt: number;
  /**
   * Epoch ms before which the message must not be tried. Without `backoff`, it is the pacing
   * slot the message holds: once it has come, the message goes without asking the pacer again.
   */
  readonly notBefore?: number;
  /** `notBefore` ends a retry backoff, not a slot: the message asks the pacer for a new slot. */
  readonly backoff?: boolean;
}

/** What a re-sent message carries. */
export interface DeferredAttributes {
  readonly attempt: number;
  readonly notBefore?: number;
  readonly backoff?: boolean;
}

/** The relay queue, for messages that must wait, and its dead-letter queue. */
export interface RelayQueue {
  /**
   * Puts the message back on the queue, invisible for `delaySeconds` (at most 900), carrying
   * `attempt`, `notBefore` and `backoff` (all three must come back, or a message waiting for
   * its slot would lose it). The received message is acknowledged once this resolves, so a
   * re-send never counts toward the queue's maxReceiveCount.
   */
  defer(message: RelayMessage, delaySeconds: number, next: DeferredAttributes): Promise<void>;
  /** Moves the message to the dead-letter queue with the reason; acknowledged once this resolves. */
  deadLetter(message: RelayMessage, reason: string): Promise<void>;
}

/** Structured log lines; never given a trigger URL. */
export interface RelayLog {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}
