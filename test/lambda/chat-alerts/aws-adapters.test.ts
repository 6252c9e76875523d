import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoAlertStateStore } from '../../../lambda/chat-alerts/aws-adapters';
import { applyBuildResult } from '../../../lambda/chat-alerts/transitions';

const dynamo = mockClient(DynamoDBClient);
const NOW = Date.parse('2026-06-03T04:16:04Z');
const EXPIRES = String(Math.floor(NOW / 1000) + 30 * 86_400);
const store = new DynamoAlertStateStore(new DynamoDBClient({}), 'chat-state', {
  ttlDays: 30,
  now: () => NOW,
});
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

beforeEach(() => dynamo.reset());

describe('DynamoAlertStateStore', () => {
  it('creates a streak with a condition that no one else created it, TTL set', async () => {
    dynamo.on(GetItemCommand).resolves({});
    dynamo.on(PutItemCommand).resolves({});
    const t = await store.updateStreak('deploy-api#main', (current) => {
      const out = applyBuildResult(current, 1, 'failed');
      return { state: out.state, result: out.transition };
    });
    expect(t).toEqual({ kind: 'build.failed', failures: 1 });
    expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({
      Key: { pk: { S: 'streak#deploy-api#main' }, sk: { S: 'streak' } },
      ConsistentRead: true,
    });
    expect(dynamo.commandCalls(PutItemCommand)[0]!.args[0].input).toMatchObject({
      TableName: 'chat-state',
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { version: { N: '1' }, expiresAt: { N: EXPIRES } },
    });
  });

  it('retries a streak update that lost a race, re-reading the newer state', async () => {
    const stored = (failures: number, version: number) => ({
      Item: {
        state: { S: JSON.stringify({ entries: [{ number: 1, result: 'failed', failures }] }) },
        version: { N: String(version) },
      },
    });
    dynamo.on(GetItemCommand).resolvesOnce(stored(1, 1)).resolves(stored(1, 2));
    dynamo.on(PutItemCommand).rejectsOnce(conditionFailed()).resolves({});
    const t = await store.updateStreak('k', (current) => {
      const out = applyBuildResult(current, 2, 'failed');
      return { state: out.state, result: out.transition };
    });
    expect(t).toEqual({ kind: 'build.still_failing', failures: 2 });
    const puts = dynamo.commandCalls(PutItemCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.ExpressionAttributeValues?.[':version'])).toEqual([{ N: '1' }, { N: '2' }]);
    expect(puts[1]!.Item!.version).toEqual({ N: '3' });
  });

  it('waits a jittered, growing time between attempts and keeps going past five', async () => {
    let clock = NOW;
    const waits: number[] = [];
    const patient = new DynamoAlertStateStore(new DynamoDBClient({}), 'chat-state', {
      ttlDays: 30,
      now: () => clock,
      random: () => 0.5,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    });
    dynamo.on(GetItemCommand).resolves({});
    let puts = dynamo.on(PutItemCommand);
    for (let i = 0; i < 8; i++) puts = puts.rejectsOnce(conditionFailed());
    puts.resolves({});
    await expect(patient.updateStreak('k', () => ({ state: { entries: [] }, result: 'ok' }))).resolves.toBe(
      'ok',
    );
    expect(dynamo.commandCalls(PutItemCommand)).toHaveLength(9);
    // Half of min(1000, 20 · 2^(n-1)) with random 0.5.
    expect(waits).toEqual([10, 20, 40, 80, 160, 320, 500, 500]);
  });

  it('gives up only when its time budget is spent, so the event is retried', async () => {
    let clock = NOW;
    const store2 = new DynamoAlertStateStore(new DynamoDBClient({}), 'chat-state', {
      ttlDays: 30,
      now: () => clock,
      streakRetryBudgetMs: 3_000,
      random: () => 0.999,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    dynamo.on(GetItemCommand).resolves({});
    dynamo.on(PutItemCommand).rejects(conditionFailed());
    await expect(
      store2.updateStreak('k', () => ({ state: { entries: [] }, result: undefined })),
    ).rejects.toThrow(/kept changing/);
    // Waits 19, 39, 79, 159, 319, 639, 999 ms add up to 2,253; the next 999 would pass 3,000.
    expect(dynamo.commandCalls(PutItemCommand)).toHaveLength(8);
    expect(clock - NOW).toBe(2_253);
  });

  it.each<[string, () => void, string]>([
    ['claims a new delivery', () => dynamo.on(PutItemCommand).resolves({}), 'claimed'],
    [
      'reports an alert already posted',
      () => {
        dynamo.on(PutItemCommand).rejects(conditionFailed());
        dynamo.on(GetItemCommand).resolves({ Item: { status: { S: 'sent' } } });
      },
      'sent',
    ],
    [
      'reports a claim held by another invocation',
      () => {
        dynamo.on(PutItemCommand).rejects(conditionFailed());
        dynamo.on(GetItemCommand).resolves({ Item: { status: { S: 'pending' } } });
      },
      'busy',
    ],
  ])('%s', async (_name, arrange, expected) => {
    arrange();
    expect(await store.claimDelivery('event#abc', 'ci-slack', 60_000)).toBe(expected);
    expect(dynamo.commandCalls(PutItemCommand)[0]!.args[0].input).toMatchObject({
      Item: {
        pk: { S: 'delivery#event#abc' },
        sk: { S: 'ci-slack' },
        status: { S: 'pending' },
        leaseUntil: { N: String(NOW + 60_000) },
        expiresAt: { N: EXPIRES },
      },
      ConditionExpression: 'attribute_not_exists(pk) OR (#status = :pending AND leaseUntil < :now)',
    });
  });

  it('rethrows other DynamoDB errors', async () => {
    dynamo.on(PutItemCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    await expect(store.claimDelivery('k', 'd', 1)).rejects.toThrow('ProvisionedThroughputExceeded');
  });

  it('marks a delivery sent and releases only a pending claim', async () => {
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(DeleteItemCommand).rejects(conditionFailed());
    await store.completeDelivery('k', 'd');
    await store.releaseDelivery('k', 'd');
    expect(dynamo.commandCalls(PutItemCommand)[0]!.args[0].input.Item).toMatchObject({
      status: { S: 'sent' },
      expiresAt: { N: EXPIRES },
    });
    expect(dynamo.commandCalls(DeleteItemCommand)[0]!.args[0].input.ConditionExpression).toBe(
      '#status = :pending',
    );
  });

  it('stores failed jobs under their build with TTL and lists them across pages', async () => {
    const job = { id: 'j1', name: 'unit', exitStatus: 1, url: 'https://x' };
    dynamo.on(PutItemCommand).resolves({});
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ job: { S: JSON.stringify(job) } }], LastEvaluatedKey: { pk: { S: 'p' } } })
      .resolves({ Items: [{ job: { S: JSON.stringify({ ...job, id: 'j2' }) } }] });
    await store.putFailedJob('b1', job);
    expect(dynamo.commandCalls(PutItemCommand)[0]!.args[0].input.Item).toMatchObject({
      pk: { S: 'build#b1' },
      sk: { S: 'job#j1' },
      expiresAt: { N: EXPIRES },
    });
    expect((await store.listFailedJobs('b1')).map((j) => j.id)).toEqual(['j1', 'j2']);
    expect(dynamo.commandCalls(QueryCommand)[1]!.args[0].input.ExclusiveStartKey).toEqual({ pk: { S: 'p' } });
  });

  it('keeps an existing build alert record and adds listed jobs as a set', async () => {
    dynamo.on(PutItemCommand).rejects(conditionFailed());
    dynamo.on(UpdateItemCommand).resolves({});
    dynamo
      .on(GetItemCommand)
      .resolves({ Item: { destinations: { SS: ['ci-slack'] }, jobIds: { SS: ['j1'] } } });
    await store.createBuildAlert('b1', ['ci-slack']);
    await store.addListedJobs('b1', ['j2']);
    expect(await store.getBuildAlert('b1')).toEqual({ destinations: ['ci-slack'], jobIds: ['j1'] });
    expect(dynamo.commandCalls(PutItemCommand)[0]!.args[0].input).toMatchObject({
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { destinations: { SS: ['ci-slack'] }, expiresAt: { N: EXPIRES } },
    });
    expect(dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input).toMatchObject({
      UpdateExpression: 'ADD jobIds :ids SET expiresAt = if_not_exists(expiresAt, :expiresAt)',
      ExpressionAttributeValues: { ':ids': { SS: ['j2'] }, ':expiresAt': { N: EXPIRES } },
    });
  });
});
