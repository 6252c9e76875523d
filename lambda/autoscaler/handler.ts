import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AutoscalerConfig } from './config';
import type { EventEnvelope } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { createLogger, createMetrics } from '../shared/powertools';
import { lazyS3BodyReader } from '../shared/lazy-s3-body-reader';
import { SkipReporter } from '../shared/skipped';
import { agentTokenFrom, systemClock } from './adapters';
import { AutoscalerApp } from './app';
import { AutoScalingGroups } from './auto-scaling';
import { BUILDKITE_METRICS_NAMESPACE, BuildkiteMetricsPublisher } from './cloudwatch';
import { AutoscalerController } from './controller';
import { BuildkiteMetricsClient } from './metrics-api';
import { DynamoStateStore } from './state-store';

const logger = createLogger('autoscaler');
// Validated (and defaulted) with the same schema at synth, then written here by the construct:
// re-validating at every cold start would bundle zod into the function for nothing.
const config = JSON.parse(requireEnv('AUTOSCALER_CONFIG')) as AutoscalerConfig;
const clientConfig = { maxAttempts: 3, requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } };
const secrets = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig) });
const secretArn = requireEnv('AGENT_TOKEN_SECRET_ARN');

const controller = new AutoscalerController({
  config,
  store: new DynamoStateStore(new DynamoDBClient(clientConfig), requireEnv('STATE_TABLE_NAME')),
  metrics: new BuildkiteMetricsClient({
    baseUrl: config.metricsApiUrl,
    token: async () => {
      const value = await secrets.get(secretArn, { maxAge: 300 });
      if (typeof value !== 'string') throw new Error('The agent token secret has no string value.');
      return agentTokenFrom(value);
    },
  }),
  groups: new AutoScalingGroups(new AutoScalingClient(clientConfig)),
  counts: new BuildkiteMetricsPublisher(
    new Metrics({ namespace: BUILDKITE_METRICS_NAMESPACE, serviceName: 'autoscaler' }),
  ),
  log: logger,
  clock: systemClock,
});

const app = new AutoscalerApp({
  config,
  controller,
  bodies: lazyS3BodyReader(requireEnv('OVERSIZED_BUCKET_NAME'), clientConfig),
  // `Skipped` goes to kitebridge's own namespace; the Buildkite-namespace metrics stay apart.
  skips: new SkipReporter(logger, createMetrics('autoscaler')),
  log: logger,
});

/** EventBridge target: Buildkite job/agent events of configured queues, and the reconcile schedule. */
export const handler = async (event: EventEnvelope): Promise<void> => {
  await app.handle(event);
};
