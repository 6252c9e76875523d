import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import type { InvocationContext } from '../../../lambda/chat-alerts/dead-letters';
import { envelope, fixture } from './events';

const dynamo = mockClient(DynamoDBClient);
const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);

let handler: (event: EventEnvelope, context: InvocationContext) => Promise<void>;
let server: Server;
let url: string;
let status = 200;
let body = 'ok';
const received: string[] = [];
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  process.env.TABLE_NAME = 'chat-state';
  process.env.DEAD_LETTER_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/chat-dlq';
  process.env.CHAT_ALERTS_CONFIG = JSON.stringify({
    destinations: [
      {
        name: 'ci-slack',
        service: 'slack',
        pipelines: ['*'],
        branches: ['*'],
        events: ['agent.lost'],
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ci-slack',
      },
    ],
    jobsGraceSeconds: 0,
    stateTtlDays: 30,
  });
  ({ handler } = await import('../../../lambda/chat-alerts/handler'));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  dynamo.reset();
  secrets.reset();
  sqs.reset();
  received.length = 0;
  status = 200;
  body = 'ok';
  secrets.on(GetSecretValueCommand).resolves({ SecretString: url });
  dynamo.on(PutItemCommand).resolves({});
  dynamo.on(GetItemCommand).resolves({});
});

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
});
