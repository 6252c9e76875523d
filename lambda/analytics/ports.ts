/** The interfaces the analytics app needs: where records go and where metrics go. */
import type { MetricPoint } from './metrics';

/** Where records go: Firehose when deployed, a JSON-lines file locally. */
export interface RecordSink<R> {
  /** Writes every record or throws; a record may be written more than once (at-least-once). */
  put(records: readonly R[]): Promise<void>;
}

/** Publishes data points; the Powertools one writes EMF lines to the function log. */
export interface MetricsEmitter {
  emit(points: readonly MetricPoint[]): void;
}
