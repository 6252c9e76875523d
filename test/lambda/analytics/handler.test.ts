import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { Readable } from 'node:stream';
import type { AnalyticsRecord } from '../../../lambda/analytics/record';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { publishedEvent, readWebhookBody, webhookBodyFiles } from '../../support/webhook-bodies';
import { mockAwsClients } from '../../support/aws-mocks';

const { firehose, s3 } = mockAwsClients({ firehose: FirehoseClient, s3: S3Client });
const BUCKET = 'kb-oversized';
let handler: (event: EventEnvelope) => Promise<void>;

/** Every line the function wrote (logs and EMF), parsed. */
let output: Record<string, unknown>[];

beforeAll(async () => {
  Object.assign(process.env, {
    DELIVERY_STREAM_NAME: 'records-stream',
    OVERSIZED_BUCKET_NAME: BUCKET,
    // Logs and EMF to the global console (so they can be read here), warnings and up, metrics on.
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'false',
  });
  ({ handler } = await import('../../../lambda/analytics/handler'));
});
beforeEach(() => {
  firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: '1' }] });
  output = [];
  const capture =
    (method: string) =>
    (...args: unknown[]): void =>
      void output.push({
        ...(JSON.parse(String(args[0])) as Record<string, unknown>),
        consoleMethod: method,
      });
  jest.spyOn(console, 'log').mockImplementation(capture('log'));
  jest.spyOn(console, 'info').mockImplementation(capture('info'));
  jest.spyOn(console, 'warn').mockImplementation(capture('warn'));
  jest.spyOn(console, 'error').mockImplementation(capture('error'));
  jest.spyOn(console, 'debug').mockImplementation(capture('debug'));
});
afterEach(() => jest.restoreAllMocks());
afterAll(() => {
  firehose.restore();
  s3.restore();
});

function recordsSent(): AnalyticsRecord[] {
  return firehose
    .commandCalls(PutRecordBatchCommand)
    .flatMap((c) => c.args[0].input.Records ?? [])
    .map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString('utf8')) as AnalyticsRecord);
}

const errorLines = () => output.filter((l) => l.level === 'ERROR' || l.consoleMethod === 'error');
const skippedMetrics = () => output.filter((l) => '_aws' in l && 'Skipped' in l);

describe('analytics handler', () => {
  it('reads an oversized body from the configured bucket and writes its whole record', async () => {
    const body = {
      event: 'job.started',
      job: { id: 'j-1', agent_query_rules: ['queue=gpu'], blob: 'x'.repeat(300_000) },
      build: { id: 'b-1' },
      pipeline: { slug: 'ml' },
    };
    s3.on(GetObjectCommand).resolves({
      Body: sdkStreamMixin(Readable.from([Buffer.from(JSON.stringify(body))])),
    } as never);
    const pointer = { bucket: BUCKET, key: 'oversized/2026/06/03/req-1.json', bytes: 300_100 };
    await handler(
      publishedEvent({ event: 'job.started', job: { id: 'j-1' } }, 'evt-big', { oversized: pointer }),
    );
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: BUCKET, Key: pointer.key });
    expect(recordsSent()).toEqual([
      expect.objectContaining({
        event_id: 'evt-big',
        queue: 'gpu',
        build_id: 'b-1',
        pipeline: 'ml',
        oversized: true,
      }),
    ]);
    expect(errorLines()).toEqual([]);
  });

  it('logs and rethrows when the stored body cannot be read, writing nothing', async () => {
    s3.on(GetObjectCommand).rejects(new Error('AccessDenied'));
    const pointer = { bucket: BUCKET, key: 'oversized/k.json', bytes: 300_000 };
    await expect(handler(publishedEvent({ event: 'ping' }, 'evt-2', { oversized: pointer }))).rejects.toThrow(
      'AccessDenied',
    );
    expect(firehose.calls()).toHaveLength(0);
    expect(errorLines()).toHaveLength(1);
  });

  it('a body without the job: one Skipped data point (kitebridge/service=analytics, Reason) and one warning', async () => {
    await handler(publishedEvent({ event: 'job.finished', build: { id: 'b' } }, 'evt-3'));
    expect(recordsSent()).toHaveLength(1);
    expect(skippedMetrics()).toEqual([
      expect.objectContaining({
        Skipped: 1,
        Reason: 'missing-job',
        service: 'analytics',
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            expect.objectContaining({ Namespace: 'kitebridge', Dimensions: [['service', 'Reason']] }),
          ],
        }),
      }),
    ]);
    expect(output.filter((l) => l.level === 'WARN')).toEqual([
      expect.objectContaining({
        message: 'Delivery skipped',
        reason: 'missing-job',
        eventId: 'evt-3',
        detailType: 'job.finished',
      }),
    ]);
  });

  it('writes a record for every documented and real-world webhook body, with no error line', async () => {
    const files = webhookBodyFiles();
    for (const [i, file] of files.entries()) await handler(publishedEvent(readWebhookBody(file), `evt-${i}`));
    const sent = recordsSent();
    expect(sent.map((r) => r.event_id)).toEqual(files.map((_, i) => `evt-${i}`));
    expect(sent.filter((r) => r.family === 'workflow').map((r) => r.event)).toEqual(
      expect.arrayContaining([
        'workflow.passed_on_retry',
        'workflow.probabilistic_flakiness',
        'workflow.alarm',
      ]),
    );
    expect(errorLines()).toEqual([]);
    // The documentation examples that elide whole objects are counted, not failed.
    expect(skippedMetrics().length).toBeGreaterThan(0);
  });
});
