import { requireEnv, requireIntEnv } from '../shared/env';
import { parseRoutingPaths } from '../shared/pointer';
import { createVerifyHandler } from './app';
import { EventDeliverer } from './event-publishing';
import { createDeliveryLog, createOutcomeObserver, logLevelFromEnv } from './observer';
import type { BodyStore, Publisher, Spool } from './ports';
import { TokenSource, type SecretFetcher } from './token-source';
import { parseTriggerDefinitions } from './trigger-config';

/** The adapters the deployed verify function runs on: `handler.ts` builds them over AWS. */
export interface DeployedAdapters {
  readonly publisher: Publisher;
  readonly spool: Spool;
  readonly bodies: BodyStore;
  /** The (caching) fetcher of one secret's value, by ARN. */
  readonly secret: (arn: string) => SecretFetcher;
}

/**
 * The verify function as deployed: settings, triggers and routing paths read from the function's
 * environment, the token sources, the deliverer and its warning/error lines, and the per-request
 * observer (one line that is both the structured log line and the EMF metrics). The log level is
 * read from the environment as Powertools Logger reads it (`POWERTOOLS_LOG_LEVEL` …). `handler.ts` calls it once at import with
 * the AWS adapters; the warm-cost benchmark calls it with the same adapters over clients answered
 * in-process, so it measures this composition, not a copy of it.
 */
export function createDeployedHandler(env: NodeJS.ProcessEnv, adapters: DeployedAdapters) {
  const logLevel = logLevelFromEnv(env);
  const samplingRate = Number(env.POWERTOOLS_LOGGER_SAMPLE_RATE ?? 0);
  const tokenSource = (arn: string) => new TokenSource(adapters.secret(arn));
  const triggers = new Map(
    parseTriggerDefinitions(env.TRIGGERS).map((definition) => [
      definition.name,
      { definition, secrets: tokenSource(definition.secretArn as string) },
    ]),
  );
  const deliverer = new EventDeliverer({
    publisher: adapters.publisher,
    spool: adapters.spool,
    bodies: adapters.bodies,
    log: createDeliveryLog({
      serviceName: 'verify',
      logLevel,
      samplingRate: samplingRate >= 0 && samplingRate <= 1 ? samplingRate : 0,
    }),
    routingPaths: parseRoutingPaths(env.ROUTING_PATHS),
  });
  return createVerifyHandler(
    { tokens: tokenSource(requireEnv('WEBHOOK_SECRET_ARN', env)), deliverer, triggers },
    {
      replayWindowSeconds: requireIntEnv('REPLAY_WINDOW_SECONDS', env),
      maxBodyBytes: requireIntEnv('MAX_BODY_BYTES', env),
    },
    // One line per request: the structured log line, carrying the request's metrics as EMF.
    createOutcomeObserver({
      serviceName: 'verify',
      logLevel,
      metricsDisabled: env.POWERTOOLS_METRICS_DISABLED === 'true',
    }),
  );
}
