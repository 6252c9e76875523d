import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { OversizedPointer } from '../shared/contract';
import { num, readNum } from '../shared/dynamo-values';
import { ForeignBucketError, S3BodyReader } from '../shared/s3-body-reader';
import { EMPTY_PACING_STATE, type PacingState } from './gcra';
import { checkTriggerUrl } from './http-poster';
import type {
  ClaimResult,
  DeferredAttributes,
  IdempotencyStore,
  OversizedBodySource,
  PacingStore,
  RelayMessage,
  RelayQueue,
  TriggerUrlSource,
} from './ports';
import { MAX_DELAY_SECONDS, PermanentRelayError } from './app';

/** Partition key of the one pacing item every trigger shares. */
export const PACING_KEY = 'pacing#all-triggers';

/** Partition key of a delivery's idempotency record. */
function idempotencyKey(key: string): string {
  return `idempotency#${key}`;
}

/**
 * The pacing item in DynamoDB: consistent reads, writes conditional on its version. Items
 * written before slots were handed out at arrival also hold `tail` (the wake-up after the last
 * waiter's); it counts as the TAT until the first write removes it, so those waiters keep theirs.
 */
export class DynamoDbPacingStore implements PacingStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async read(): Promise<{ state: PacingState; version: number }> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: PACING_KEY } }, ConsistentRead: true }),
    );
    if (!Item) return { state: EMPTY_PACING_STATE, version: 0 };
    return {
      state: { tat: Math.max(readNum(Item, 'tat') ?? 0, readNum(Item, 'tail') ?? 0) },
      version: readNum(Item, 'version') ?? 0,
    };
  }

  async write(next: PacingState, expectedVersion: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: PACING_KEY } },
          UpdateExpression: 'SET tat = :tat, version = :next REMOVE tail',
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : 'version = :expected',
          ExpressionAttributeValues: {
            ':tat': num(next.tat),
            ':next': num(expectedVersion + 1),
            ...(expectedVersion === 0 ? {} : { ':expected': num(expectedVersion) }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/**
 * Idempotency records in DynamoDB, one item per trigger and dedupe key, written with
 * conditional PutItem: a claim succeeds only when there is no live record (none, expired, or an
 * in-progress claim whose lease ran out). `expiresAt` is the table's TTL attribute; the
 * condition also checks it because TTL deletes lazily.
 */
export class DynamoDbIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async claim(
    key: string,
    owner: string,
    now: number,
    leaseMs: number,
    expiresAt: number,
  ): Promise<ClaimResult> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            pk: { S: idempotencyKey(key) },
            status: { S: 'in-progress' },
            owner: { S: owner },
            leaseUntil: num(now + leaseMs),
            expiresAt: num(expiresAt),
          },
          ConditionExpression:
            'attribute_not_exists(pk) OR expiresAt < :nowSeconds OR (#status = :inProgress AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':now': num(now),
            ':nowSeconds': num(Math.floor(now / 1000)),
            ':inProgress': { S: 'in-progress' },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { status: 'claimed' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const old = error.Item;
      if (old?.status?.S === 'done') {
        const buildkiteId = old.buildkiteId?.S;
        return buildkiteId === undefined ? { status: 'done' } : { status: 'done', buildkiteId };
      }
      return { status: 'in-progress', leaseUntil: readNum(old, 'leaseUntil') ?? now + leaseMs };
    }
  }

  async complete(
    key: string,
    owner: string,
    done: { buildkiteId?: string; completedAt: number; expiresAt: number },
  ): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: idempotencyKey(key) } },
        UpdateExpression: `SET #status = :done, #owner = :owner, completedAt = :completedAt, expiresAt = :expiresAt${done.buildkiteId === undefined ? '' : ', buildkiteId = :buildkiteId'} REMOVE leaseUntil`,
        ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':done': { S: 'done' },
          ':owner': { S: owner },
          ':completedAt': num(done.completedAt),
          ':expiresAt': num(done.expiresAt),
          ...(done.buildkiteId === undefined ? {} : { ':buildkiteId': { S: done.buildkiteId } }),
        },
      }),
    );
  }

  async release(key: string, owner: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: idempotencyKey(key) } },
          ConditionExpression: '#owner = :owner AND #status = :inProgress',
          ExpressionAttributeNames: { '#owner': 'owner', '#status': 'status' },
          ExpressionAttributeValues: { ':owner': { S: owner }, ':inProgress': { S: 'in-progress' } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

export interface SecretUrlSourceOptions {
  /** How long a URL is reused before it is read again. @default 300000 (5 minutes) */
  readonly maxAgeMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

/**
 * Each trigger's Buildkite URL from its Secrets Manager secret (by ARN), cached. Only valid
 * URLs are cached, so a secret filled in after a dead-letter works on the redrive. The value
 * never appears in an error or a log line.
 */
export class SecretsManagerUrlSource implements TriggerUrlSource {
  private readonly cache = new Map<string, { url: string; at: number }>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly maxAgeMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretArns: Readonly<Record<string, string>>,
    options: SecretUrlSourceOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.clock = options.clock ?? Date.now;
  }

  async url(trigger: string): Promise<string> {
    const cached = this.cache.get(trigger);
    if (cached && this.clock() - cached.at < this.maxAgeMs) return cached.url;
    const running = this.inflight.get(trigger);
    if (running) return running;
    const fetching = this.fetch(trigger).finally(() => this.inflight.delete(trigger));
    this.inflight.set(trigger, fetching);
    return fetching;
  }

  private async fetch(trigger: string): Promise<string> {
    const arn = Object.prototype.hasOwnProperty.call(this.secretArns, trigger)
      ? this.secretArns[trigger]
      : undefined;
    if (arn === undefined) {
      throw new PermanentRelayError(`No URL secret is configured for trigger "${trigger}".`);
    }
    const { SecretString } = await this.client.send(new GetSecretValueCommand({ SecretId: arn }));
    const url = checkTriggerUrl(trigger, SecretString);
    this.cache.set(trigger, { url, at: this.clock() });
    return url;
  }
}

/** Oversized bodies from the bucket the verify function stored them in. */
export class S3BodySource implements OversizedBodySource {
  private readonly reader: S3BodyReader;

  constructor(client: S3Client, bucket: string) {
    this.reader = new S3BodyReader(client, bucket);
  }

  async get(pointer: OversizedPointer): Promise<Buffer> {
    try {
      return Buffer.from(await this.reader.readBytes(pointer));
    } catch (error) {
      if (error instanceof ForeignBucketError) throw new PermanentRelayError(error.message);
      if (error instanceof NoSuchKey) {
        throw new PermanentRelayError(`The stored body ${pointer.key} no longer exists (expired?).`);
      }
      throw error;
    }
  }
}

/** Message attributes the relay reads back from the messages it re-sends. */
const ATTEMPT_ATTRIBUTE = 'kitebridge-attempt';
const NOT_BEFORE_ATTRIBUTE = 'kitebridge-not-before';
/** Set (`true`) when the not-before time ends a retry backoff rather than being a pacing slot. */
const BACKOFF_ATTRIBUTE = 'kitebridge-backoff';
const FAILURE_REASON_ATTRIBUTE = 'kitebridge-failure-reason';

/**
 * Re-sends waiting messages to the relay queue with DelaySeconds (the received copy is then
 * acknowledged), and dead-letters by sending to the dead-letter queue with the reason.
 */
export class SqsRelayQueue implements RelayQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string,
  ) {}

  async defer(message: RelayMessage, delaySeconds: number, next: DeferredAttributes): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {
      [ATTEMPT_ATTRIBUTE]: { DataType: 'Number', StringValue: String(next.attempt) },
    };
    if (next.notBefore !== undefined) {
      attributes[NOT_BEFORE_ATTRIBUTE] = {
        DataType: 'Number',
        StringValue: String(Math.ceil(next.notBefore)),
      };
    }
    if (next.backoff === true) attributes[BACKOFF_ATTRIBUTE] = { DataType: 'String', StringValue: 'true' };
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: message.body,
        DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))),
        MessageAttributes: attributes,
      }),
    );
  }

  async deadLetter(message: RelayMessage, reason: string): Promise<void> {
    // No attempt count: a message redriven from the dead-letter queue starts afresh.
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: message.body,
        MessageAttributes: {
          [FAILURE_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: reason.slice(0, 1000) },
        },
      }),
    );
  }
}

/** The relay attributes of a received SQS message (attribute values as Lambda passes them). */
export function relayMessageOf(record: {
  readonly messageId: string;
  readonly body: string;
  readonly messageAttributes?: Readonly<Record<string, { readonly stringValue?: string | undefined }>>;
}): RelayMessage {
  const attempt = Number(record.messageAttributes?.[ATTEMPT_ATTRIBUTE]?.stringValue ?? '0');
  const notBeforeRaw = record.messageAttributes?.[NOT_BEFORE_ATTRIBUTE]?.stringValue;
  const notBefore = notBeforeRaw === undefined ? Number.NaN : Number(notBeforeRaw);
  return {
    messageId: record.messageId,
    body: record.body,
    attempt: Number.isInteger(attempt) && attempt >= 0 ? attempt : 0,
    ...(Number.isFinite(notBefore) ? { notBefore } : {}),
    ...(record.messageAttributes?.[BACKOFF_ATTRIBUTE]?.stringValue === 'true' ? { backoff: true } : {}),
  };
}
