import {
  derivedVersionId,
  rotateWebhookToken,
  RotationError,
  type RotationSettings,
} from '../../../lambda/webhook-rotation/app';
import { STAGE, type RotationStep } from '../../../lambda/webhook-rotation/ports';
import { parseSecretTokens, readWebhookSecret } from '../../../lambda/verify/tokens';
import { FakeClock, MemorySecret, MemoryWebhook } from './support';

const ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:WebhookSecret-abc';
const T0 = Date.parse('2026-12-06T12:00:00Z');
const VERSION = '11111111-2222-3333-4444-555555555555';
const SETTINGS: RotationSettings = { webhookSecretArn: ARN, propagationMs: 330_000, graceMs: 3_600_000 };

function setup(initial = '{"token":"old"}', buildkiteToken = 'old') {
  const clock = new FakeClock(T0);
  const secret = new MemorySecret(clock.now, initial);
  const webhook = new MemoryWebhook(clock.now, buildkiteToken);
  const warnings: string[] = [];
  const deps = {
    secrets: () => secret,
    webhook,
    clock,
    log: { info: () => undefined, warn: (m: string) => void warnings.push(m) },
    generateToken: () => 'new',
  };
  const step = (Step: RotationStep, settings: RotationSettings = SETTINGS) =>
    rotateWebhookToken({ Step, SecretId: ARN, ClientRequestToken: VERSION }, deps, settings);
  secret.startRotation(VERSION);
  return { clock, secret, webhook, step, warnings, deps };
}

describe('rotateWebhookToken, step by step', () => {
  it('createSecret: AWSPENDING holds the new token and the old one, no expiry; AWSCURRENT untouched', async () => {
    const { secret, step } = setup();
    await step('createSecret');
    const pending = await secret.read({ stage: STAGE.pending });
    expect(JSON.parse(pending!.value)).toEqual({ token: 'new', previousToken: 'old' });
    expect(secret.currentValue()).toBe('{"token":"old"}');
  });

  it('setSecret: AWSCURRENT accepts both first, waits out the verify cache, then PATCHes Buildkite', async () => {
    const { clock, secret, webhook, step } = setup();
    await step('createSecret');
    await step('setSecret');
    expect(parseSecretTokens(secret.currentValue(), clock.now())).toEqual(['new', 'old']);
    expect(webhook.patches).toEqual([{ at: T0 + 330_000, token: 'new' }]);
  });

  it('testSecret passes once Buildkite has the new token, and fails when it reports another', async () => {
    const { webhook, step } = setup();
    await step('createSecret');
    await step('setSecret');
    await expect(step('testSecret')).resolves.toBeUndefined();
    webhook.service = {
      ...webhook.service,
      settings: { ...webhook.service.settings, token: 'someone-else' },
    };
    await expect(step('testSecret')).rejects.toThrow(/Buildkite reports another token for webhook svc-1/);
  });

  it('finishSecret: the new token is current, the old one expires after the grace period, AWSPENDING is gone', async () => {
    const { clock, secret, step } = setup();
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) await step(s);
    const finishedAt = clock.now();
    expect(JSON.parse(secret.currentValue())).toEqual({
      token: 'new',
      previousToken: 'old',
      previousExpiresAt: new Date(finishedAt + 3_600_000).toISOString(),
    });
    expect(parseSecretTokens(secret.currentValue(), finishedAt + 3_599_999)).toEqual(['new', 'old']);
    expect(parseSecretTokens(secret.currentValue(), finishedAt + 3_600_000)).toEqual(['new']);
    const { versions } = await secret.describe();
    expect(Object.values(versions).filter((stages) => stages.includes(STAGE.pending))).toEqual([]);
    expect(versions[derivedVersionId(VERSION, 'final')]).toEqual([STAGE.current]);
  });

  it('every step can run twice (Secrets Manager retries) with the same outcome', async () => {
    const { secret, webhook, step } = setup();
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await step(s);
      await step(s);
    }
    expect(webhook.patches).toHaveLength(1);
    expect(readWebhookSecret(secret.currentValue()).current).toEqual(['new']);
    expect(secret.writes.map((w) => w.stages)).toEqual([[STAGE.pending], [STAGE.current], [STAGE.current]]);
  });

  it('setSecret does not wait again once the accepting version is older than the cache', async () => {
    const { clock, webhook, step } = setup();
    await step('createSecret');
    await step('setSecret');
    webhook.service = { ...webhook.service, settings: { ...webhook.service.settings, token: 'old' } };
    const before = clock.now();
    await step('setSecret');
    expect(clock.now()).toBe(before);
    expect(webhook.patches.map((p) => p.token)).toEqual(['new', 'new']);
  });
});

describe('old tokens are kept, whatever the secret shape (the old manual script lost them)', () => {
  it.each([
    ['a plain string', 'plain-old', 'plain-old', ['new', 'plain-old']],
    ['{"tokens": [...]}', '{"tokens":["a","b"]}', 'b', ['new', 'b', 'a']],
    ['a rotation in its grace period', '{"token":"x","previousToken":"y"}', 'x', ['new', 'x', 'y']],
  ])('from %s', async (_what, initial, inUse, accepted) => {
    const { clock, secret, step } = setup(initial, inUse);
    await step('createSecret');
    await step('setSecret');
    expect(parseSecretTokens(secret.currentValue(), clock.now())).toEqual(accepted);
  });

  it('warns when Buildkite uses a token the secret does not accept, and keeps it accepted too', async () => {
    const { clock, secret, step, warnings } = setup('{"token":"ours"}', 'theirs');
    await step('createSecret');
    await step('setSecret');
    expect(warnings.join('\n')).toMatch(/not one the secret accepts/);
    expect(parseSecretTokens(secret.currentValue(), clock.now())).toEqual(['new', 'theirs', 'ours']);
  });
});

describe('refusals', () => {
  it('another secret', async () => {
    const { deps } = setup();
    await expect(
      rotateWebhookToken(
        { Step: 'createSecret', SecretId: 'arn:other', ClientRequestToken: VERSION },
        deps,
        SETTINGS,
      ),
    ).rejects.toThrow(/rotates the kitebridge webhook secret only/);
  });

  it('rotation disabled, an unknown version, a version not pending, an unknown step', async () => {
    const { secret, step, deps } = setup();
    secret.rotationEnabled = false;
    await expect(step('createSecret')).rejects.toThrow(/Rotation is not enabled/);
    secret.rotationEnabled = true;
    await expect(
      rotateWebhookToken({ Step: 'createSecret', SecretId: ARN, ClientRequestToken: 'nope' }, deps, SETTINGS),
    ).rejects.toThrow(/has no stage for rotation/);
    await secret.removeStage(STAGE.pending, VERSION);
    secret.versions.get(VERSION)!.stages.add('OTHER');
    await expect(step('createSecret')).rejects.toThrow(/not set as AWSPENDING/);
    await expect(
      rotateWebhookToken(
        { Step: 'bogus' as RotationStep, SecretId: ARN, ClientRequestToken: VERSION },
        deps,
        SETTINGS,
      ),
    ).rejects.toThrow(/Unknown rotation step "bogus"/);
  });

  it('setSecret before createSecret', async () => {
    const { step } = setup();
    await expect(step('setSecret')).rejects.toThrow(RotationError);
  });

  it('a wait that does not fit the invocation fails the step, with Buildkite untouched and both tokens accepted', async () => {
    const { clock, secret, webhook, step } = setup();
    await step('createSecret');
    await expect(step('setSecret', { ...SETTINGS, remainingMs: () => 120_000 })).rejects.toThrow(
      /must wait 330 s .* raise the rotation function timeout/,
    );
    expect(webhook.patches).toEqual([]);
    expect(parseSecretTokens(secret.currentValue(), clock.now())).toEqual(['new', 'old']);
  });
});

describe('derivedVersionId', () => {
  it('is a stable UUID-shaped id per purpose', () => {
    const accept = derivedVersionId(VERSION, 'accept');
    expect(accept).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(derivedVersionId(VERSION, 'accept')).toBe(accept);
    expect(derivedVersionId(VERSION, 'final')).not.toBe(accept);
  });
});
