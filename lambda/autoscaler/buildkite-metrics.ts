import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { QueueCounts } from './decision';

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
