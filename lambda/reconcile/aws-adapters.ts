/** The reconciler's AWS adapters: the DynamoDB delivery index and Powertools metrics. */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import {
  BatchGetItemCommand,
  UpdateItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import type { DeliveryIndex, IndexEntry, IndexSource, ReconcileMetrics } from './ports';

/** BatchGetItem reads at most 100 keys a call. */
const BATCH_GET_LIMIT = 100;
/** Retries of the keys DynamoDB left unprocessed (throttling) before the run fails and is retried. */
const UNPROCESSED_RETRIES = 5;

/**
 * The index in DynamoDB: one item per `build.finished` key (`pk`), with the source that first
 * recorded it, when, and an `expiresAt` TTL. Writes are idempotent; the first source is kept.
 */
export class DynamoDeliveryIndex implements DeliveryIndex {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** How long an item is kept; longer than the reconciler's look-back. */
    private readonly ttlSeconds: number,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async seen(keys: readonly string[]): Promise<ReadonlySet<string>> {
    const found = new Set<string>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let request:
        Record<string, { Keys: { pk: { S: string } }[]; ProjectionExpression: string }> | undefined = {
        [this.tableName]: {
          Keys: unique.slice(i, i + BATCH_GET_LIMIT).map((key) => ({ pk: { S: key } })),
          ProjectionExpression: 'pk',
        },
      };
      for (let attempt = 0; request; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) {
          throw new Error(
            `DynamoDB left keys of ${this.tableName} unprocessed after ${UNPROCESSED_RETRIES} retries.`,
          );
        }
        if (attempt > 0) await this.sleep(Math.random() * 50 * 2 ** attempt);
        const response: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({ RequestItems: request }),
        );
        for (const item of response.Responses?.[this.tableName] ?? []) {
          if (item.pk?.S) found.add(item.pk.S);
        }
        const left: KeysAndAttributes | undefined = response.UnprocessedKeys?.[this.tableName];
        request = left?.Keys?.length
          ? { [this.tableName]: { Keys: left.Keys as { pk: { S: string } }[], ProjectionExpression: 'pk' } }
          : undefined;
      }
    }
    return found;
  }

  async record(entry: IndexEntry): Promise<IndexSource | undefined> {
    const { Attributes } = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: entry.key } },
        UpdateExpression:
          'SET firstSource = if_not_exists(firstSource, :source), seenAt = if_not_exists(seenAt, :seenAt), expiresAt = :expiresAt',
        ExpressionAttributeValues: {
          ':source': { S: entry.source satisfies IndexSource },
          ':seenAt': { S: entry.seenAt.toISOString() },
          ':expiresAt': { N: String(Math.floor(entry.seenAt.getTime() / 1000) + this.ttlSeconds) },
        },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    const previous = Attributes?.firstSource?.S;
    return previous === 'webhook' || previous === 'reconcile' ? previous : undefined;
  }
}

/** `MissedDeliveries` and `BuildkiteApiCalls` in namespace kitebridge, service reconcile. */
export class PowertoolsReconcileMetrics implements ReconcileMetrics {
  constructor(private readonly metrics: Metrics) {}

  missed(count: number): void {
    this.metrics.addMetric('MissedDeliveries', MetricUnit.Count, count);
  }

  apiCalls(count: number): void {
    this.metrics.addMetric('BuildkiteApiCalls', MetricUnit.Count, count);
  }

  flush(): void {
    this.metrics.publishStoredMetrics();
  }
}
