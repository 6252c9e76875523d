import {
  DescribeSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describeStatus, pendingVersion, rotate, RotateError, type RotateDeps } from '../../scripts/rotate';

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:WebhookSecret-abc';
const ROTATING = { RotationEnabled: true, RotationLambdaARN: 'arn:aws:lambda:eu-west-1:1:function:rot' };

let said: string[];
let slept: number[];
const deps = (extra: Partial<RotateDeps> = {}): RotateDeps => ({
  secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
  secretArn: ARN,
  say: (line) => void said.push(line),
  sleep: async (ms) => void slept.push(ms),
  ...extra,
});

beforeEach(() => {
  sm.reset();
  said = [];
  slept = [];
});

describe('rotate', () => {
  it('starts a rotation with RotateSecret on the webhook secret and says what happens next', async () => {
    sm.on(DescribeSecretCommand).resolves({ ...ROTATING, VersionIdsToStages: { v1: ['AWSCURRENT'] } });
    sm.on(RotateSecretCommand).resolves({ VersionId: 'v2' });
    expect(await rotate(deps())).toBe('v2');
    expect(sm.commandCalls(RotateSecretCommand)[0]?.args[0].input).toEqual({ SecretId: ARN });
    expect(said.join('\n')).toMatch(/Started a rotation .*version v2.*about 6 minutes/);
  });

  it('--wait polls until no version is pending', async () => {
    sm.on(DescribeSecretCommand)
      .resolvesOnce({ ...ROTATING, VersionIdsToStages: { v1: ['AWSCURRENT'] } })
      .resolvesOnce({ ...ROTATING, VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } })
      .resolves({ ...ROTATING, VersionIdsToStages: { v3: ['AWSCURRENT'], v1: ['AWSPREVIOUS'], v2: [] } });
    sm.on(RotateSecretCommand).resolves({ VersionId: 'v2' });
    await rotate(deps({ pollMs: 10 }), true);
    expect(slept).toEqual([10, 10]);
    expect(said.at(-1)).toMatch(/finished/);
  });

  it('--wait gives up after the limit, naming the log to read', async () => {
    sm.on(DescribeSecretCommand)
      .resolvesOnce({ ...ROTATING, VersionIdsToStages: { v1: ['AWSCURRENT'] } })
      .resolves({ ...ROTATING, VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } });
    sm.on(RotateSecretCommand).resolves({ VersionId: 'v2' });
    await expect(rotate(deps({ pollMs: 60_000, maxWaitMs: 180_000 }), true)).rejects.toThrow(
      /has not finished after 3 minutes: read the webhook-rotation function log/,
    );
    expect(slept).toHaveLength(3);
  });

  it('without a rotation function, says which key to set or how to rotate by hand', async () => {
    sm.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { v1: ['AWSCURRENT'] } });
    await expect(rotate(deps())).rejects.toThrow(RotateError);
    await expect(rotate(deps())).rejects.toThrow(/"buildkiteApi".*npm run token -- --new/);
    expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(0);
  });

  it('refuses to start a second rotation while one is pending', async () => {
    sm.on(DescribeSecretCommand).resolves({
      ...ROTATING,
      VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    await expect(rotate(deps())).rejects.toThrow(/already in progress \(version v2\)/);
    expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(0);
  });
});

describe('status', () => {
  it('pendingVersion ignores AWSPENDING left on the current version', () => {
    expect(pendingVersion({ VersionIdsToStages: { v1: ['AWSCURRENT', 'AWSPENDING'] } })).toBeUndefined();
    expect(pendingVersion({ VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } })).toBe('v2');
  });

  it('describes the schedule and the last rotation', () => {
    expect(
      describeStatus({
        $metadata: {},
        VersionIdsToStages: { v1: ['AWSCURRENT'] },
        LastRotatedDate: new Date('2026-12-01T00:00:00Z'),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        NextRotationDate: new Date('2026-12-31T00:00:00Z'),
      }),
    ).toBe(
      'No rotation in progress; last rotated 2026-12-01T00:00:00.000Z; automatic rotation rate(30 days), next 2026-12-31T00:00:00.000Z.',
    );
    expect(describeStatus({ $metadata: {}, VersionIdsToStages: { v2: ['AWSPENDING'] } })).toBe(
      'A rotation is in progress (version v2); never rotated.',
    );
  });
});
