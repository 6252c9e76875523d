import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDbIdempotencyStore,
  DynamoDbPacingStore,
  PACING_KEY,
  relayMessageOf,
  S3BodySource,
  SecretsManagerUrlSource,
  SqsRelayQueue,
} from '../../../lambda/trigger-relay/aws-adapters';
import { TRIGGER_URL_PLACEHOLDER } from '../../../lambda/trigger-relay/http-poster';
import { PermanentRelayError } from '../../../lambda/trigger-relay/app';
import { mockAwsClients } from '../../support/aws-mocks';

const { dynamo, secrets, s3, sqs } = mockAwsClients({
  dynamo: DynamoDBClient,
  secrets: SecretsManagerClient,
  s3: S3Client,
  sqs: SQSClient,
});

const conditionFailed = (Item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(Item ? { Item } : {}),
  } as never);

const NOW = Date.parse('2026-11-23T12:00:00.000Z');

describe('DynamoDbPacingStore', () => {
  const store = new DynamoDbPacingStore(new DynamoDBClient({}), 'relay-table');

  it.each([
    ['no item yet', undefined, { state: { tat: 0 }, version: 0 }],
    [
      'a stored item',
      { pk: { S: PACING_KEY }, tat: { N: '1700000012000' }, version: { N: '7' } },
      { state: { tat: 1700000012000 }, version: 7 },
    ],
    [
      'an item from before slots were reserved at arrival (its waiters keep their wake-ups)',
      {
        pk: { S: PACING_KEY },
        tat: { N: '1700000012000' },
        tail: { N: '1700000024000' },
        version: { N: '7' },
      },
      { state: { tat: 1700000024000 }, version: 7 },
    ],
  ])('reads %s with a consistent read of the one shared item', async (_name, Item, expected) => {
    dynamo.on(GetItemCommand).resolves(Item ? { Item } : {});
    expect(await store.read()).toEqual(expected);
    expect(dynamo.commandCalls(GetItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'relay-table',
      Key: { pk: { S: PACING_KEY } },
      ConsistentRead: true,
    });
  });

  it.each([
    [0, 'attribute_not_exists(pk)', undefined],
    [7, 'version = :expected', { N: '7' }],
  ])('writes version %p conditionally (%s)', async (version, condition, expected) => {
    dynamo.on(UpdateItemCommand).resolves({});
    expect(await store.write({ tat: 10 }, version)).toBe(true);
    const input = dynamo.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TableName: 'relay-table',
      Key: { pk: { S: PACING_KEY } },
      UpdateExpression: 'SET tat = :tat, version = :next REMOVE tail',
      ConditionExpression: condition,
      ExpressionAttributeValues: { ':tat': { N: '10' }, ':next': { N: String(version + 1) } },
    });
    expect(input?.ExpressionAttributeValues?.[':expected']).toEqual(expected);
  });

  it('answers false when another writer got there first, and rethrows anything else', async () => {
    dynamo.on(UpdateItemCommand).rejectsOnce(conditionFailed()).rejectsOnce(new Error('throttled'));
    expect(await store.write({ tat: 1 }, 3)).toBe(false);
    await expect(store.write({ tat: 1 }, 3)).rejects.toThrow('throttled');
  });
});

describe('DynamoDbIdempotencyStore', () => {
  const store = new DynamoDbIdempotencyStore(new DynamoDBClient({}), 'relay-table');

  it('claims with a conditional PutItem keyed on trigger and dedupe key', async () => {
    dynamo.on(PutItemCommand).resolves({});
    expect(await store.claim('github-deploy#github:abc', 'owner-1', NOW, 120_000, 1_800_000_000)).toEqual({
      status: 'claimed',
    });
    expect(dynamo.commandCalls(PutItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'relay-table',
      Item: {
        pk: { S: 'idempotency#github-deploy#github:abc' },
        status: { S: 'in-progress' },
        owner: { S: 'owner-1' },
        leaseUntil: { N: String(NOW + 120_000) },
        expiresAt: { N: '1800000000' },
      },
      ConditionExpression:
        'attribute_not_exists(pk) OR expiresAt < :nowSeconds OR (#status = :inProgress AND leaseUntil < :now)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':now': { N: String(NOW) },
        ':nowSeconds': { N: String(NOW / 1000) },
        ':inProgress': { S: 'in-progress' },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it.each([
    [
      'done, with Buildkite’s id',
      { status: { S: 'done' }, buildkiteId: { S: 'bk-1' } },
      { status: 'done', buildkiteId: 'bk-1' },
    ],
    ['done, without an id', { status: { S: 'done' } }, { status: 'done' }],
    [
      'held by another worker',
      { status: { S: 'in-progress' }, leaseUntil: { N: String(NOW + 5000) } },
      { status: 'in-progress', leaseUntil: NOW + 5000 },
    ],
  ])('reports a record that is %s', async (_name, Item, expected) => {
    dynamo.on(PutItemCommand).rejects(conditionFailed(Item));
    expect(await store.claim('k', 'o', NOW, 120_000, 1)).toEqual(expected);
  });

  it('rethrows errors other than the condition', async () => {
    dynamo.on(PutItemCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    await expect(store.claim('k', 'o', NOW, 1, 1)).rejects.toThrow('ProvisionedThroughputExceeded');
  });

  it('completes with the delivery id and a new expiry, unconditionally', async () => {
    dynamo.on(UpdateItemCommand).resolves({});
    await store.complete('k', 'o', { buildkiteId: 'bk-1', completedAt: NOW, expiresAt: 1_800_000_000 });
    const input = dynamo.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBeUndefined();
    expect(input?.UpdateExpression).toBe(
      'SET #status = :done, #owner = :owner, completedAt = :completedAt, expiresAt = :expiresAt, buildkiteId = :buildkiteId REMOVE leaseUntil',
    );
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':buildkiteId': { S: 'bk-1' },
      ':done': { S: 'done' },
    });
  });

  it('releases only its own in-progress claim', async () => {
    dynamo.on(DeleteItemCommand).rejectsOnce(conditionFailed()).resolves({});
    await expect(store.release('k', 'o')).resolves.toBeUndefined();
    expect(dynamo.commandCalls(DeleteItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: { S: 'idempotency#k' } },
      ConditionExpression: '#owner = :owner AND #status = :inProgress',
    });
  });
});

describe('SecretsManagerUrlSource', () => {
  const URL = 'https://webhook.buildkite.com/deliver/bktr_s3cr3t';
  const ARNS = { 'github-deploy': 'arn:aws:secretsmanager:us-east-1:123456789012:secret:github-deploy-url' };

  it('reads the URL by ARN and caches it for five minutes', async () => {
    let now = NOW;
    secrets.on(GetSecretValueCommand).resolves({ SecretString: `${URL}\n` });
    const source = new SecretsManagerUrlSource(new SecretsManagerClient({}), ARNS, { clock: () => now });
    expect(await source.url('github-deploy')).toBe(URL);
    now += 299_000;
    expect(await source.url('github-deploy')).toBe(URL);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now += 2_000;
    await source.url('github-deploy');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: ARNS['github-deploy'],
    });
  });

  it.each([
    ['the placeholder', TRIGGER_URL_PLACEHOLDER, /is not set/],
    ['an empty value', '  ', /is not set/],
    ['not a URL', 'bktr_s3cr3t', /does not hold a URL/],
    ['a plain-HTTP URL', 'http://webhook.buildkite.com/deliver/bktr_s3cr3t', /must hold an https:\/\/ URL/],
  ])('refuses %s, permanently, without quoting it and without caching it', async (_name, value, message) => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: value });
    const source = new SecretsManagerUrlSource(new SecretsManagerClient({}), ARNS);
    const error = await source.url('github-deploy').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentRelayError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('s3cr3t');
    await source.url('github-deploy').catch(() => undefined);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refuses a trigger it has no secret for', async () => {
    const source = new SecretsManagerUrlSource(new SecretsManagerClient({}), ARNS);
    await expect(source.url('toString')).rejects.toBeInstanceOf(PermanentRelayError);
  });

  it('lets a Secrets Manager failure through, to be retried', async () => {
    secrets.on(GetSecretValueCommand).rejects(new Error('ThrottlingException'));
    const source = new SecretsManagerUrlSource(new SecretsManagerClient({}), ARNS);
    await expect(source.url('github-deploy')).rejects.toThrow('ThrottlingException');
  });
});

describe('S3BodySource', () => {
  const source = new S3BodySource(new S3Client({}), 'kb-oversized');
  const pointer = { bucket: 'kb-oversized', key: 'oversized/2026/11/23/req-1.json', bytes: 11 };

  it('returns the stored bytes', async () => {
    // The SDK's streaming body, reduced to the one method the adapter calls.
    const Body = { transformToByteArray: async () => new Uint8Array(Buffer.from('{"big":1}')) };
    s3.on(GetObjectCommand).resolves({ Body } as never);
    expect((await source.get(pointer)).toString()).toBe('{"big":1}');
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'kb-oversized',
      Key: pointer.key,
    });
  });

  it.each([
    [
      'an object that expired',
      () => s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} })),
      pointer,
    ],
    ['another bucket', () => undefined, { ...pointer, bucket: 'someone-elses' }],
  ])('refuses %s permanently', async (_name, arrange, p) => {
    arrange();
    await expect(source.get(p)).rejects.toBeInstanceOf(PermanentRelayError);
  });

  it('lets other S3 failures through, to be retried', async () => {
    s3.on(GetObjectCommand).rejects(new Error('SlowDown'));
    await expect(source.get(pointer)).rejects.toThrow('SlowDown');
  });
});

describe('SqsRelayQueue', () => {
  const queue = new SqsRelayQueue(new SQSClient({}), 'https://sqs/relay', 'https://sqs/relay-dlq');
  const msg = { messageId: 'm-1', body: '{"id":"e"}', attempt: 2, notBefore: 5 };

  it('re-sends a waiting message with DelaySeconds and its attempt and not-before attributes', async () => {
    sqs.on(SendMessageCommand).resolves({});
    await queue.defer(msg, 900, { attempt: 3, notBefore: NOW + 1_800_000 });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: 'https://sqs/relay',
      MessageBody: '{"id":"e"}',
      DelaySeconds: 900,
      MessageAttributes: {
        'kitebridge-attempt': { DataType: 'Number', StringValue: '3' },
        'kitebridge-not-before': { DataType: 'Number', StringValue: String(NOW + 1_800_000) },
      },
    });
  });

  it('marks a not-before time that ends a backoff, so the message asks for a new slot', async () => {
    sqs.on(SendMessageCommand).resolves({});
    await queue.defer(msg, 30, { attempt: 3, notBefore: NOW + 30_000, backoff: true });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes).toEqual({
      'kitebridge-attempt': { DataType: 'Number', StringValue: '3' },
      'kitebridge-not-before': { DataType: 'Number', StringValue: String(NOW + 30_000) },
      'kitebridge-backoff': { DataType: 'String', StringValue: 'true' },
    });
  });

  it('dead-letters with the reason and no attempt count, so a redrive starts afresh', async () => {
    sqs.on(SendMessageCommand).resolves({});
    await queue.deadLetter(msg, 'Buildkite answered 404 (the pipeline trigger was not found)');
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: 'https://sqs/relay-dlq',
      MessageBody: '{"id":"e"}',
      MessageAttributes: {
        'kitebridge-failure-reason': {
          DataType: 'String',
          StringValue: 'Buildkite answered 404 (the pipeline trigger was not found)',
        },
      },
    });
  });

  it('fails when SQS does, so the received message is not acknowledged', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('KMS.ThrottlingException'));
    await expect(queue.defer(msg, 1, { attempt: 0 })).rejects.toThrow('KMS.ThrottlingException');
  });

  it.each([
    [{}, { attempt: 0 }],
    [
      {
        'kitebridge-attempt': { stringValue: '4' },
        'kitebridge-not-before': { stringValue: '1700000000000' },
      },
      { attempt: 4, notBefore: 1700000000000 },
    ],
    [
      {
        'kitebridge-attempt': { stringValue: '4' },
        'kitebridge-not-before': { stringValue: '1700000000000' },
        'kitebridge-backoff': { stringValue: 'true' },
      },
      { attempt: 4, notBefore: 1700000000000, backoff: true },
    ],
    [{ 'kitebridge-attempt': { stringValue: 'x' } }, { attempt: 0 }],
  ])('reads relay attributes %j', (messageAttributes, expected) => {
    expect(relayMessageOf({ messageId: 'm', body: 'b', messageAttributes })).toEqual({
      messageId: 'm',
      body: 'b',
      ...expected,
    });
  });
});
