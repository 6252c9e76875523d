/**
 * The SDK-backed adapters: the dead-letter queue as a sink (SQS), and the chat-alerts state in one
 * DynamoDB table (`pk`, `sk`, TTL attribute `expiresAt` on every item):
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | streak | `streak#<pipeline>#<branch>` | `streak` | `state` (JSON), `version` |
 * | failed job | `build#<build id>` | `job#<job id>` | `job` (JSON) |
 * | failure alert | `build#<build id>` | `alert` | `destinations`, `jobIds` (string sets) |
 * | delivery | `delivery#<alert key>` | `<destination>` | `status` (`pending`/`sent`), `leaseUntil` |
 *
 * Streaks use optimistic concurrency on `version`; deliveries use a conditional put as a lease, so
 * the same alert delivered twice (or concurrently) posts once.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { retryOnContention, type ContentionBackoff } from '../shared/contention';
import { num, readNum } from '../shared/dynamo-values';
import type { FailedJob } from './model';
import type {
  AlertStateStore,
  BuildAlertRecord,
  ClaimResult,
  DeadLetterRecord,
  DeadLetterSink,
} from './ports';
import type { StreakState } from './transitions';

type Item = Record<string, AttributeValue>;

export interface DynamoAlertStateStoreOptions {
  /** Days every item lives (the TTL attribute). */
  readonly ttlDays: number;
  /**
   * How long a streak update keeps retrying writes that met a concurrent one, in milliseconds
   * (then it throws and the event is retried). @default 30000, a third of the function timeout
   */
  readonly streakRetryBudgetMs?: number;
  /** Jittered wait between streak attempts. @default { baseMs: 20, capMs: 1000 } */
  readonly streakBackoff?: ContentionBackoff;
  readonly now?: () => number;
  /** @default a real-clock setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** The state store on a DynamoDB table; the client is injected (so tests mock it). */
export class DynamoAlertStateStore implements AlertStateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: DynamoAlertStateStoreOptions,
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private expiresAt(): AttributeValue {
    return num(Math.floor(this.now() / 1000) + this.options.ttlDays * 86_400);
  }

  private key(pk: string, sk: string): Item {
    return { pk: { S: pk }, sk: { S: sk } };
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: this.key(pk, sk), ConsistentRead: true }),
    );
    return out.Item;
  }

  /**
   * Writes item (`pk`, `sk`) with `attributes`, expiring after the TTL. With a `condition`,
   * returns false when it does not hold (nothing written); other failures are thrown.
   */
  private async put(
    pk: string,
    sk: string,
    attributes: Item,
    condition?: Pick<
      PutItemCommandInput,
      'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { ...this.key(pk, sk), ...attributes, expiresAt: this.expiresAt() },
          ...condition,
        }),
      );
      return true;
    } catch (error) {
      if (condition && isConditionalCheckFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Read, update, conditional write, until the write goes through (`retryOnContention`: jittered
   * waits, bounded by a time budget, not a count). With a finite number of concurrent events on
   * one pipeline+branch this ends after at most that many collisions; the budget only stops a
   * pathological stream of writers from holding the invocation until its timeout.
   */
  async updateStreak<T>(
    key: string,
    update: (current: StreakState | undefined) => { state: StreakState; result: T },
  ): Promise<T> {
    const budgetMs = this.options.streakRetryBudgetMs ?? 30_000;
    const backoff = this.options.streakBackoff ?? { baseMs: 20, capMs: 1000 };
    return retryOnContention(
      async () => {
        const item = await this.get(`streak#${key}`, 'streak');
        const current = item?.state?.S ? (JSON.parse(item.state.S) as StreakState) : undefined;
        const version = readNum(item, 'version') ?? 0;
        const { state, result } = update(current);
        const written = await this.put(
          `streak#${key}`,
          'streak',
          { state: { S: JSON.stringify(state) }, version: num(version + 1) },
          item
            ? {
                ConditionExpression: '#version = :version',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':version': num(version) },
              }
            : { ConditionExpression: 'attribute_not_exists(pk)' },
        );
        return written ? { value: result } : undefined;
      },
      {
        backoff,
        budgetMs,
        now: () => this.now(),
        sleep: this.options.sleep,
        random: this.options.random,
      },
      (attempts, elapsedMs) =>
        new Error(
          `Streak ${key} kept changing under concurrent writes (${attempts} attempts in ${elapsedMs} ms); retry the event.`,
        ),
    );
  }

  async putFailedJob(buildId: string, job: FailedJob): Promise<void> {
    await this.put(`build#${buildId}`, `job#${job.id}`, { job: { S: JSON.stringify(job) } });
  }

  async listFailedJobs(buildId: string): Promise<FailedJob[]> {
    const jobs: FailedJob[] = [];
    let start: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :job)',
          ExpressionAttributeValues: { ':pk': { S: `build#${buildId}` }, ':job': { S: 'job#' } },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) if (item.job?.S) jobs.push(JSON.parse(item.job.S) as FailedJob);
      start = out.LastEvaluatedKey;
    } while (start);
    return jobs;
  }

  async createBuildAlert(buildId: string, destinations: readonly string[]): Promise<void> {
    if (destinations.length === 0) return;
    // Created once: a later call for the same build leaves the first record as it is.
    await this.put(
      `build#${buildId}`,
      'alert',
      { destinations: { SS: [...destinations] } },
      { ConditionExpression: 'attribute_not_exists(pk)' },
    );
  }

  async getBuildAlert(buildId: string): Promise<BuildAlertRecord | undefined> {
    const item = await this.get(`build#${buildId}`, 'alert');
    if (!item) return undefined;
    return { destinations: item.destinations?.SS ?? [], jobIds: item.jobIds?.SS ?? [] };
  }

  async addListedJobs(buildId: string, jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(`build#${buildId}`, 'alert'),
        // Never leaves an item without TTL, even if the record expired in between.
        UpdateExpression: 'ADD jobIds :ids SET expiresAt = if_not_exists(expiresAt, :expiresAt)',
        ExpressionAttributeValues: { ':ids': { SS: [...jobIds] }, ':expiresAt': this.expiresAt() },
      }),
    );
  }

  async claimDelivery(key: string, destination: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.now();
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...this.key(`delivery#${key}`, destination),
            status: { S: 'pending' },
            leaseUntil: num(now + leaseMs),
            expiresAt: this.expiresAt(),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR (#status = :pending AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': { S: 'pending' }, ':now': num(now) },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
    }
    const item = await this.get(`delivery#${key}`, destination);
    return item?.status?.S === 'sent' ? 'sent' : 'busy';
  }

  async completeDelivery(key: string, destination: string): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          ...this.key(`delivery#${key}`, destination),
          status: { S: 'sent' },
          expiresAt: this.expiresAt(),
        },
      }),
    );
  }

  async releaseDelivery(key: string, destination: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: this.key(`delivery#${key}`, destination),
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': { S: 'pending' } },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
    }
  }
}

/** The consumer's dead-letter queue as a sink. */
export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(record: DeadLetterRecord): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(record) }),
    );
  }
}
