import { randomUUID } from 'node:crypto';
import { SkipReporter } from '../shared/skipped';
import {
  backoffSeconds,
  classify,
  DEFAULT_BACKOFF,
  type BackoffSettings,
  type Classification,
} from './classify';
import { MalformedEventError, parseTriggerEvent, type TriggerRequest } from './trigger-request';
import { PacingContentionError, type Pacer } from './pacer';
import type {
  IdempotencyStore,
  OversizedBodySource,
  RelayLog,
  RelayMessage,
  RelayQueue,
  TriggerPoster,
  TriggerUrlSource,
} from './ports';

/** SQS's longest DelaySeconds. */
export const MAX_DELAY_SECONDS = 900;

/** A message whose pacing attempts all collided asks again within 1 to this many seconds. */
const CONTENDED_RECHECK_SECONDS = 5;

/** How soon a delivery another worker is relaying is looked at again. */
const BUSY_RECHECK_SECONDS = 10;

/**
 * A condition no retry can fix (the trigger URL was never filled in, a stored body is gone):
 * adapters throw it and the relay dead-letters the message with its message as the reason,
 * which must never contain a secret.
 */
export class PermanentRelayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentRelayError';
  }
}

export interface TriggerRelayDeps {
  readonly pacer: Pacer;
  readonly idempotency: IdempotencyStore;
  readonly urls: TriggerUrlSource;
  readonly bodies: OversizedBodySource;
  readonly poster: TriggerPoster;
  readonly queue: RelayQueue;
  readonly log: RelayLog;
  /** Told about messages that are not usable trigger events. @default the log line alone, no metric */
  readonly skips?: SkipReporter;
  /** @default Date.now */
  readonly clock?: () => number;
  /** @default Math.random (backoff jitter) */
  readonly random?: () => number;
  /** A fresh claim owner per attempt. @default crypto.randomUUID */
  readonly newOwner?: () => string;
}

export interface RelaySettings {
  /**
   * How long a claim on a delivery lasts: longer than fetching the URL and body plus the POST
   * timeout, so a live attempt never loses its claim. @default 120000
   */
  readonly leaseMs: number;
  /** How long a relayed delivery is remembered, so a re-send starts no build. @default 7 days */
  readonly idempotencyTtlSeconds: number;
  /** POSTs that may fail with a retryable answer before the message is dead-lettered. @default 12 */
  readonly maxAttempts: number;
  readonly backoff: BackoffSettings;
}

const DEFAULT_RELAY_SETTINGS: RelaySettings = {
  leaseMs: 120_000,
  idempotencyTtlSeconds: 7 * 24 * 3600,
  maxAttempts: 12,
  backoff: DEFAULT_BACKOFF,
};

/** What happened to one message. Every outcome but a thrown error acknowledges it. */
export type RelayOutcome =
  | { readonly status: 'delivered'; readonly buildkiteId?: string; readonly recorded: boolean }
  | { readonly status: 'duplicate'; readonly buildkiteId?: string }
  /** Over the rate: back on the queue until its slot (or its backoff ends). */
  | { readonly status: 'paced'; readonly delaySeconds: number; readonly notBefore: number }
  /** The pacing item kept changing under concurrent relays: re-sent to ask again. */
  | { readonly status: 'contended'; readonly delaySeconds: number }
  /** Another worker is relaying the same delivery right now. */
  | { readonly status: 'busy'; readonly delaySeconds: number }
  | {
      readonly status: 'retrying';
      readonly delaySeconds: number;
      readonly attempt: number;
      readonly reason: string;
    }
  | { readonly status: 'dead-lettered'; readonly reason: string }
  /** Not a usable trigger event (a field missing or malformed): acknowledged, logged, counted. */
  | { readonly status: 'skipped'; readonly reason: string };

/**
 * Relays one `kitebridge.trigger` event to its Buildkite pipeline trigger:
 * 1. honour the message's `notBefore` (its pacing slot, or the end of a backoff) by re-queueing it;
 * 2. unless it already holds a slot that has come, reserve one from the shared pacer and
 *    re-queue until then (a pacer that keeps colliding re-queues it to ask again);
 * 3. claim the delivery's idempotency record (a delivery already relayed starts no build);
 * 4. POST the payload and act on Buildkite's answer: record the delivery id, retry with
 *    backoff (re-queued, so the SQS receive count stays low), or dead-letter with the reason.
 * Infrastructure errors (DynamoDB, Secrets Manager, S3, SQS) are thrown, so SQS redelivers
 * the message and, after its maxReceiveCount, moves it to the dead-letter queue. Contention is
 * not an error: every wait is a re-send, which does not count as a receive.
 */
export class TriggerRelayApp {
  private readonly settings: RelaySettings;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly newOwner: () => string;
  private readonly skips: SkipReporter;

  constructor(
    private readonly deps: TriggerRelayDeps,
    settings: Partial<RelaySettings> = {},
  ) {
    this.settings = { ...DEFAULT_RELAY_SETTINGS, ...settings };
    this.clock = deps.clock ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.newOwner = deps.newOwner ?? randomUUID;
    this.skips = deps.skips ?? new SkipReporter(deps.log);
  }

  async process(message: RelayMessage): Promise<RelayOutcome> {
    let request: TriggerRequest;
    try {
      request = parseTriggerEvent(message.body);
    } catch (error) {
      if (!(error instanceof MalformedEventError)) throw error;
      // No retry or redrive can fix a missing field, and nothing for an operator to do but look:
      // the log line and the Skipped metric say it, the dead-letter queue is for what they can fix.
      this.skips.skipped({
        reason: error.reason,
        eventId: error.eventId,
        detailType: error.detailType,
        effect: 'not relayed',
        details: { messageId: message.messageId, problem: error.message },
      });
      return { status: 'skipped', reason: error.reason };
    }
    const fields = {
      trigger: request.trigger,
      dedupeKey: request.dedupeKey,
      eventId: request.eventId,
      messageId: message.messageId,
      attempt: message.attempt,
    };

    if (message.notBefore !== undefined && this.clock() < message.notBefore) {
      return this.pace(message, message.notBefore, message.backoff === true);
    }
    // A message whose slot has come goes without asking again: that is what keeps a waiter's
    // place. New arrivals, backoffs that ended and busy re-checks get a slot now.
    if (message.notBefore === undefined || message.backoff === true) {
      let slot: number;
      try {
        slot = await this.deps.pacer.acquire();
      } catch (error) {
        if (!(error instanceof PacingContentionError)) throw error;
        return this.contended(message, fields);
      }
      if (slot > this.clock()) {
        const outcome = await this.pace(message, slot, false);
        this.deps.log.info('Over the trigger rate; waiting in the queue for its slot', {
          ...fields,
          ...outcome,
        });
        return outcome;
      }
    }

    const key = `${request.trigger}#${request.dedupeKey}`;
    const owner = this.newOwner();
    const now = this.clock();
    const expiresAt = Math.ceil(now / 1000) + this.settings.idempotencyTtlSeconds;
    const claim = await this.deps.idempotency.claim(key, owner, now, this.settings.leaseMs, expiresAt);
    if (claim.status === 'done') {
      const outcome: RelayOutcome =
        claim.buildkiteId === undefined
          ? { status: 'duplicate' }
          : { status: 'duplicate', buildkiteId: claim.buildkiteId };
      this.deps.log.info('Already relayed; no second build', { ...fields, ...outcome });
      return outcome;
    }
    if (claim.status === 'in-progress') {
      // The other worker usually finishes within seconds; its lease is only the upper bound.
      const delaySeconds = Math.min(BUSY_RECHECK_SECONDS, delayUntil(claim.leaseUntil, this.clock()));
      return this.checkAgainLater(
        message,
        { status: 'busy', delaySeconds },
        fields,
        'info',
        'Another worker is relaying this delivery; checking again later',
      );
    }

    let result: Classification;
    try {
      const [url, body] = await Promise.all([this.deps.urls.url(request.trigger), this.bodyOf(request)]);
      result = classify(await this.deps.poster.post(url, body), this.clock());
    } catch (error) {
      await this.releaseQuietly(key, owner, fields);
      if (error instanceof PermanentRelayError) return this.deadLetter(message, fields, error.message);
      throw error;
    }

    if (result.kind === 'delivered') {
      let recorded = true;
      try {
        const done = this.clock();
        await this.deps.idempotency.complete(key, owner, {
          ...(result.buildkiteId === undefined ? {} : { buildkiteId: result.buildkiteId }),
          completedAt: done,
          expiresAt: Math.ceil(done / 1000) + this.settings.idempotencyTtlSeconds,
        });
      } catch (error) {
        // The build has started: throwing would re-send it after the lease. Not recording it
        // only weakens protection against a later re-send by the third party, so say so loudly.
        recorded = false;
        this.deps.log.error('Relayed, but the idempotency record could not be written', {
          ...fields,
          error: describe(error),
        });
      }
      const outcome: RelayOutcome =
        result.buildkiteId === undefined
          ? { status: 'delivered', recorded }
          : { status: 'delivered', buildkiteId: result.buildkiteId, recorded };
      this.deps.log.info('Relayed to Buildkite', { ...fields, ...outcome, httpStatus: result.status });
      return outcome;
    }

    await this.releaseQuietly(key, owner, fields);
    if (result.kind === 'permanent') return this.deadLetter(message, fields, result.reason);

    const attempt = message.attempt + 1;
    if (attempt >= this.settings.maxAttempts) {
      return this.deadLetter(message, fields, `gave up after ${attempt} attempts; last: ${result.reason}`);
    }
    const delaySeconds = backoffSeconds(
      attempt,
      this.settings.backoff,
      result.retryAfterSeconds,
      this.random,
    );
    const notBefore = this.clock() + delaySeconds * 1000;
    await this.deps.queue.defer(message, Math.min(delaySeconds, MAX_DELAY_SECONDS), {
      attempt,
      notBefore,
      backoff: true,
    });
    const outcome: RelayOutcome = {
      status: 'retrying',
      delaySeconds,
      attempt,
      reason: result.reason,
    };
    this.deps.log.warn('Buildkite did not accept the request; retrying later', { ...fields, ...outcome });
    return outcome;
  }

  /** Re-sends the message to wait for its slot (or, with `backoff`, for the end of its backoff). */
  private async pace(message: RelayMessage, notBefore: number, backoff: boolean): Promise<RelayOutcome> {
    const delaySeconds = delayUntil(notBefore, this.clock());
    await this.deps.queue.defer(message, delaySeconds, {
      attempt: message.attempt,
      notBefore,
      ...(backoff ? { backoff: true } : {}),
    });
    return { status: 'paced', delaySeconds, notBefore };
  }

  /**
   * The pacer's compare-and-set lost every race: re-send the message to ask again a few
   * seconds later. Re-sending (not throwing) acknowledges the received copy, so contention
   * never adds to the receive count and can never move a valid request to the dead-letter queue.
   */
  private async contended(message: RelayMessage, fields: Record<string, unknown>): Promise<RelayOutcome> {
    const delaySeconds = 1 + Math.floor(this.random() * CONTENDED_RECHECK_SECONDS);
    return this.checkAgainLater(
      message,
      { status: 'contended', delaySeconds },
      fields,
      'warn',
      'The pacing item kept changing under concurrent relays; asking again later',
    );
  }

  /** Re-sends the message, same attempt, to be looked at again after the outcome's delay; logs why. */
  private async checkAgainLater(
    message: RelayMessage,
    outcome: Extract<RelayOutcome, { status: 'busy' | 'contended' }>,
    fields: Record<string, unknown>,
    level: 'info' | 'warn',
    text: string,
  ): Promise<RelayOutcome> {
    await this.deps.queue.defer(message, outcome.delaySeconds, { attempt: message.attempt });
    this.deps.log[level](text, { ...fields, ...outcome });
    return outcome;
  }

  private async bodyOf(request: TriggerRequest): Promise<string | Buffer> {
    return 'inline' in request.body ? request.body.inline : this.deps.bodies.get(request.body.oversized);
  }

  private async deadLetter(
    message: RelayMessage,
    fields: Record<string, unknown>,
    reason: string,
  ): Promise<RelayOutcome> {
    await this.deps.queue.deadLetter(message, reason);
    this.deps.log.error('Dead-lettered: Buildkite will not accept this request', {
      ...fields,
      messageId: message.messageId,
      reason,
    });
    return { status: 'dead-lettered', reason };
  }

  private async releaseQuietly(key: string, owner: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.deps.idempotency.release(key, owner);
    } catch (error) {
      // The claim's lease runs out by itself; the retry waits for it at worst.
      this.deps.log.warn('Could not release the idempotency claim; it expires with its lease', {
        ...fields,
        error: describe(error),
      });
    }
  }
}

/** Whole seconds from `now` until `at`, between 1 and SQS's 900. */
function delayUntil(at: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil((at - now) / 1000)));
}

/** An error's name and message only: SDK and fetch errors never carry the trigger URL there. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
