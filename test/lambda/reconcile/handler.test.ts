import { BatchGetItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createServer, type Server } from 'node:http';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { closeServer, listenOnLoopback } from '../../support/http-server';
import { mockAwsClients } from '../../support/aws-mocks';

const { dynamo, eventBridge, secrets } = mockAwsClients({
  dynamo: DynamoDBClient,
  eventBridge: EventBridgeClient,
  secrets: SecretsManagerClient,
});

let server: Server;
const authorizations: string[] = [];
// Whole seconds, as the dedupe key writes the finish time.
const finishedAt = new Date(Math.floor((Date.now() - 10 * 60_000) / 1000) * 1000).toISOString();

beforeAll(async () => {
  server = createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify([
        { id: 'b-delivered', number: 1, state: 'passed', finished_at: finishedAt, pipeline: { slug: 'api' } },
        { id: 'b-missed', number: 2, state: 'failed', finished_at: finishedAt, pipeline: { slug: 'api' } },
      ]),
    );
  });
  const apiUrl = await listenOnLoopback(server);
  Object.assign(process.env, {
    BUILDKITE_API_URL: apiUrl,
    BUILDKITE_API_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:token',
    BUILDKITE_ORGANIZATION: 'acme',
    RECONCILE_LOOKBACK_MINUTES: '60',
    RECONCILE_GRACE_MINUTES: '3',
    RECONCILE_MAX_PAGES: '5',
    INDEX_TABLE_NAME: 'index',
    INDEX_TTL_SECONDS: '86400',
    EVENT_BUS_NAME: 'bus',
  });
});
afterAll(async () => {
  await closeServer(server);
  delete process.env.BUILDKITE_API_URL;
});
const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 170_000 } as unknown as Context;

describe('reconcile handler', () => {
  it('reads the token from its secret, lists the builds and publishes the one the index has not seen', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'bkua_reconcile_token' });
    dynamo.on(BatchGetItemCommand).resolves({
      Responses: { index: [{ pk: { S: `build.finished:b-delivered:passed:${finishedAt}` } }] },
    });
    dynamo.on(UpdateItemCommand).resolves({});
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const { handler } = await import('../../../lambda/reconcile/handler');

    const summary = await handler({}, context);

    expect(authorizations).toEqual(['Bearer bkua_reconcile_token']);
    expect(summary.published).toEqual([`build.finished:b-missed:failed:${finishedAt}`]);
    const put = eventBridge.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!;
    expect(put).toMatchObject({ EventBusName: 'bus', Source: 'buildkite', DetailType: 'build.finished' });
    expect(JSON.parse(put.Detail!).delivery).toMatchObject({ source: 'reconcile', requestId: 'req-1' });
    expect(dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input.Key).toEqual({
      pk: { S: `build.finished:b-missed:failed:${finishedAt}` },
    });
  });
});

/** A build.finished from the bus, as the index handler receives it. */
const buildFinished = (
  id: string,
  build: { id: string; state: string },
  dedupeKey: string,
): EventEnvelope => ({
  version: '0',
  id,
  'detail-type': 'build.finished',
  source: 'buildkite',
  account: '1',
  time: new Date().toISOString(),
  region: 'eu-west-1',
  resources: [],
  detail: { build, delivery: { dedupeKey } },
});

describe('index handler', () => {
  it('records the key of a build.finished from the bus', async () => {
    dynamo.on(UpdateItemCommand).resolves({});
    const { handler } = await import('../../../lambda/reconcile/index-handler');
    await handler(buildFinished('e-1', { id: 'b1', state: 'passed' }, 'build.finished:b1:passed'));

    expect(dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input).toMatchObject({
      TableName: 'index',
      Key: { pk: { S: 'build.finished:b1:passed' } },
    });
  });

  it('lets a DynamoDB failure through, so Lambda retries and then dead-letters the event', async () => {
    dynamo.on(UpdateItemCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    const { handler } = await import('../../../lambda/reconcile/index-handler');
    await expect(handler(buildFinished('e-2', { id: 'b2', state: 'failed' }, 'x'))).rejects.toThrow(
      'ProvisionedThroughputExceededException',
    );
  });
});
