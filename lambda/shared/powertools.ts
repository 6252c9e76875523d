import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** CloudWatch namespace of kitebridge's own metrics (the autoscaler also writes `Buildkite`). */
export const METRICS_NAMESPACE = 'kitebridge';

/** Count of defects a function caught and answered for (the verify function's 503 internal_error); alarmed on. */
export const UNEXPECTED_ERRORS_METRIC = 'UnexpectedErrors';

/** One logger per function, JSON, with the service name set; never given request headers. */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
}
