import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { num, readNum } from '../shared/dynamo-values';
import { TRAILING_GRACE_MS, type GateState } from './gate';

/** What the autoscaler remembers per queue between invocations. */
export interface QueueState {
  /** Epoch ms of the last scale-out / scale-in it made (cooldowns). */
  readonly lastScaleOutAt?: number;
  readonly lastScaleInAt?: number;
  /** In dry run: the capacity the last decision would have set (stands in for the group). */
  readonly dryRunDesired?: number;
}

/**
 * The shared state behind the collapse gate and the cooldowns. Claims are compare-and-set on
 * `lastEvaluatedAt`, so concurrent invocations agree on who evaluates: a claim fails when
 * another invocation evaluated (or claimed the trailing slot) since `seenLast` was read, and that
 * one's evaluation then covers the caller's trigger.
 */
export interface StateStore {
  readGate(): Promise<GateState>;
  /** Claims the evaluation at `now` if `lastEvaluatedAt` is still `seenLast`. */
  claimEvaluation(seenLast: number | undefined, now: number): Promise<boolean>;
  /** Claims the trailing evaluation at `at` if none is pending and `lastEvaluatedAt` is still `seenLast`. */
  claimTrailing(seenLast: number, at: number, now: number): Promise<boolean>;
  recordPollDuration(seconds: number, now: number): Promise<void>;
  readQueue(queue: string): Promise<QueueState>;
  recordQueue(queue: string, patch: QueueState, now: number): Promise<void>;
}

/** Items expire a week after their last write (longer than any cooldown), so removed queues clean up. */
export const STATE_TTL_SECONDS = 7 * 24 * 3600;

const GATE_KEY = 'gate';
const queueKey = (queue: string) => `queue#${queue}`;
const expiresAt = (now: number) => num(Math.floor(now / 1000) + STATE_TTL_SECONDS);

/**
 * DynamoDB-backed state: one item for the gate (`pk = gate`) and one per queue
 * (`pk = queue#<name>`), each with a TTL attribute `expiresAt`. Reads are strongly consistent.
 */
export class DynamoStateStore implements StateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async readGate(): Promise<GateState> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: GATE_KEY } }, ConsistentRead: true }),
    );
    return {
      lastEvaluatedAt: readNum(Item, 'lastEvaluatedAt'),
      trailingAt: readNum(Item, 'trailingAt'),
      pollDurationSeconds: readNum(Item, 'pollDurationSeconds'),
    };
  }

  async claimEvaluation(seenLast: number | undefined, now: number): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'SET lastEvaluatedAt = :now, expiresAt = :exp REMOVE trailingAt',
      ConditionExpression:
        seenLast === undefined ? 'attribute_not_exists(lastEvaluatedAt)' : 'lastEvaluatedAt = :seen',
      ExpressionAttributeValues: {
        ':now': num(now),
        ':exp': expiresAt(now),
        ...(seenLast === undefined ? {} : { ':seen': num(seenLast) }),
      },
    });
  }

  async claimTrailing(seenLast: number, at: number, now: number): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'SET trailingAt = :at, expiresAt = :exp',
      ConditionExpression:
        'lastEvaluatedAt = :seen AND (attribute_not_exists(trailingAt) OR trailingAt <= :seen OR trailingAt < :stale)',
      ExpressionAttributeValues: {
        ':at': num(at),
        ':seen': num(seenLast),
        ':stale': num(now - TRAILING_GRACE_MS),
        ':exp': expiresAt(now),
      },
    });
  }

  async recordPollDuration(seconds: number, now: number): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: GATE_KEY } },
        UpdateExpression: 'SET pollDurationSeconds = :s, expiresAt = :exp',
        ExpressionAttributeValues: { ':s': num(seconds), ':exp': expiresAt(now) },
      }),
    );
  }

  async readQueue(queue: string): Promise<QueueState> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queueKey(queue) } },
        ConsistentRead: true,
      }),
    );
    return {
      lastScaleOutAt: readNum(Item, 'lastScaleOutAt'),
      lastScaleInAt: readNum(Item, 'lastScaleInAt'),
      dryRunDesired: readNum(Item, 'dryRunDesired'),
    };
  }

  async recordQueue(queue: string, patch: QueueState, now: number): Promise<void> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as [string, number][];
    const sets = entries.map((_entry, i) => `#k${i} = :v${i}`);
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queueKey(queue) } },
        UpdateExpression: `SET ${[...sets, 'expiresAt = :exp'].join(', ')}`,
        ExpressionAttributeNames: entries.length
          ? Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k]))
          : undefined,
        ExpressionAttributeValues: {
          ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, num(v)])),
          ':exp': expiresAt(now),
        },
      }),
    );
  }

  private async conditional(
    update: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], 'TableName' | 'Key'>,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({ TableName: this.tableName, Key: { pk: { S: GATE_KEY } }, ...update }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/**
 * The same semantics in memory: for `npm start`, the simulation benchmark and tests. One
 * process only (a Lambda instance must never use it: instances do not share memory).
 */
export class MemoryStateStore implements StateStore {
  private gateState: { lastEvaluatedAt?: number; trailingAt?: number; pollDurationSeconds?: number } = {};
  private readonly queues = new Map<string, QueueState>();

  async readGate(): Promise<GateState> {
    return { ...this.gateState };
  }

  async claimEvaluation(seenLast: number | undefined, now: number): Promise<boolean> {
    if (this.gateState.lastEvaluatedAt !== seenLast) return false;
    this.gateState = { ...this.gateState, lastEvaluatedAt: now, trailingAt: undefined };
    return true;
  }

  async claimTrailing(seenLast: number, at: number, now: number): Promise<boolean> {
    const { lastEvaluatedAt, trailingAt } = this.gateState;
    if (lastEvaluatedAt !== seenLast) return false;
    if (trailingAt !== undefined && trailingAt > seenLast && trailingAt >= now - TRAILING_GRACE_MS)
      return false;
    this.gateState = { ...this.gateState, trailingAt: at };
    return true;
  }

  async recordPollDuration(seconds: number): Promise<void> {
    this.gateState = { ...this.gateState, pollDurationSeconds: seconds };
  }

  async readQueue(queue: string): Promise<QueueState> {
    return { ...(this.queues.get(queue) ?? {}) };
  }

  async recordQueue(queue: string, patch: QueueState): Promise<void> {
    const merged = { ...(this.queues.get(queue) ?? {}) } as Record<string, number | undefined>;
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) merged[k] = v as number;
    this.queues.set(queue, merged);
  }
}
