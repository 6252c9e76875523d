import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { publishedEvent } from '../../support/webhook-bodies';

const s3 = mockClient(S3Client);
const dynamo = mockClient(DynamoDBClient);
const BUCKET = 'kb-oversized';
let handler: (event: EventEnvelope) => Promise<void>;
let output: Record<string, unknown>[];

beforeAll(async () => {
  Object.assign(process.env, {
    AUTOSCALER_CONFIG: JSON.stringify(
      parseAutoscalerConfig({ org: 'acme', queues: [{ queue: 'linux', max: 5 }] }),
    ),
    STATE_TABLE_NAME: 'state',
    FLEET_TABLE_NAME: 'fleet',
    EVENT_BUS_NAME: 'kitebridge',
    AGENT_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:agent-token',
    OVERSIZED_BUCKET_NAME: BUCKET,
    // Logs and EMF to the global console, so they can be read here; metrics on.
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'false',
  });
  ({ handler } = await import('../../../lambda/autoscaler/handler'));
});
beforeEach(() => {
  s3.reset();
  dynamo.reset();
  output = [];
  const capture = (...args: unknown[]): void =>
    void output.push(JSON.parse(String(args[0])) as Record<string, unknown>);
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, method).mockImplementation(capture);
  }
});
afterEach(() => jest.restoreAllMocks());
afterAll(() => {
  s3.restore();
  dynamo.restore();
});

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
