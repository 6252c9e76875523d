import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BuildkiteRestClient } from '../../lambda/shared/buildkite-rest';
import {
  BuildkiteWebhooks,
  WEBHOOK_EVENTS,
  webhookDescription,
} from '../../lambda/shared/buildkite-webhooks';
import { startBuildkiteStub, type BuildkiteStub } from '../../local/buildkite-stub';
import { describeResult, register, registerMain } from '../../scripts/register';

const ORG = 'acme';
const API_TOKEN = 'bkua_api_token';
const URL_ = 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/buildkite';
const DESIRED = { url: URL_, token: 'webhook-token-1', description: webhookDescription('Kitebridge') };

let stub: BuildkiteStub;
const webhooks = () =>
  new BuildkiteWebhooks(new BuildkiteRestClient({ baseUrl: stub.url, token: API_TOKEN }), ORG);
const writes = () => stub.state.requests.filter((r) => r.method !== 'GET');

beforeEach(async () => {
  stub = await startBuildkiteStub({ organization: ORG, apiToken: API_TOKEN, port: 0 });
});
afterEach(async () => {
  await stub.close();
});

const someoneElses = () => ({
  id: 'other-1',
  provider: 'webhook',
  description: 'Datadog forwarder',
  enabled: true,
  settings: {
    url: 'https://example.com/hook',
    token: 'their-token',
    token_mode: 'token',
    events: ['build.finished'],
  },
});

describe('register against a stand-in for Buildkite', () => {
  it('creates the webhook: this URL and token, signature mode, every event; then a rerun changes nothing', async () => {
    stub.state.services.push(someoneElses());
    const created = await register(webhooks(), DESIRED);
    expect(created.action).toBe('created');
    const mine = stub.state.services.find((s) => s.id === created.serviceId);
    expect(mine).toMatchObject({
      provider: 'webhook',
      description: 'kitebridge (Kitebridge)',
      settings: {
        url: URL_,
        token: 'webhook-token-1',
        token_mode: 'signature',
        events: [...WEBHOOK_EVENTS],
        tls_verify: true,
      },
    });

    const before = writes().length;
    expect(await register(webhooks(), DESIRED)).toEqual({
      action: 'unchanged',
      serviceId: created.serviceId,
      changes: [],
    });
    expect(writes()).toHaveLength(before);
    expect(stub.state.services.find((s) => s.id === 'other-1')).toEqual(someoneElses());
  });

  it('updates only its own webhook, naming the fields (never the token value)', async () => {
    const { serviceId } = await register(webhooks(), DESIRED);
    const mine = stub.state.services.find((s) => s.id === serviceId)!;
    mine.settings = {
      ...mine.settings,
      token_mode: 'token',
      events: ['build.finished'],
      branch_filter: 'main',
    };
    stub.state.services.push(someoneElses());

    const result = await register(webhooks(), { ...DESIRED, token: 'webhook-token-2' });
    expect(result.action).toBe('updated');
    expect(result.changes).toEqual([
      'token',
      'token_mode (token → signature)',
      expect.stringMatching(/^events \(adds build.scheduled, .*cluster_token.registration_blocked\)$/),
    ]);
    expect(JSON.stringify(result)).not.toContain('webhook-token');
    expect(mine.settings).toMatchObject({
      token: 'webhook-token-2',
      token_mode: 'signature',
      branch_filter: 'main',
    });
    expect(stub.state.services.find((s) => s.id === 'other-1')).toEqual(someoneElses());
    expect(describeResult(result, DESIRED, ORG)).toMatch(/^Updated the webhook .* token; token_mode/);
  });

  it('--dry-run says what it would do and writes nothing', async () => {
    expect(await register(webhooks(), DESIRED, { dryRun: true })).toEqual({
      action: 'would-create',
      changes: ['a new webhook'],
    });
    const { serviceId } = await register(webhooks(), DESIRED);
    const count = writes().length;
    const dry = await register(webhooks(), { ...DESIRED, token: 'next' }, { dryRun: true });
    expect(dry).toEqual({ action: 'would-update', serviceId, changes: ['token'] });
    expect(writes()).toHaveLength(count);
    expect(describeResult(dry, DESIRED, ORG)).toMatch(/^Dry run: would update/);
  });

  it('refuses a webhook for its URL that it did not create, unless --adopt', async () => {
    stub.state.services.push({
      ...someoneElses(),
      id: 'hand-made',
      description: 'made by hand',
      settings: { url: `${URL_}/` },
    });
    await expect(register(webhooks(), DESIRED)).rejects.toThrow(
      /already has a webhook for .* that kitebridge did not create: "made by hand" \(hand-made\)\. Run again with --adopt/,
    );
    expect(writes()).toEqual([]);
    const adopted = await register(webhooks(), DESIRED, { adopt: true });
    expect(adopted).toMatchObject({ action: 'updated', serviceId: 'hand-made' });
    expect(stub.state.services).toHaveLength(1);
    expect(stub.state.services[0]).toMatchObject({
      description: 'kitebridge (Kitebridge)',
      settings: { token: 'webhook-token-1' },
    });
  });

  it('refuses to give Buildkite a token the verify functions may not have read yet', async () => {
    const { serviceId } = await register(webhooks(), DESIRED);
    const now = () => Date.parse('2026-12-06T12:00:00Z');
    const tokenReadyAt = Date.parse('2026-12-06T12:03:00Z');
    await expect(register(webhooks(), { ...DESIRED, token: 'fresh' }, { tokenReadyAt, now })).rejects.toThrow(
      /changed less than 5 minutes ago.*Run again after 2026-12-06T12:03:00.000Z/,
    );
    expect(stub.state.services.find((s) => s.id === serviceId)?.settings.token).toBe('webhook-token-1');
    // Other changes, a dry run, or a token that has been out long enough go ahead.
    expect(
      (await register(webhooks(), { ...DESIRED, token: 'fresh' }, { tokenReadyAt, now, dryRun: true }))
        .action,
    ).toBe('would-update');
    expect(
      (await register(webhooks(), { ...DESIRED, token: 'fresh' }, { tokenReadyAt, now: () => tokenReadyAt }))
        .action,
    ).toBe('updated');
  });

  it('a missing scope names the scope', async () => {
    stub.state.scopes = ['read_builds', 'read_notification_services'];
    await expect(register(webhooks(), DESIRED)).rejects.toThrow(/"write_notification_services" scope/);
  });

  it('a token whose owner is not an organization admin says so', async () => {
    stub.state.admin = false;
    await expect(register(webhooks(), DESIRED)).rejects.toThrow(
      /organization admin.*Buildkite said: You must be an organization administrator/,
    );
  });

  it('422 field errors are listed by field', async () => {
    await expect(register(webhooks(), { ...DESIRED, url: 'not a url' })).rejects.toThrow(
      /rejected the request \(422\).*settings.url: is not a valid URL/,
    );
  });

  it('a wrong API token is a 401 that says where to make a new one', async () => {
    const bad = new BuildkiteWebhooks(new BuildkiteRestClient({ baseUrl: stub.url, token: 'wrong' }), ORG);
    await expect(register(bad, DESIRED)).rejects.toThrow(/wrong, revoked or expired.*api-access-tokens/);
  });

  it('two webhooks of its own is an error naming both', async () => {
    for (const id of ['a', 'b'])
      stub.state.services.push({
        ...someoneElses(),
        id,
        description: DESIRED.description,
        settings: { url: URL_ },
      });
    await expect(register(webhooks(), DESIRED)).rejects.toThrow(
      /2 webhooks for .* \(a, b\): delete all but one/,
    );
  });
});

describe('npm run register (deployed: outputs and secrets from AWS)', () => {
  const cfn = mockClient(CloudFormationClient);
  const sm = mockClient(SecretsManagerClient);
  const saved = { ...process.env };
  let out: string[];
  let err: string[];

  beforeEach(() => {
    cfn.reset();
    sm.reset();
    out = [];
    err = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    jest.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
    process.env.BUILDKITE_API_URL = stub.url;
    delete process.env.BUILDKITE_API_TOKEN;
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.env = { ...saved };
  });

  const outputs = (extra: Record<string, string>) =>
    cfn.on(DescribeStacksCommand, { StackName: 'Kitebridge' }).resolves({
      Stacks: [
        {
          StackName: 'Kitebridge',
          CreationTime: new Date(0),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: Object.entries({ WebhookUrl: URL_, WebhookSecretArn: 'arn:webhook', ...extra }).map(
            ([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }),
          ),
        },
      ],
    });

  it('reads URL, token and API token from the stack and registers', async () => {
    outputs({ BuildkiteOrganization: ORG, BuildkiteApiTokenSecretArn: 'arn:api' });
    sm.on(GetSecretValueCommand, { SecretId: 'arn:webhook' }).resolves({
      SecretString: '{"tokens":["t-a","t-b"]}',
    });
    sm.on(GetSecretValueCommand, { SecretId: 'arn:api' }).resolves({ SecretString: API_TOKEN });
    expect(await registerMain(['--stack', 'Kitebridge'])).toBe(0);
    expect(out.join('\n')).toMatch(/^Created the webhook .* \(organization acme, https:\/\/abc123/);
    expect(stub.state.services[0]?.settings).toMatchObject({ url: URL_, token: 't-a' });
    expect(out.join('\n') + err.join('\n')).not.toContain(API_TOKEN);
  });

  it('without buildkiteApi deployed, says which key to set', async () => {
    outputs({});
    expect(await registerMain(['--stack', 'Kitebridge'])).toBe(1);
    expect(err.join('\n')).toMatch(/no Buildkite API token secret: set "buildkiteApi"/);
  });

  it('with the placeholder still in the API token secret, says how to store a token', async () => {
    outputs({ BuildkiteOrganization: ORG, BuildkiteApiTokenSecretArn: 'arn:api' });
    sm.on(GetSecretValueCommand, { SecretId: 'arn:webhook' }).resolves({ SecretString: '{"token":"t"}' });
    sm.on(GetSecretValueCommand, { SecretId: 'arn:api' }).resolves({
      SecretString: 'REPLACE_WITH_BUILDKITE_API_TOKEN',
    });
    expect(await registerMain(['--stack', 'Kitebridge'])).toBe(1);
    expect(err.join('\n')).toMatch(
      /holds no token yet.*read_builds, read_agents, read_notification_services, write_notification_services/,
    );
    expect(stub.state.requests).toEqual([]);
  });

  it('bad arguments print the usage', async () => {
    expect(await registerMain(['--nope'])).toBe(2);
    expect(err.join('\n')).toContain('usage: npm run register');
  });
});

describe('npm run register -- --local (npm start and the stand-in)', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kitebridge-register-'));
    out = [];
    err = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    jest.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = (extra: Record<string, string> = {}) => ({
    BUILDKITE_API_URL: stub.url,
    BUILDKITE_API_TOKEN: API_TOKEN,
    BUILDKITE_ORGANIZATION: ORG,
    KITEBRIDGE_DATA_DIR: dir,
    PORT: '9999',
    ...extra,
  });

  it("registers npm start's endpoint with its dev token", async () => {
    writeFileSync(path.join(dir, 'dev-token'), 'local-dev-token\n');
    expect(await registerMain(['--local'], env())).toBe(0);
    expect(stub.state.services[0]).toMatchObject({
      description: 'kitebridge (local)',
      settings: { url: 'http://127.0.0.1:9999/buildkite', token: 'local-dev-token', token_mode: 'signature' },
    });
    expect(out.join('\n')).toMatch(/^Created the webhook/);
  });

  it('says to start kitebridge first when there is no dev token, and what is missing otherwise', async () => {
    expect(await registerMain(['--local'], env())).toBe(1);
    expect(err.join('\n')).toMatch(/No dev token at .*dev-token: start kitebridge first \(npm start\)/);
    expect(await registerMain(['--local'], { ...env(), BUILDKITE_API_URL: '' })).toBe(1);
    expect(err.join('\n')).toMatch(/--local needs BUILDKITE_API_URL .*npm run buildkite-stub/);
    expect(stub.state.requests).toEqual([]);
  });
});
