/**
 * Deliveries a consumer cannot (fully) use: Buildkite's own documented examples elide whole objects
 * (`"...": "..."`), and a body missing a field no retry can bring back is no reason to retry or to
 * dead-letter. Such a delivery is *skipped*: one structured log line and one `Skipped` metric with
 * a `Reason` dimension, and the consumer does whatever it still can. Dead-letter queues stay for
 * failures an operator must act on.
 */
import type { EventEnvelope } from './contract';
import { withFullDetail, type BodyReader } from './oversized';

/** Metric name (Count, in the consumer's own `kitebridge` service namespace), one per skipped delivery. */
export const SKIPPED_METRIC = 'Skipped';
/** Dimension of {@link SKIPPED_METRIC}: a short kebab-case reason from a fixed set per consumer. */
export const SKIPPED_REASON_DIMENSION = 'Reason';
/** The message of the one log line (level warn) per skipped delivery. */
export const SKIPPED_LOG_MESSAGE = 'Delivery skipped';

/** Why a stored oversized body could not be used: it is gone (expired), no retry brings it back. */
export const OVERSIZED_BODY_MISSING = 'oversized-body-missing';

/** One skipped delivery. */
export interface Skip {
  /** Kebab-case, from a fixed set (it is a metric dimension), e.g. `missing-job`. */
  readonly reason: string;
  /** EventBridge event id ('' when the message was not an event at all). */
  readonly eventId: string;
  /** The event's detail-type ('' when unknown). */
  readonly detailType: string;
  /** What the consumer still did, e.g. `recorded with nulls`, `ignored`. */
  readonly effect: string;
  /** Anything else worth a field on the log line (never a secret). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Where the skip line goes (Powertools Logger satisfies it). */
export interface SkipLog {
  warn(message: string, attributes: Record<string, unknown>): void;
}

/** One EMF document per data point (Powertools Metrics satisfies it). */
export interface SkipMetrics {
  singleMetric(): {
    addDimension(name: string, value: string): void;
    addMetric(name: string, unit: 'Count', value: number): void;
  };
}

/** Reports skipped deliveries: the log line always, the metric when given a metrics instance (not locally). */
export class SkipReporter {
  constructor(
    private readonly log: SkipLog,
    private readonly metrics?: SkipMetrics,
  ) {}

  skipped(skip: Skip): void {
    this.log.warn(SKIPPED_LOG_MESSAGE, {
      ...skip.details,
      reason: skip.reason,
      eventId: skip.eventId,
      detailType: skip.detailType,
      effect: skip.effect,
    });
    if (!this.metrics) return;
    // A single-metric document, so the Reason dimension does not leak onto other metrics.
    const single = this.metrics.singleMetric();
    single.addDimension(SKIPPED_REASON_DIMENSION, skip.reason);
    single.addMetric(SKIPPED_METRIC, 'Count', 1);
  }
}

/** True for the errors a body reader gives when the stored body does not exist (S3, local files). */
function isMissingBody(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === 'NoSuchKey' || code === 'ENOENT';
}

/** An event as a consumer should read it: the whole body, or the pointer when the body is gone. */
export interface FullEvent<E> {
  readonly event: E;
  /** Set when the event is an oversized pointer whose stored body no longer exists. */
  readonly skip?: typeof OVERSIZED_BODY_MISSING;
}

/**
 * {@link withFullDetail}, except that a stored body that no longer exists (expired by the bucket's
 * lifecycle before a late replay, say) gives the pointer event back with a skip reason instead of
 * throwing: no retry can bring it back. Any other failure (S3 unreachable, access denied, a pointer
 * at another bucket, a body that is not JSON) still rejects, so the event is retried and finally
 * dead-lettered for an operator.
 */
export async function readFullEvent<E extends EventEnvelope>(
  event: E,
  reader: BodyReader,
): Promise<FullEvent<E>> {
  try {
    return { event: await withFullDetail(event, reader) };
  } catch (error) {
    if (isMissingBody(error)) return { event, skip: OVERSIZED_BODY_MISSING };
    throw error;
  }
}
