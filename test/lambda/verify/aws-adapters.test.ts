import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { secretsManagerFetcher } from '../../../lambda/verify/aws-adapters';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf';
const secrets = mockClient(SecretsManagerClient);

beforeEach(() => secrets.reset());

function fetcher(clock: { now: number }, maxAgeMs = 300_000) {
  return secretsManagerFetcher(new SecretsManagerClient({ region: 'us-east-1' }), ARN, {
    maxAgeMs,
    now: () => clock.now,
  });
}

describe('secretsManagerFetcher', () => {
  it('reads the secret by its id once, then serves it from memory until maxAge has passed', async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'v1' }).resolves({ SecretString: 'v2' });
    const clock = { now: 1_000_000 };
    const fetch = fetcher(clock);

    expect(await fetch(false)).toBe('v1');
    clock.now += 299_999;
    expect(await fetch(false)).toBe('v1');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: ARN });

    clock.now += 1;
    expect(await fetch(false)).toBe('v2');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('hands out the same settled promise for a cached value (no work per request)', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'v1' });
    const fetch = fetcher({ now: 0 });
    await fetch(false);
    expect(fetch(false)).toBe(fetch(false));
  });

  it('always calls when asked for a fresh value, and keeps what it read', async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'v1' }).resolves({ SecretString: 'v2' });
    const fetch = fetcher({ now: 0 });
    expect(await fetch(false)).toBe('v1');
    expect(await fetch(true)).toBe('v2');
    expect(await fetch(false)).toBe('v2');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one call among concurrent reads of an empty cache', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'v1' });
    const fetch = fetcher({ now: 0 });
    expect(await Promise.all([fetch(false), fetch(false), fetch(false)])).toEqual(['v1', 'v1', 'v1']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('caches no failure: the next read calls again', async () => {
    secrets.on(GetSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({ SecretString: 'v1' });
    const fetch = fetcher({ now: 0 });
    await expect(fetch(false)).rejects.toThrow('throttled');
    expect(await fetch(false)).toBe('v1');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refuses a secret that has no string value, and does not cache it', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretBinary: new Uint8Array([1, 2, 3]) })
      .resolves({ SecretString: 'v1' });
    const fetch = fetcher({ now: 0 });
    await expect(fetch(false)).rejects.toThrow('The secret has no string value.');
    expect(await fetch(false)).toBe('v1');
  });
});
