/**
 * Rotates the Buildkite webhook token with zero refused deliveries, in Secrets Manager's four
 * steps. The verify function reads the secret's AWSCURRENT value and caches it for at most its
 * cache TTL; everything below is ordered so that no cached view ever lacks a token Buildkite may
 * be sending:
 *
 * 1. createSecret: a new token; the AWSPENDING version holds it plus every token still in use
 *    (Buildkite's, and the ones the secret accepts), with no expiry.
 * 2. setSecret: AWSCURRENT first gets that value (both tokens accepted), then the function waits
 *    until that version is older than the verify cache, so every warm verify function accepts the
 *    new token; only then is the Buildkite webhook PATCHed to it.
 * 3. testSecret: the verify function's own check accepts a delivery signed with the new token
 *    under both the pending and the current value, and Buildkite reports the new token.
 * 4. finishSecret: AWSCURRENT moves to a final version where the previous tokens carry
 *    `previousExpiresAt` = now + grace (longer than the verify cache); the verify function stops
 *    accepting them then. AWSPENDING is detached, which ends the rotation.
 *
 * Every step is idempotent: Secrets Manager may run one again after a failure.
 */
import { createHash } from 'node:crypto';
import { computeSignature, verifySignature } from '../verify/signature';
import {
  acceptedTokens,
  parseSecretTokens,
  primaryToken,
  readWebhookSecret,
  rotatedSecretValue,
} from '../verify/tokens';
import {
  ROTATION_STEPS,
  STAGE,
  type Clock,
  type RotationEvent,
  type RotationLog,
  type SecretStore,
  type WebhookRegistry,
} from './ports';

export interface RotationSettings {
  /** The secret this function may rotate (its ARN); any other SecretId is refused. */
  readonly webhookSecretArn: string;
  /** How long after AWSCURRENT accepts the new token every verify function has read it (cache TTL + margin). */
  readonly propagationMs: number;
  /** How long the previous tokens stay accepted after the rotation finishes. */
  readonly graceMs: number;
  /** Milliseconds this invocation has left (Lambda's context); a wait that does not fit fails the step. */
  readonly remainingMs?: () => number;
}

export interface RotationDeps {
  /** The secret's store; `rotationToken` is the event's, passed on to Secrets Manager's writes. */
  readonly secrets: (secretId: string, rotationToken?: string) => SecretStore;
  readonly webhook: WebhookRegistry;
  readonly clock: Clock;
  readonly log: RotationLog;
  /** A new random webhook token. */
  readonly generateToken: () => string;
}

/** A step that cannot go on; Secrets Manager marks the rotation failed and retries it later. */
export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationError';
  }
}

/** Time kept back from the Lambda timeout when deciding whether a wait fits. */
const WAIT_SAFETY_MS = 30_000;

/** A version id derived from the rotation's own, so a step run twice writes the same version. */
export function derivedVersionId(clientRequestToken: string, purpose: 'accept' | 'final'): string {
  const hex = createHash('sha256').update(`${clientRequestToken}:${purpose}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Runs one rotation step. */
export async function rotateWebhookToken(
  event: RotationEvent,
  deps: RotationDeps,
  settings: RotationSettings,
): Promise<void> {
  if (!ROTATION_STEPS.includes(event.Step)) {
    throw new RotationError(
      `Unknown rotation step "${String(event.Step)}": expected one of ${ROTATION_STEPS.join(', ')}.`,
    );
  }
  if (event.SecretId !== settings.webhookSecretArn) {
    throw new RotationError(
      `This function rotates the kitebridge webhook secret only (${settings.webhookSecretArn}), not ${event.SecretId}.`,
    );
  }
  const store = deps.secrets(event.SecretId, event.RotationToken);
  const { rotationEnabled, versions } = await store.describe();
  if (!rotationEnabled) throw new RotationError(`Rotation is not enabled on ${event.SecretId}.`);
  const token = event.ClientRequestToken;
  const finalId = derivedVersionId(token, 'final');

  if (event.Step === 'finishSecret' && versions[finalId]?.includes(STAGE.current)) {
    // Finished before (a repeated invocation): just make sure the pending stage is gone.
    if (versions[token]?.includes(STAGE.pending)) await store.removeStage(STAGE.pending, token);
    return;
  }
  const stages = versions[token];
  if (!stages)
    throw new RotationError(`Secret version ${token} has no stage for rotation of ${event.SecretId}.`);
  if (stages.includes(STAGE.current)) {
    deps.log.info('Version is already current: nothing to do', { step: event.Step, versionId: token });
    return;
  }
  if (!stages.includes(STAGE.pending)) {
    throw new RotationError(
      `Secret version ${token} is not set as AWSPENDING for rotation of ${event.SecretId}.`,
    );
  }

  switch (event.Step) {
    case 'createSecret':
      return createSecret(store, token, deps);
    case 'setSecret':
      return setSecret(store, token, deps, settings);
    case 'testSecret':
      return testSecret(store, token, deps);
    case 'finishSecret':
      return finishSecret(store, token, finalId, deps, settings);
  }
}

async function pendingOf(store: SecretStore, token: string): Promise<{ value: string; newToken: string }> {
  const pending = await store.read({ versionId: token, stage: STAGE.pending });
  if (!pending)
    throw new RotationError(`The pending version ${token} has no value: createSecret has not run.`);
  const newToken = primaryToken(readWebhookSecret(pending.value));
  if (!newToken) throw new RotationError(`The pending version ${token} holds no new token.`);
  return { value: pending.value, newToken };
}

async function currentOf(store: SecretStore) {
  const current = await store.read({ stage: STAGE.current });
  if (!current) throw new RotationError('The webhook secret has no AWSCURRENT value to rotate from.');
  return current;
}

async function createSecret(store: SecretStore, token: string, deps: RotationDeps): Promise<void> {
  if (await store.read({ versionId: token, stage: STAGE.pending })) {
    deps.log.info('createSecret: the pending version exists already', { versionId: token });
    return;
  }
  const current = await currentOf(store);
  const accepted = acceptedTokens(readWebhookSecret(current.value), deps.clock.now());
  const service = await deps.webhook.find();
  const inUse = typeof service.settings.token === 'string' ? service.settings.token : undefined;
  if (inUse === undefined || !accepted.includes(inUse)) {
    deps.log.warn(
      "createSecret: Buildkite's webhook token is not one the secret accepts; deliveries are refused until this rotation sets it",
      { serviceId: service.id },
    );
  }
  const newToken = deps.generateToken();
  const previous = [...(inUse === undefined ? [] : [inUse]), ...accepted];
  await store.put(token, rotatedSecretValue(newToken, previous), [STAGE.pending]);
  deps.log.info('createSecret: new token stored as AWSPENDING', {
    versionId: token,
    previousTokens: new Set(previous).size,
  });
}

async function setSecret(
  store: SecretStore,
  token: string,
  deps: RotationDeps,
  settings: RotationSettings,
): Promise<void> {
  const { value, newToken } = await pendingOf(store, token);
  let current = await currentOf(store);
  if (!parseSecretTokens(current.value, deps.clock.now()).includes(newToken)) {
    await store.put(derivedVersionId(token, 'accept'), value, [STAGE.current]);
    current = await currentOf(store);
    deps.log.info('setSecret: AWSCURRENT accepts the new and the previous tokens', {
      versionId: current.versionId,
    });
  }
  // Every verify function re-reads AWSCURRENT within its cache TTL: once this version is older
  // than that (plus a margin), no warm function can refuse the new token.
  const wait = current.createdAt + settings.propagationMs - deps.clock.now();
  if (wait > 0) {
    const left = settings.remainingMs?.() ?? Number.POSITIVE_INFINITY;
    if (wait > left - WAIT_SAFETY_MS) {
      throw new RotationError(
        `setSecret must wait ${Math.ceil(wait / 1000)} s for every verify function to accept the new token, more than this invocation has left: ` +
          'raise the rotation function timeout. The rotation is retried; the new token is already accepted.',
      );
    }
    deps.log.info('setSecret: waiting for every verify function to read the new token', { waitMs: wait });
    await deps.clock.sleep(wait);
  }
  const service = await deps.webhook.find();
  if (service.settings.token === newToken) {
    deps.log.info('setSecret: Buildkite already has the new token', { serviceId: service.id });
    return;
  }
  await deps.webhook.setToken(service, newToken);
  deps.log.info("setSecret: the Buildkite webhook's token was replaced", { serviceId: service.id });
}

async function testSecret(store: SecretStore, token: string, deps: RotationDeps): Promise<void> {
  const { value, newToken } = await pendingOf(store, token);
  const current = await currentOf(store);
  // The verify function's own signature check, on a ping signed the way Buildkite signs.
  const now = new Date(deps.clock.now());
  const body = Buffer.from('{"event":"ping"}');
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const header = `timestamp=${timestamp},signature=${computeSignature(newToken, timestamp, body)}`;
  for (const [what, secret] of [
    ['pending', value],
    ['current', current.value],
  ] as const) {
    const check = verifySignature(header, body, parseSecretTokens(secret, now.getTime()), now, 300);
    if (!check.ok) {
      throw new RotationError(
        `testSecret: the verify check refuses the new token under the ${what} value (${check.reason}).`,
      );
    }
  }
  const service = await deps.webhook.find();
  if (service.settings.token !== newToken) {
    throw new RotationError(
      `testSecret: Buildkite reports another token for webhook ${service.id}: the update did not take. The rotation is retried; both tokens stay accepted.`,
    );
  }
  deps.log.info('testSecret: the verify check and Buildkite both have the new token', {
    serviceId: service.id,
  });
}

async function finishSecret(
  store: SecretStore,
  token: string,
  finalId: string,
  deps: RotationDeps,
  settings: RotationSettings,
): Promise<void> {
  const pending = await store.read({ versionId: token });
  if (!pending)
    throw new RotationError(`The pending version ${token} has no value: createSecret has not run.`);
  const secret = readWebhookSecret(pending.value);
  const newToken = primaryToken(secret) as string;
  const expiresAt = new Date(deps.clock.now() + settings.graceMs);
  await store.put(finalId, rotatedSecretValue(newToken, secret.previous, expiresAt), [STAGE.current]);
  await store.removeStage(STAGE.pending, token);
  deps.log.info(
    'finishSecret: the new token is current; the previous ones are accepted until previousExpiresAt',
    {
      versionId: finalId,
      previousExpiresAt: expiresAt.toISOString(),
    },
  );
}
