/**
 * The SDK-backed adapters: records to Firehose (PutRecordBatch within its limits), metrics as
 * Powertools EMF lines.
 */
import {
  PutRecordBatchCommand,
  type FirehoseClient,
  type PutRecordBatchResponseEntry,
} from '@aws-sdk/client-firehose';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricPoint } from './metrics';
import type { MetricsEmitter, RecordSink } from './ports';

/** PutRecordBatch service limits (Amazon Data Firehose quotas). */
export const FIREHOSE_LIMITS = {
  /** Records per PutRecordBatch call. */
  maxRecordsPerBatch: 500,
  /** Bytes per PutRecordBatch call (4 MiB). */
  maxBatchBytes: 4 * 1024 * 1024,
  /** Bytes per record, before base64 (1,000 KiB). */
  maxRecordBytes: 1000 * 1024,
} as const;

/**
 * Splits encoded records into PutRecordBatch calls: at most 500 records and 4 MiB per call, in
 * order. A record over 1,000 KiB cannot be sent at all: that throws, naming its size.
 */
export function batches(payloads: readonly Uint8Array[], limits = FIREHOSE_LIMITS): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let bytes = 0;
  for (const payload of payloads) {
    if (payload.byteLength > limits.maxRecordBytes) {
      throw new Error(
        `Record of ${payload.byteLength} bytes exceeds the Firehose record limit of ${limits.maxRecordBytes} bytes.`,
      );
    }
    if (current.length >= limits.maxRecordsPerBatch || bytes + payload.byteLength > limits.maxBatchBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(payload);
    bytes += payload.byteLength;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Thrown when records are still refused after every retry. */
export class FirehoseDeliveryError extends Error {
  constructor(
    readonly failed: number,
    readonly total: number,
    readonly errorCodes: readonly string[],
  ) {
    super(
      `Firehose refused ${failed} of ${total} records after retries (${errorCodes.join(', ') || 'no error code'}).`,
    );
    this.name = 'FirehoseDeliveryError';
  }
}

export interface FirehoseSinkOptions {
  /** PutRecordBatch calls per batch, the first included, before giving up. @default 4 */
  readonly maxAttempts?: number;
  /** First backoff; doubled each retry, with full jitter. @default 100 */
  readonly baseDelayMs?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * Writes records to a Firehose stream as newline-terminated JSON with PutRecordBatch. Entries the
 * service refuses (`FailedPutCount` > 0, an `ErrorCode` per entry) are sent again, only those, with
 * exponential backoff; when some are still refused after `maxAttempts` it throws, so the event is
 * retried by Lambda/EventBridge and finally lands in the consumer's DLQ. Errors thrown by the
 * client itself (after the SDK's own retries) are rethrown unchanged.
 */
export class FirehoseRecordSink<R> implements RecordSink<R> {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: FirehoseClient,
    private readonly streamName: string,
    options: FirehoseSinkOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async put(records: readonly R[]): Promise<void> {
    const payloads = records.map((record) => Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'));
    for (const batch of batches(payloads)) await this.putBatch(batch);
  }

  private async putBatch(batch: Uint8Array[]): Promise<void> {
    let pending = batch;
    let codes: string[] = [];
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await this.sleep(this.random() * this.baseDelayMs * 2 ** (attempt - 2));
      const response = await this.client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: this.streamName,
          Records: pending.map((Data) => ({ Data })),
        }),
      );
      if (!response.FailedPutCount) return;
      const entries: PutRecordBatchResponseEntry[] = response.RequestResponses ?? [];
      const failed = pending.filter(
        (_, i) => entries[i]?.ErrorCode !== undefined || entries[i] === undefined,
      );
      codes = [...new Set(entries.flatMap((e) => (e.ErrorCode ? [e.ErrorCode] : [])))];
      pending = failed;
      if (pending.length === 0) return;
    }
    throw new FirehoseDeliveryError(pending.length, batch.length, codes);
  }
}

/** Each point as its own EMF document, so its dimensions do not leak onto the others. */
export class PowertoolsMetricsEmitter implements MetricsEmitter {
  constructor(private readonly metrics: Metrics) {}

  emit(points: readonly MetricPoint[]): void {
    for (const point of points) {
      const single = this.metrics.singleMetric();
      for (const [name, value] of Object.entries(point.dimensions)) single.addDimension(name, value);
      single.addMetric(
        point.name,
        point.unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.Count,
        point.value,
      );
    }
  }
}
