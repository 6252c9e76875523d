import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoStateStore, MemoryStateStore } from '../../../lambda/autoscaler/state-store';

const ddb = mockClient(DynamoDBClient);
beforeEach(() => ddb.reset());
const store = () => new DynamoStateStore(new DynamoDBClient({}), 'state');
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'no', $metadata: {} });

describe('DynamoStateStore', () => {
  it('reads the gate item consistently', async () => {
    ddb.on(GetItemCommand).resolves({
      Item: { pk: { S: 'gate' }, lastEvaluatedAt: { N: '1000' }, pollDurationSeconds: { N: '15' } },
    });
    expect(await store().readGate()).toEqual({
      lastEvaluatedAt: 1000,
      trailingAt: undefined,
      pollDurationSeconds: 15,
    });
    expect(ddb.commandCalls(GetItemCommand)[0]?.args[0].input).toMatchObject({
      ConsistentRead: true,
      Key: { pk: { S: 'gate' } },
    });
  });

  it('claims an evaluation with compare-and-set on lastEvaluatedAt, false when another won', async () => {
    ddb.on(UpdateItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());
    expect(await store().claimEvaluation(1000, 11_000)).toBe(true);
    expect(await store().claimEvaluation(undefined, 11_000)).toBe(false);
    const [first, second] = ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
    expect(first).toMatchObject({
      ConditionExpression: 'lastEvaluatedAt = :seen',
      ExpressionAttributeValues: { ':seen': { N: '1000' }, ':now': { N: '11000' } },
    });
    expect(second?.ConditionExpression).toBe('attribute_not_exists(lastEvaluatedAt)');
  });

  it('claims the trailing slot only when none is pending', async () => {
    ddb.on(UpdateItemCommand).resolves({});
    expect(await store().claimTrailing(1000, 11_000, 4000)).toBe(true);
    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input.ConditionExpression).toContain(
      'attribute_not_exists(trailingAt) OR trailingAt <= :seen',
    );
  });

  it('rethrows other errors', async () => {
    ddb.on(UpdateItemCommand).rejects(new Error('throttled'));
    await expect(store().claimEvaluation(1, 2)).rejects.toThrow('throttled');
  });

  it('records queue state with a TTL', async () => {
    ddb.on(UpdateItemCommand).resolves({});
    await store().recordQueue('linux', { lastScaleOutAt: 5000 }, 5000);
    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: { S: 'queue#linux' } },
      UpdateExpression: 'SET #k0 = :v0, expiresAt = :exp',
      ExpressionAttributeNames: { '#k0': 'lastScaleOutAt' },
      ExpressionAttributeValues: { ':v0': { N: '5000' }, ':exp': { N: String(5 + 7 * 24 * 3600) } },
    });
  });
});

describe('MemoryStateStore has the same claim semantics', () => {
  it('first claim wins, the trailing slot is taken once', async () => {
    const memory = new MemoryStateStore();
    expect(await memory.claimEvaluation(undefined, 1000)).toBe(true);
    expect(await memory.claimEvaluation(undefined, 1000)).toBe(false);
    expect(await memory.claimTrailing(1000, 11_000, 2000)).toBe(true);
    expect(await memory.claimTrailing(1000, 11_000, 3000)).toBe(false);
    expect(await memory.claimEvaluation(1000, 11_000)).toBe(true);
    expect(await memory.readGate()).toEqual({ lastEvaluatedAt: 11_000, trailingAt: undefined });
  });
});
