import { requireEnv, requireIntEnv } from '../shared/env';
import { parseRoutingPaths } from '../shared/pointer';
import { createVerifyHandler } from './app';
import { EventDeliverer } from './event-publishing';
import { createOutcomeObserver } from './observer';
import type { BodyStore, DeliveryLog, Publisher, Spool } from './ports';
import { TokenSource, type SecretFetcher } from './token-source';
import { parseTriggerDefinitions } from './trigger-auth';

/** The adapters the deployed verify function runs on: `handler.ts` builds them over AWS. */
export interface DeployedAdapters {
  readonly publisher: Publisher;
  readonly spool: Spool;
  readonly bodies: BodyStore;
  /** The (caching) fetcher of one secret's value, by ARN. */
  readonly secret: (arn: string) => SecretFetcher;
  /** Where the deliverer's warnings and errors go (a failed PutEvents, a failed spool). */
  readonly log: DeliveryLog;
  /** The log level name (Powertools' names), which also governs the per-request line. @default 'INFO' */
  readonly logLevel?: string;
}

/**
 * The verify function as deployed: settings, triggers and routing paths read from the function's
 * environment, the token sources, the deliverer and the per-request observer (one line that is
 * both the structured log line and the EMF metrics). `handler.ts` calls it once at import with
 * the AWS adapters; the warm-cost benchmark calls it with the same adapters over clients answered
 * in-process, so it measures this composition, not a copy of it.
 */
export function createDeployedHandler(env: NodeJS.ProcessEnv, adapters: DeployedAdapters) {
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
    log: adapters.log,
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
      logLevel: adapters.logLevel ?? 'INFO',
      metricsDisabled: env.POWERTOOLS_METRICS_DISABLED === 'true',
    }),
  );
}
