import type { EventEnvelope } from '../shared/contract';
import type { RecordSink } from './firehose';
import { metricsFor, type MetricsEmitter } from './metrics';
import type { AnalyticsRecord } from './record';
import { toRecord } from './to-record';

export interface AnalyticsAppOptions {
  readonly sink: RecordSink<AnalyticsRecord>;
  readonly metrics?: MetricsEmitter;
}

/**
 * The analytics consumer, deployed and local alike: event → record → sink, then metrics. A sink
 * failure propagates (at-least-once: the event is retried, and a duplicate record is harmless
 * because queries keep one row per `dedupe_key`); metrics are written only after the record is.
 */
export class AnalyticsApp {
  constructor(private readonly options: AnalyticsAppOptions) {}

  async handle(event: EventEnvelope): Promise<AnalyticsRecord> {
    const record = toRecord(event);
    await this.options.sink.put([record]);
    this.options.metrics?.emit(metricsFor(record));
    return record;
  }
}
