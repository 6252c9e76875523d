import { BatchGetItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDeliveryIndex } from '../../../lambda/reconcile/aws-adapters';

const dynamo = mockClient(DynamoDBClient);
const TABLE = 'index-table';
const noSleep = async () => {};

beforeEach(() => dynamo.reset());

describe('DynamoDeliveryIndex', () => {
  it('reads keys 100 at a time with BatchGetItem and returns those present', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `build.finished:b${i}:passed`);
    dynamo
      .on(BatchGetItemCommand)
      .callsFake((input: { RequestItems: Record<string, { Keys: { pk: { S: string } }[] }> }) => {
        const asked = input.RequestItems[TABLE]!.Keys.map((k) => k.pk.S);
        return {
          Responses: { [TABLE]: asked.filter((k) => k.endsWith('7:passed')).map((k) => ({ pk: { S: k } })) },
        };
      });

    const seen = await new DynamoDeliveryIndex(new DynamoDBClient({}), TABLE, 86_400, noSleep).seen([
      ...keys,
      keys[0]!,
    ]);

    const calls = dynamo.commandCalls(BatchGetItemCommand);
    expect(calls.map((c) => c.args[0].input.RequestItems![TABLE]!.Keys!.length)).toEqual([100, 50]);
    expect(calls[0]!.args[0].input.RequestItems![TABLE]!.ProjectionExpression).toBe('pk');
    expect([...seen].sort()).toEqual(keys.filter((k) => k.endsWith('7:passed')).sort());
  });

  it('asks again for the keys DynamoDB left unprocessed (throttling)', async () => {
    dynamo
      .on(BatchGetItemCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ pk: { S: 'a' } }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: { S: 'b' } }] } },
      })
      .resolves({ Responses: { [TABLE]: [{ pk: { S: 'b' } }] } });

    const seen = await new DynamoDeliveryIndex(new DynamoDBClient({}), TABLE, 86_400, noSleep).seen([
      'a',
      'b',
    ]);

    expect([...seen].sort()).toEqual(['a', 'b']);
    expect(dynamo.commandCalls(BatchGetItemCommand)[1]!.args[0].input.RequestItems![TABLE]!.Keys).toEqual([
      { pk: { S: 'b' } },
    ]);
  });

  it('gives up, failing the run, when keys stay unprocessed', async () => {
    dynamo.on(BatchGetItemCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [{ pk: { S: 'a' } }] } } });
    await expect(
      new DynamoDeliveryIndex(new DynamoDBClient({}), TABLE, 86_400, noSleep).seen(['a']),
    ).rejects.toThrow(/unprocessed after 5 retries/);
  });

  it('makes no call for no keys', async () => {
    await expect(new DynamoDeliveryIndex(new DynamoDBClient({}), TABLE, 86_400).seen([])).resolves.toEqual(
      new Set(),
    );
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('records a key idempotently, keeping its first source and time, with a TTL', async () => {
    dynamo.on(UpdateItemCommand).resolves({});
    const seenAt = new Date('2026-12-06T12:00:00Z');

    await new DynamoDeliveryIndex(new DynamoDBClient({}), TABLE, 86_400).record({
      key: 'build.finished:b1:failed',
      source: 'webhook',
      seenAt,
    });

    expect(dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: { S: 'build.finished:b1:failed' } },
      UpdateExpression:
        'SET firstSource = if_not_exists(firstSource, :source), seenAt = if_not_exists(seenAt, :seenAt), expiresAt = :expiresAt',
      ExpressionAttributeValues: {
        ':source': { S: 'webhook' },
        ':seenAt': { S: '2026-12-06T12:00:00.000Z' },
        ':expiresAt': { N: String(seenAt.getTime() / 1000 + 86_400) },
      },
      ReturnValues: 'UPDATED_OLD',
    });
  });

  it('says which source recorded the key first, if any', async () => {
    dynamo
      .on(UpdateItemCommand)
      .resolvesOnce({})
      .resolvesOnce({ Attributes: { firstSource: { S: 'reconcile' }, seenAt: { S: 'x' } } });
    const index = new DynamoDeliveryIndex(new DynamoDBClient({}), TABLE, 86_400);
    const entry = { key: 'k', source: 'webhook' as const, seenAt: new Date(0) };
    await expect(index.record(entry)).resolves.toBeUndefined();
    await expect(index.record(entry)).resolves.toBe('reconcile');
  });
});
