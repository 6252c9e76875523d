import type { EventEnvelope } from '../shared/contract';
import type { BodyReader } from '../shared/oversized';
import { readFullEvent, type SkipReporter } from '../shared/skipped';
import { metricsFor } from './metrics';
import type { MetricsEmitter, RecordSink } from './ports';
import type { AnalyticsRecord } from './record';
import { incompleteReason, toRecord } from './to-record';

export interface AnalyticsDeps {
  readonly sink: RecordSink<AnalyticsRecord>;
  /** Reads the stored body of an oversized delivery (S3 deployed, a folder locally). */
  readonly bodies: BodyReader;
  readonly metrics?: MetricsEmitter;
  /** Told about deliveries recorded with nulls where the record needs an object or id. */
  readonly skips?: SkipReporter;
}

/**
 * The analytics consumer, deployed and local alike: event (read whole when oversized) → record →
 * sink, then metrics. A sink or S3 failure propagates (at-least-once: the event is retried, and a
 * duplicate record is harmless because queries keep one row per `dedupe_key`); metrics and the
 * skip report are written only after the record is.
 *
 * A body that lacks what its record needs (a job event with no job, a build with no id: Buildkite's
 * documented examples elide whole objects) is still recorded, with nulls, and reported as skipped
 * with the reason; so is a pointer whose stored body is gone (recorded from the pointer's fields).
 */
export class AnalyticsApp {
  constructor(private readonly options: AnalyticsDeps) {}

  async handle(event: EventEnvelope): Promise<AnalyticsRecord> {
    const full = await readFullEvent(event, this.options.bodies);
    const record = toRecord(full.event);
    await this.options.sink.put([record]);
    const reason = full.skip ?? incompleteReason(full.event);
    if (reason) {
      this.options.skips?.skipped({
        reason,
        eventId: event.id,
        detailType: event['detail-type'],
        effect: 'recorded with nulls',
        details: { dedupeKey: record.dedupe_key },
      });
    }
    this.options.metrics?.emit(metricsFor(record));
    return record;
  }
}
