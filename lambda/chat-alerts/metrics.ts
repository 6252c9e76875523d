import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SkipCounter } from './app';
import type { SkipReason } from './model';

/** The metric a skipped delivery counts in (namespace `kitebridge`, service `chat-alerts`). */
export const SKIPPED_METRIC = 'Skipped';

/** Counts each skip as its own EMF document, `Skipped` = 1 with dimension `Reason`. */
export class PowertoolsSkipCounter implements SkipCounter {
  constructor(private readonly metrics: Metrics) {}

  skipped(reason: SkipReason): void {
    const single = this.metrics.singleMetric();
    single.addDimension('Reason', reason);
    single.addMetric(SKIPPED_METRIC, MetricUnit.Count, 1);
  }
}
