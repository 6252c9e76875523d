import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AutoscalerConfig } from './config';
import { apiTokenFromSecret, BuildkiteRestClient } from '../shared/buildkite-rest';
import type { EventEnvelope } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { EventBridgePublisher } from '../shared/event-bridge-publisher';
import { createLogger, createMetrics } from '../shared/powertools';
import { lazyS3BodyReader } from '../shared/lazy-s3-body-reader';
import { SkipReporter } from '../shared/skipped';
import { BuildkiteAgentChecker } from './agent-checks';
import { agentTokenFrom } from './agent-token';
import { AutoscalerApp } from './app';
import {
  AutoScalingGroups,
  BUILDKITE_METRICS_NAMESPACE,
  BuildkiteMetricsPublisher,
  BusHealthEvents,
  CloudWatchFleetMetrics,
  DynamoAutoscalerStateStore,
  DynamoFleetStore,
} from './aws-adapters';
import { AutoscalerController } from './controller';
import { FleetActions } from './fleet-actions';
import { BuildkiteJobChecker } from './job-checks';
import { BuildkiteMetricsClient } from './metrics-api';
import { systemClock } from '../shared/clock';

const logger = createLogger('autoscaler');
// Validated (and defaulted) with the same schema at synth, then written here by the construct:
// re-validating at every cold start would bundle zod into the function for nothing.
const config = JSON.parse(requireEnv('AUTOSCALER_CONFIG')) as AutoscalerConfig;
const clientConfig = { maxAttempts: 3, requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } };
const secrets = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(clientConfig) });
const agentTokenArn = requireEnv('AGENT_TOKEN_SECRET_ARN');
// Optional: without a Buildkite API token no agent can be re-checked, so no instance is terminated,
// and a job is reported stuck on its record alone.
const apiTokenArn = process.env.BUILDKITE_API_TOKEN_SECRET_ARN;
const readSecret = async (arn: string): Promise<string> => {
  const value = await secrets.get(arn, { maxAge: 300 });
  if (typeof value !== 'string') throw new Error('The secret has no string value.');
  return value;
};

// Agents re-checked before a scale-in (read_agents), jobs before a job.stuck (read_builds).
const buildkiteApi = apiTokenArn
  ? new BuildkiteRestClient({
      token: async () => apiTokenFromSecret(await readSecret(apiTokenArn)),
      timeoutMs: 5000,
    })
  : undefined;

const dynamo = new DynamoDBClient(clientConfig);
const groups = new AutoScalingGroups(new AutoScalingClient(clientConfig));
const buildkiteMetrics = new BuildkiteMetricsPublisher(
  new Metrics({ namespace: BUILDKITE_METRICS_NAMESPACE, serviceName: 'autoscaler' }),
);
const ownMetrics = createMetrics('autoscaler');

const fleet = new FleetActions({
  config,
  fleet: new DynamoFleetStore(dynamo, requireEnv('FLEET_TABLE_NAME')),
  groups,
  ...(buildkiteApi
    ? {
        checker: new BuildkiteAgentChecker(buildkiteApi, config.org),
        jobChecker: new BuildkiteJobChecker(buildkiteApi, config.org),
      }
    : {}),
  metrics: new CloudWatchFleetMetrics(buildkiteMetrics, ownMetrics),
  health: new BusHealthEvents(
    new EventBridgePublisher(new EventBridgeClient(clientConfig), requireEnv('EVENT_BUS_NAME')),
  ),
  log: logger,
  clock: systemClock,
});

const controller = new AutoscalerController({
  config,
  store: new DynamoAutoscalerStateStore(dynamo, requireEnv('STATE_TABLE_NAME')),
  metrics: new BuildkiteMetricsClient({
    baseUrl: config.metricsApiUrl,
    token: async () => agentTokenFrom(await readSecret(agentTokenArn)),
  }),
  groups,
  counts: buildkiteMetrics,
  fleet,
  log: logger,
  clock: systemClock,
});

const app = new AutoscalerApp({
  config,
  controller,
  fleet,
  bodies: lazyS3BodyReader(requireEnv('OVERSIZED_BUCKET_NAME'), clientConfig),
  // `Skipped` goes to kitebridge's own namespace; the Buildkite-namespace metrics stay apart.
  skips: new SkipReporter(logger, ownMetrics),
  log: logger,
});

/** EventBridge target: Buildkite job/agent events of configured queues, and the reconcile schedule. */
export const handler = async (event: EventEnvelope): Promise<void> => {
  await app.handle(event);
};
