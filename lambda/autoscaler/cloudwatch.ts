import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { QueueCounts } from './decision';

/** The namespace buildkite-agent-metrics publishes to, so existing dashboards and alarms keep working. */
export const BUILDKITE_METRICS_NAMESPACE = 'Buildkite';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** buildkite-agent-metrics' per-queue metric names and their values for one queue's counts. */
export function buildkiteMetricValues(counts: QueueCounts): Record<string, { value: number; unit: Unit }> {
  const count = (value: number) => ({ value, unit: MetricUnit.Count });
  return {
    ScheduledJobsCount: count(counts.scheduled),
    RunningJobsCount: count(counts.running),
    UnfinishedJobsCount: count(counts.scheduled + counts.running + counts.waiting),
    WaitingJobsCount: count(counts.waiting),
    IdleAgentCount: count(counts.idleAgents),
    BusyAgentCount: count(counts.busyAgents),
    TotalAgentCount: count(counts.totalAgents),
    BusyAgentPercentage: {
      value: counts.totalAgents === 0 ? 0 : (counts.busyAgents / counts.totalAgents) * 100,
      unit: MetricUnit.Percent,
    },
  };
}

/**
 * Publishes one queue's counts as CloudWatch metrics in namespace `Buildkite` with exactly the
 * dimensions `Org` and `Queue`, through CloudWatch embedded metric format (a log line the
 * service turns into metrics): no PutMetricData call on the decision path, and no IAM.
 */
export class BuildkiteMetricsPublisher {
  /** `metrics` must be a Metrics instance in the `Buildkite` namespace, used for nothing else. */
  constructor(private readonly metrics: Metrics) {
    // Powertools adds a `service` dimension by default; an extra dimension would make these
    // different metrics from the ones alarms were written against.
    this.metrics.clearDefaultDimensions();
  }

  /** Stages the metrics of one queue (call `flush` to write them). */
  stage(org: string, queue: string, counts: QueueCounts): void {
    this.metrics.addDimensions({ Org: org, Queue: queue });
    for (const [name, { value, unit }] of Object.entries(buildkiteMetricValues(counts))) {
      this.metrics.addMetric(name, unit, value);
    }
  }

  /** Writes the staged metrics of one queue; dimensions reset for the next. */
  flush(): void {
    this.metrics.publishStoredMetrics();
  }

  /** Stages and writes one queue's metrics. */
  publish(org: string, queue: string, counts: QueueCounts): void {
    this.stage(org, queue, counts);
    this.flush();
  }
}

/** Where per-queue counts go (CloudWatch when deployed, a log line locally). */
export interface CountsPublisher {
  publish(org: string, queue: string, counts: QueueCounts): void;
}
