import type { AnalyticsRecord } from './record';

/** Metric names the analytics function publishes (namespace `kitebridge`, dimension service=analytics). */
export const ANALYTICS_METRICS = {
  /** Seconds, per `Pipeline`: build `finished_at` − `started_at`, on `build.finished`. */
  buildDuration: 'BuildDuration',
  /** Count, per `Pipeline` and `State` (`blocked` for blocked builds): one per `build.finished`. */
  buildsFinished: 'BuildsFinished',
  /** Seconds, per `Queue`: job `started_at` − `runnable_at`, on `job.started`. */
  jobQueueWait: 'JobQueueWait',
} as const;

/** The `service` dimension of the analytics function's metrics. */
export const ANALYTICS_SERVICE = 'analytics';

/** One EMF data point. */
export interface MetricPoint {
  readonly name: string;
  readonly unit: 'Seconds' | 'Count';
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The data points one record gives: build duration and count by state per pipeline, queue wait per queue. */
export function metricsFor(record: AnalyticsRecord): MetricPoint[] {
  const points: MetricPoint[] = [];
  if (record.event === 'build.finished') {
    const pipeline = record.pipeline ?? 'unknown';
    if (record.build_duration_s !== null) {
      points.push({
        name: ANALYTICS_METRICS.buildDuration,
        unit: 'Seconds',
        value: record.build_duration_s,
        dimensions: { Pipeline: pipeline },
      });
    }
    points.push({
      name: ANALYTICS_METRICS.buildsFinished,
      unit: 'Count',
      value: 1,
      dimensions: {
        Pipeline: pipeline,
        State: record.build_blocked ? 'blocked' : (record.build_state ?? 'unknown'),
      },
    });
  }
  if (record.event === 'job.started' && record.queue_wait_s !== null) {
    points.push({
      name: ANALYTICS_METRICS.jobQueueWait,
      unit: 'Seconds',
      value: record.queue_wait_s,
      dimensions: { Queue: record.queue ?? 'default' },
    });
  }
  return points;
}
