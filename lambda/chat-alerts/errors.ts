/**
 * What handling an event can fail with: a permanent failure goes to the dead-letter queue at once
 * (dead-letters.ts), a retryable one is thrown for Lambda to retry.
 */

/** A failure retrying cannot fix (a malformed event, a refused request): it goes to the DLQ at once. */
export class PermanentError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

/** The service refused the request for good (`invalid_payload`, `channel_is_archived`, 404…). */
export class PermanentDeliveryError extends PermanentError {
  constructor(
    readonly destination: string,
    readonly reason: string,
    readonly status?: number,
  ) {
    super(`Chat destination ${destination} refused the alert${status ? ` (HTTP ${status})` : ''}: ${reason}`);
    this.name = 'PermanentDeliveryError';
  }
}

/** Delivery failed in a way that may pass later (5xx, timeout, rate limit, network). */
export class RetryableDeliveryError extends Error {
  readonly retryable = true;
  constructor(
    readonly destination: string,
    readonly reason: string,
  ) {
    super(`Chat destination ${destination} did not take the alert: ${reason}`);
    this.name = 'RetryableDeliveryError';
  }
}
