import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  buildkiteWebhookRegistry,
  SecretsManagerSecretStore,
} from '../../../lambda/webhook-rotation/aws-adapters';
import { BuildkiteUnauthorizedError } from '../../../lambda/shared/buildkite-rest';
import { startBuildkiteStub, type BuildkiteStub } from '../../../local/buildkite-stub';

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:WebhookSecret-abc';
const client = () => new SecretsManagerClient({ region: 'eu-west-1' });

beforeEach(() => sm.reset());

describe('SecretsManagerSecretStore', () => {
  const store = () => new SecretsManagerSecretStore(client(), ARN);

  it('describe: rotation switch and version stages', async () => {
    sm.on(DescribeSecretCommand, { SecretId: ARN }).resolves({
      RotationEnabled: true,
      VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    expect(await store().describe()).toEqual({
      rotationEnabled: true,
      versions: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    sm.on(DescribeSecretCommand).resolves({});
    expect(await store().describe()).toEqual({ rotationEnabled: false, versions: {} });
  });

  it('read: by stage and version id, with the creation time', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionId: 'v2', VersionStage: 'AWSPENDING' }).resolves({
      VersionId: 'v2',
      SecretString: '{"token":"n"}',
      CreatedDate: new Date('2026-12-06T12:00:00Z'),
    });
    expect(await store().read({ versionId: 'v2', stage: 'AWSPENDING' })).toEqual({
      versionId: 'v2',
      value: '{"token":"n"}',
      createdAt: Date.parse('2026-12-06T12:00:00Z'),
    });
  });

  it('read: a version without a value (what RotateSecret leaves) is undefined; other errors propagate', async () => {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret value",
        $metadata: {},
      }),
    );
    expect(await store().read({ stage: 'AWSPENDING' })).toBeUndefined();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).rejects(
      Object.assign(new Error('denied'), { name: 'AccessDeniedException' }),
    );
    await expect(store().read({ stage: 'AWSCURRENT' })).rejects.toThrow('denied');
  });

  it('put passes on the rotation token when the event carried one', async () => {
    sm.on(PutSecretValueCommand).resolves({});
    await new SecretsManagerSecretStore(client(), ARN, 'rot-token').put('v3', '{"token":"n"}', [
      'AWSPENDING',
    ]);
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toMatchObject({
      RotationToken: 'rot-token',
    });
  });

  it('put and removeStage send exactly the rotation calls', async () => {
    sm.on(PutSecretValueCommand).resolves({});
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    await store().put('v3', '{"token":"n"}', ['AWSCURRENT']);
    await store().removeStage('AWSPENDING', 'v2');
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: ARN,
      ClientRequestToken: 'v3',
      SecretString: '{"token":"n"}',
      VersionStages: ['AWSCURRENT'],
    });
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toEqual({
      SecretId: ARN,
      VersionStage: 'AWSPENDING',
      RemoveFromVersionId: 'v2',
    });
  });
});

describe('buildkiteWebhookRegistry against a stand-in for Buildkite', () => {
  let stub: BuildkiteStub;
  const URL_ = 'https://x.example/v1/buildkite';
  beforeEach(async () => {
    stub = await startBuildkiteStub({ organization: 'acme', apiToken: 'api-token', port: 0 });
    sm.on(GetSecretValueCommand, { SecretId: 'arn:api' }).resolves({ SecretString: '{"token":"api-token"}' });
  });
  afterEach(() => stub.close());

  const registry = () =>
    buildkiteWebhookRegistry({
      client: client(),
      apiTokenSecretArn: 'arn:api',
      organization: 'acme',
      webhookUrl: URL_,
      description: 'kitebridge (Kitebridge)',
      baseUrl: stub.url,
    });

  it('finds its own webhook and replaces only its token, keeping the other settings', async () => {
    stub.state.services.push(
      {
        id: 'theirs',
        provider: 'webhook',
        description: 'other',
        enabled: true,
        settings: { url: URL_, token: 'x' },
      },
      {
        id: 'ours',
        provider: 'webhook',
        description: 'kitebridge (Kitebridge)',
        enabled: true,
        settings: { url: URL_, token: 'old', token_mode: 'signature', events: ['build.finished'] },
      },
    );
    const reg = registry();
    const service = await reg.find();
    expect(service.id).toBe('ours');
    await reg.setToken(service, 'new');
    expect(stub.state.services[1]?.settings).toEqual({
      url: URL_,
      token: 'new',
      token_mode: 'signature',
      events: ['build.finished'],
    });
    expect(stub.state.services[0]?.settings).toEqual({ url: URL_, token: 'x' });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1); // the API token is read once
  });

  it('reads the API token again after Buildkite refused it (a person may have stored a new one)', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'arn:api' })
      .resolvesOnce({ SecretString: 'revoked-token' })
      .resolves({ SecretString: 'api-token' });
    const reg = registry();
    await expect(reg.find()).rejects.toBeInstanceOf(BuildkiteUnauthorizedError);
    await expect(reg.find()).rejects.toThrow(/run npm run register first/);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('without a registered webhook, says to run npm run register', async () => {
    await expect(registry().find()).rejects.toThrow(/no webhook for .* run npm run register first/);
  });

  it('a placeholder API token fails before any request', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'arn:api' }).resolves({
      SecretString: 'REPLACE_WITH_BUILDKITE_API_TOKEN',
    });
    await expect(registry().find()).rejects.toThrow(/holds no token yet/);
    expect(stub.state.requests).toEqual([]);
  });
});
