/**
 * A rotation end to end against the stand-in for Buildkite's API over HTTP: `npm run register`'s
 * code creates the webhook, then the rotation function's four steps run with the real Buildkite
 * adapter (REST client, notification services) and an in-memory secret on a fake clock.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { BuildkiteRestClient } from '../../../lambda/shared/buildkite-rest';
import { BuildkiteWebhooks, webhookDescription } from '../../../lambda/shared/buildkite-webhooks';
import { parseSecretTokens } from '../../../lambda/verify/tokens';
import { rotateWebhookToken } from '../../../lambda/webhook-rotation/app';
import { buildkiteWebhookRegistry } from '../../../lambda/webhook-rotation/aws-adapters';
import { ROTATION_STEPS } from '../../../lambda/webhook-rotation/ports';
import { startBuildkiteStub, type BuildkiteStub } from '../../../local/buildkite-stub';
import { register } from '../../../scripts/register';
import { FakeClock, MemorySecret, silentLog } from './support';

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:WebhookSecret-abc';
const URL_ = 'https://abc.execute-api.eu-west-1.amazonaws.com/v1/buildkite';
const DESCRIPTION = webhookDescription('Kitebridge');
const T0 = Date.parse('2026-12-06T12:00:00Z');

let stub: BuildkiteStub;
beforeEach(async () => {
  sm.reset();
  sm.on(GetSecretValueCommand, { SecretId: 'arn:api' }).resolves({ SecretString: 'api-token' });
  stub = await startBuildkiteStub({ organization: 'acme', apiToken: 'api-token', port: 0 });
});
afterEach(() => stub.close());

it('register, then rotate: Buildkite ends with the new token, the secret accepts the old one for the grace period only', async () => {
  const api = new BuildkiteWebhooks(
    new BuildkiteRestClient({ baseUrl: stub.url, token: 'api-token' }),
    'acme',
  );
  await register(api, { url: URL_, token: 'old-token', description: DESCRIPTION });

  const clock = new FakeClock(T0);
  const secret = new MemorySecret(clock.now, '{"token":"old-token"}');
  secret.startRotation('v-rotation');
  const deps = {
    secrets: () => secret,
    webhook: buildkiteWebhookRegistry({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      apiTokenSecretArn: 'arn:api',
      organization: 'acme',
      webhookUrl: URL_,
      description: DESCRIPTION,
      baseUrl: stub.url,
    }),
    clock,
    log: silentLog,
    generateToken: () => 'new-token',
  };
  const settings = { webhookSecretArn: ARN, propagationMs: 330_000, graceMs: 3_600_000 };
  for (const Step of ROTATION_STEPS) {
    await rotateWebhookToken({ Step, SecretId: ARN, ClientRequestToken: 'v-rotation' }, deps, settings);
  }

  expect(stub.state.services).toHaveLength(1);
  expect(stub.state.services[0]?.settings).toMatchObject({
    url: URL_,
    token: 'new-token',
    token_mode: 'signature',
  });
  const patches = stub.state.requests.filter((r) => r.method === 'PATCH');
  expect(patches).toHaveLength(1);
  expect(clock.now()).toBe(T0 + 330_000);
  const value = secret.currentValue();
  expect(parseSecretTokens(value, clock.now() + 3_599_999)).toEqual(['new-token', 'old-token']);
  expect(parseSecretTokens(value, clock.now() + 3_600_000)).toEqual(['new-token']);

  // register afterwards sees the webhook as up to date once the secret's current token is the new one.
  expect(await register(api, { url: URL_, token: 'new-token', description: DESCRIPTION })).toMatchObject({
    action: 'unchanged',
  });
});
