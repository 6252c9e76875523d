import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { Readable } from 'node:stream';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { autoscalerHandlerEnv } from '../../support/autoscaler';
import { mockAwsClients } from '../../support/aws-mocks';
import { publishedEvent } from '../../support/webhook-bodies';

const { s3, dynamo } = mockAwsClients({ s3: S3Client, dynamo: DynamoDBClient });
const BUCKET = 'kb-oversized';
let handler: (event: EventEnvelope) => Promise<void>;
let output: Record<string, unknown>[];

beforeAll(async () => {
  Object.assign(
    process.env,
    autoscalerHandlerEnv([{ queue: 'linux', max: 5 }], {
      OVERSIZED_BUCKET_NAME: BUCKET,
      // Logs and EMF to the global console, so they can be read here; metrics on.
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'false',
    }),
  );
  ({ handler } = await import('../../../lambda/autoscaler/handler'));
});
beforeEach(() => {
  output = [];
  const capture = (...args: unknown[]): void =>
    void output.push(JSON.parse(String(args[0])) as Record<string, unknown>);
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, method).mockImplementation(capture);
  }
});
afterEach(() => jest.restoreAllMocks());

describe('autoscaler handler', () => {
  it('reads a pointer event whole from the configured bucket before deciding; an unconfigured queue goes no further', async () => {
    const body = { event: 'job.scheduled', job: { id: 'j', agent_query_rules: ['queue=mac'] } };
    s3.on(GetObjectCommand).resolves({
      Body: sdkStreamMixin(Readable.from([Buffer.from(JSON.stringify(body))])),
    } as never);
    const pointer = { bucket: BUCKET, key: 'oversized/2026/06/03/r.json', bytes: 300_000 };
    await handler(
      publishedEvent({ event: 'job.scheduled', job: { id: 'j' } }, 'evt-1', { oversized: pointer }),
    );
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: BUCKET, Key: pointer.key });
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('a job event without a job: one warning and one Skipped point in kitebridge (service=autoscaler), nothing else', async () => {
    await handler(publishedEvent({ event: 'job.started', build: { id: 'b' } }, 'evt-2'));
    expect(dynamo.calls()).toHaveLength(0);
    expect(output).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'Delivery skipped',
        reason: 'missing-job',
        eventId: 'evt-2',
      }),
      expect.objectContaining({
        Skipped: 1,
        Reason: 'missing-job',
        service: 'autoscaler',
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            expect.objectContaining({ Namespace: 'kitebridge', Dimensions: [['service', 'Reason']] }),
          ],
        }),
      }),
    ]);
  });
});
