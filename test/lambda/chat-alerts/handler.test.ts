import { createServer, type Server } from 'node:http';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import type { InvocationContext } from '../../../lambda/chat-alerts/dead-letters';
import { ALERT_KINDS } from '../../../lambda/chat-alerts/model';
import { buildFinished, envelope, fixture, pointerEnvelope, sharedBody, sharedWebhookBodies } from './events';
import { closeServer, listenOnLoopback } from '../../support/http-server';
import { captureOutput } from '../../support/output';
import { mockAwsClients } from '../../support/aws-mocks';

const { dynamo, secrets, sqs, s3 } = mockAwsClients({
  dynamo: DynamoDBClient,
  secrets: SecretsManagerClient,
  sqs: SQSClient,
  s3: S3Client,
});
const BUCKET = 'kitebridge-oversized-bodies';

let handler: (event: EventEnvelope, context: InvocationContext) => Promise<void>;
let server: Server;
let url: string;
let status = 200;
let body = 'ok';
const received: string[] = [];
// Powertools writes logs and EMF metrics to stdout and stderr: captured per test.
const output = captureOutput();
const context: InvocationContext = {
  awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:chat',
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      received.push(data);
      res.writeHead(status).end(body);
    });
  });
  url = `${await listenOnLoopback(server)}/hook`;
  process.env.TABLE_NAME = 'chat-state';
  process.env.DEAD_LETTER_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/chat-dlq';
  process.env.OVERSIZED_BUCKET_NAME = BUCKET;
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  process.env.CHAT_ALERTS_CONFIG = JSON.stringify({
    destinations: [
      {
        name: 'ci-slack',
        service: 'slack',
        pipelines: ['*'],
        branches: ['*'],
        events: [...ALERT_KINDS],
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ci-slack',
      },
    ],
    jobsGraceSeconds: 0,
    stateTtlDays: 30,
  });
  ({ handler } = await import('../../../lambda/chat-alerts/handler'));
});

afterAll(() => closeServer(server));

beforeEach(() => {
  received.length = 0;
  status = 200;
  body = 'ok';
  secrets.on(GetSecretValueCommand).resolves({ SecretString: url });
  dynamo.on(PutItemCommand).resolves({});
  dynamo.on(GetItemCommand).resolves({});
  dynamo.on(QueryCommand).resolves({ Items: [] });
  dynamo.on(UpdateItemCommand).resolves({});
  dynamo.on(DeleteItemCommand).resolves({});
});

/** The stored body as S3 returns it: the SDK's stream reduced to the one method the reader calls. */
function storeBody(key: string, stored: Record<string, unknown>): void {
  const text = JSON.stringify(stored);
  s3.on(GetObjectCommand, { Bucket: BUCKET, Key: key }).resolves({
    Body: { transformToString: async () => text },
  } as never);
}

describe('chat-alerts handler', () => {
  it('posts an alert to the URL from the secret and records the delivery', async () => {
    await handler(envelope(fixture('agent.lost')), context);
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!)).toMatchObject({ text: expect.stringContaining('was lost') });
    const statuses = dynamo.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item?.status?.S);
    expect(statuses).toEqual(['pending', 'sent']);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('skips a duplicate already posted', async () => {
    dynamo.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'x', $metadata: {} }));
    dynamo.on(GetItemCommand).resolves({ Item: { status: { S: 'sent' } } });
    await handler(envelope(fixture('agent.lost')), context);
    expect(received).toHaveLength(0);
  });

  it('writes a permanent refusal to the DLQ at once and returns (no Lambda retries)', async () => {
    status = 400;
    body = 'invalid_payload';
    const event = envelope(fixture('agent.lost'));
    sqs.on(SendMessageCommand).resolves({});
    await handler(event, context);
    const sent = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(sent.QueueUrl).toBe(process.env.DEAD_LETTER_QUEUE_URL);
    const record = JSON.parse(sent.MessageBody!);
    expect(record).toMatchObject({
      requestContext: { requestId: 'req-1', condition: 'PermanentError', approximateInvokeCount: 1 },
      requestPayload: { id: event.id },
      responsePayload: {
        errorType: 'PermanentDeliveryError',
        errorMessage: expect.stringContaining('invalid_payload'),
      },
    });
    expect(sent.MessageBody).not.toContain(url);
  });

  it('rethrows the permanent error if the DLQ cannot take it', async () => {
    status = 404;
    body = 'no_service';
    sqs.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    await expect(handler(envelope(fixture('agent.lost')), context)).rejects.toThrow('no_service');
  });

  it('rethrows a retryable failure, so Lambda retries and then dead-letters it', async () => {
    status = 503;
    await expect(handler(envelope(fixture('agent.lost')), context)).rejects.toThrow(/HTTP 503/);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  }, 10_000);

  it('skips a body it cannot use: one log line and a Skipped metric by Reason, no throw, no DLQ', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      const event = envelope(sharedBody('realworld/buildkite/buildkite-docs.build.finished.blocked.json'));
      await expect(handler(event, context)).resolves.toBeUndefined();
      const lines = output.lines();
      const json = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const emf = json.filter((doc) => '_aws' in doc);
      expect(emf).toEqual([
        expect.objectContaining({
          _aws: expect.objectContaining({
            CloudWatchMetrics: [
              {
                Namespace: 'kitebridge',
                Dimensions: [['service', 'Reason']],
                Metrics: [{ Name: 'Skipped', Unit: 'Count' }],
              },
            ],
          }),
          service: 'chat-alerts',
          Reason: 'build-unidentified',
          Skipped: 1,
        }),
      ]);
      expect(json.filter((doc) => doc.level === 'WARN')).toEqual([
        expect.objectContaining({
          message: 'Delivery skipped',
          reason: 'build-unidentified',
          eventId: event.id,
          detailType: 'build.finished',
          effect: 'no alert',
        }),
      ]);
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
      expect(received).toEqual([]);
    } finally {
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
  });

  it.each(sharedWebhookBodies())(
    'handles %s without throwing and without a dead letter',
    async (_file, webhook) => {
      await expect(handler(envelope(webhook), context)).resolves.toBeUndefined();
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    },
  );
});

describe('oversized deliveries', () => {
  const key = 'oversized/2026/06/03/req-big.json';
  const pointer = { bucket: BUCKET, key, bytes: 300_000 };
  // What a pointer keeps of a build.finished body: routing fields, not the commit message or author.
  const routing = {
    build: { id: 'build-1', number: 1, state: 'failed', branch: 'main', blocked: false },
    pipeline: { slug: 'deploy-api', name: 'Deploy API' },
  };

  it('reads the whole body from S3 before alerting: commit and author come from the stored body', async () => {
    storeBody(key, buildFinished(1, 'failed'));
    await handler(pointerEnvelope('build.finished', routing, pointer), context);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: key },
    ]);
    expect(received).toHaveLength(1);
    expect(received[0]).toContain('Retry S3 artifact uploads with exponential backoff');
    expect(received[0]).toContain('Dana Whitfield');
  });

  it('alerts with agent fields only the stored body has', async () => {
    storeBody(key, fixture('agent.lost'));
    const agent = fixture('agent.lost').agent as Record<string, unknown>;
    await handler(
      pointerEnvelope(
        'agent.lost',
        { agent: { id: agent.id, name: agent.name, connection_state: 'lost' } },
        pointer,
      ),
      context,
    );
    expect(received).toHaveLength(1);
    expect(received[0]).toContain(String(agent.hostname));
  });

  it('skips a pointer whose stored body is gone (expired): no retry, no dead letter', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    await expect(handler(pointerEnvelope('agent.lost', {}, pointer), context)).resolves.toBeUndefined();
    expect(output.text()).toContain('"reason":"oversized-body-missing"');
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(received).toEqual([]);
  });

  it('rethrows any other read failure, so the event is retried (not dead-lettered at once)', async () => {
    s3.on(GetObjectCommand).rejects(new Error('SlowDown'));
    await expect(handler(pointerEnvelope('agent.lost', {}, pointer), context)).rejects.toThrow('SlowDown');
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(received).toEqual([]);
  });

  it('refuses a pointer to another bucket without reading it', async () => {
    await expect(
      handler(pointerEnvelope('agent.lost', {}, { ...pointer, bucket: 'someone-elses' }), context),
    ).rejects.toThrow(/someone-elses/);
    expect(s3.calls()).toHaveLength(0);
  });
});
