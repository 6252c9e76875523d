import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsRecord } from '../../support/sqs-records';
import { triggerEvent } from './support';
import { mockAwsClients } from '../../support/aws-mocks';

const { dynamo, secrets, sqs } = mockAwsClients({
  dynamo: DynamoDBClient,
  secrets: SecretsManagerClient,
  sqs: SQSClient,
});
const TRIGGER_URL = 'https://webhook.buildkite.com/deliver/bktr_handlerS3cr3t';
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let fetchSpy: jest.SpyInstance;

beforeAll(async () => {
  Object.assign(process.env, {
    RELAY_TABLE_NAME: 'relay-table',
    TRIGGER_RATE_PER_HOUR: '300',
    TRIGGER_BURST: '10',
    TRIGGER_URL_SECRET_ARNS: JSON.stringify({
      'github-deploy': 'arn:aws:secretsmanager:us-east-1:1:secret:gd',
    }),
    OVERSIZED_BUCKET_NAME: 'kb-oversized',
    TRIGGER_POST_TIMEOUT_MS: '1000',
    RELAY_QUEUE_URL: 'https://sqs/relay',
    RELAY_DEAD_LETTER_QUEUE_URL: 'https://sqs/relay-dlq',
  });
  ({ handler } = await import('../../../lambda/trigger-relay/handler'));
});
beforeEach(() => {
  secrets.on(GetSecretValueCommand).resolves({ SecretString: TRIGGER_URL });
  sqs.on(SendMessageCommand).resolves({});
  dynamo.on(UpdateItemCommand).resolves({});
  dynamo.on(PutItemCommand).resolves({});
  dynamo.on(GetItemCommand).resolves({});
  fetchSpy = jest.spyOn(globalThis, 'fetch');
});
afterEach(() => fetchSpy.mockRestore());

const record = (id: string, body = triggerEvent({ dedupeKey: `github:${id}` })) =>
  sqsRecord(id, 'relay', body);

const context = { functionName: 'relay', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
const answer = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('trigger-relay handler', () => {
  it('relays each record to the URL from its secret, paced and recorded in DynamoDB', async () => {
    fetchSpy.mockImplementation(async () => answer(201, { id: 'bk-1' }));
    const result = await handler({ Records: [record('a'), record('b')] }, context);
    expect(result.batchItemFailures).toEqual([]);
    expect(fetchSpy).toHaveBeenCalledTimes(2);
    expect(fetchSpy.mock.calls[0]?.[0]).toBe(TRIGGER_URL);
    expect(fetchSpy.mock.calls[0]?.[1]).toMatchObject({ method: 'POST', redirect: 'manual' });
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1); // cached
    const claims = dynamo.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item?.pk?.S);
    expect(claims).toEqual(['idempotency#github-deploy#github:a', 'idempotency#github-deploy#github:b']);
    const completed = dynamo
      .commandCalls(UpdateItemCommand)
      .filter((c) => c.args[0].input.ExpressionAttributeValues?.[':buildkiteId']);
    expect(completed).toHaveLength(2);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('puts a record over the rate back on the queue with a delay and acknowledges it', async () => {
    const busy = String(Date.now() + 3_600_000);
    dynamo.on(GetItemCommand).resolves({ Item: { tat: { N: busy }, tail: { N: '0' }, version: { N: '4' } } });
    const result = await handler({ Records: [record('a')] }, context);
    expect(result.batchItemFailures).toEqual([]);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: 'https://sqs/relay',
      DelaySeconds: 900,
    });
  });

  it('dead-letters a record Buildkite refuses (404) and acknowledges it', async () => {
    fetchSpy.mockImplementation(async () => answer(404, { message: 'Not Found' }));
    const result = await handler({ Records: [record('a')] }, context);
    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: 'https://sqs/relay-dlq',
      MessageAttributes: { 'kitebridge-failure-reason': { StringValue: expect.stringContaining('404') } },
    });
  });

  it('acknowledges a message that is not a usable trigger event, without a dead letter or a post', async () => {
    const bad = record('bad', triggerEvent().replace(/"dedupeKey":"[^"]*",/, ''));
    const result = await handler({ Records: [bad] }, context);
    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.calls()).toHaveLength(0);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('reports only the records that hit an infrastructure error, so SQS redelivers them', async () => {
    fetchSpy.mockImplementation(async () => answer(201, { id: 'bk-1' }));
    dynamo.on(PutItemCommand).callsFake((input: { Item: { pk: { S: string } } }) => {
      if (input.Item.pk.S.endsWith('github:b')) throw new Error('ProvisionedThroughputExceededException');
      return {};
    });
    const result = await handler({ Records: [record('a'), record('b')] }, context);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'b' }]);
  });
});
