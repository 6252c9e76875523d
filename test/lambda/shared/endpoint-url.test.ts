import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import type { InvocationContext } from '../../../lambda/chat-alerts/dead-letters';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { apiEvent, BUILD_FINISHED, TOKEN } from '../../../support/api-event';
import { envelope, fixture } from '../chat-alerts/events';
import { spoolRecord, sqsRecord } from '../../support/sqs-records';
import { triggerEvent } from '../trigger-relay/support';

/**
 * The functions build their SDK clients with the default configuration chain, so
 * AWS_ENDPOINT_URL sends them to an emulator. Proven on the clients the handlers themselves build
 * (each handler module imported fresh, with AWS_ENDPOINT_URL set, and invoked): every AWS call
 * must reach a local HTTP server standing in for the services. A handler that hard-coded an
 * endpoint, or built a client the environment cannot redirect, would send its call elsewhere and
 * the call would be missing here.
 */

/** One request the stand-in received: the JSON-protocol operation, or `S3 GET /bucket/key`. */
interface Seen {
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

const seen: Seen[] = [];
/** Operations the stand-in fails with HTTP 500 (to walk a handler's fallback path). */
const failing = new Set<string>();
/** Secret values by ARN, and S3 objects by `bucket/key`. */
const secrets = new Map<string, string>();
const objects = new Map<string, string>();
let server: http.Server;
let endpoint: string;

function answer(operation: string, input: Record<string, unknown>): unknown {
  switch (operation) {
    case 'AWSEvents.PutEvents':
      return { FailedEntryCount: 0, Entries: [{ EventId: 'local-event-1' }] };
    case 'AmazonSQS.SendMessage':
      // The SQS client verifies this checksum of the body it sent.
      return {
        MessageId: 'm-1',
        MD5OfMessageBody: createHash('md5')
          .update(String(input.MessageBody ?? ''))
          .digest('hex'),
      };
    case 'Firehose_20150804.PutRecordBatch':
      return {
        FailedPutCount: 0,
        RequestResponses: (input.Records as unknown[]).map((_, i) => ({ RecordId: `r-${i}` })),
      };
    case 'secretsmanager.GetSecretValue':
      return { ARN: input.SecretId, Name: 'secret', SecretString: secrets.get(String(input.SecretId)) };
    default:
      // DynamoDB: no item yet, and every conditional write succeeds.
      if (operation.startsWith('DynamoDB_20120810.')) return {};
      throw new Error(`The stand-in does not know ${operation}`);
  }
}

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const target = request.headers['x-amz-target'];
      if (typeof target !== 'string') {
        // Not a JSON-protocol call: S3 (path-style on an IP endpoint) or a chat webhook.
        const { pathname } = new URL(String(request.url), endpoint);
        seen.push({ operation: `${request.method} ${pathname}`, input: {} });
        const object = objects.get(pathname.slice(1));
        if (pathname === '/hook') response.writeHead(200).end('ok');
        else if (object !== undefined)
          response.writeHead(200, { 'Content-Type': 'application/json' }).end(object);
        else response.writeHead(404).end();
        return;
      }
      const input = JSON.parse(text || '{}') as Record<string, unknown>;
      seen.push({ operation: target, input });
      if (failing.has(target)) {
        response.writeHead(500, { 'Content-Type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: 'InternalFailure', message: 'stand-in failure' }));
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(answer(target, input)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_ENDPOINT_URL = endpoint;
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL;
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  failing.clear();
  secrets.clear();
  objects.clear();
  jest.resetModules();
});

const operations = () => seen.map((s) => s.operation);

/** Imports a handler module fresh, so it builds its clients with this test's environment. */
async function freshHandler<T>(module: string, env: Record<string, string>): Promise<T> {
  Object.assign(process.env, env);
  return ((await import(module)) as { handler: T }).handler;
}

const BUCKET = 'kitebridge-oversized';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kitebridge-AbCdEf';

describe('AWS_ENDPOINT_URL reaches the clients each handler builds', () => {
  it('verify: the secret and PutEvents; with the bus down, the lazily built SQS spool', async () => {
    const handler = await freshHandler<(event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>>(
      '../../../lambda/verify/handler',
      {
        EVENT_BUS_NAME: 'kitebridge-bus',
        WEBHOOK_SECRET_ARN: SECRET_ARN,
        SPOOL_QUEUE_URL: `${endpoint}/123456789012/spool`,
        OVERSIZED_BUCKET_NAME: BUCKET,
        REPLAY_WINDOW_SECONDS: '300',
        MAX_BODY_BYTES: '5000000',
      },
    );
    secrets.set(SECRET_ARN, JSON.stringify({ token: TOKEN }));
    const event = () => apiEvent({ body: BUILD_FINISHED, headers: { 'X-Buildkite-Token': TOKEN } });

    expect((await handler(event())).statusCode).toBe(202);
    expect(operations()).toEqual(['secretsmanager.GetSecretValue', 'AWSEvents.PutEvents']);

    seen.length = 0;
    failing.add('AWSEvents.PutEvents');
    expect((await handler(event())).statusCode).toBe(202);
    expect(operations()).toContain('AmazonSQS.SendMessage');
  });

  it('redrive: PutEvents', async () => {
    const handler = await freshHandler<(event: SQSEvent, context: Context) => Promise<SQSBatchResponse>>(
      '../../../lambda/redrive/handler',
      { EVENT_BUS_NAME: 'kitebridge-bus' },
    );
    const record = spoolRecord('m-1', {
      source: 'buildkite',
      detailType: 'ping',
      detail: '{"event":"ping"}',
    });

    const result = await handler({ Records: [record] }, { functionName: 'redrive' } as Context);

    expect(result.batchItemFailures).toEqual([]);
    expect(operations()).toEqual(['AWSEvents.PutEvents']);
  });

  it('analytics: PutRecordBatch, and the lazily built S3 reader for an oversized body', async () => {
    const handler = await freshHandler<(event: EventEnvelope) => Promise<void>>(
      '../../../lambda/analytics/handler',
      {
        DELIVERY_STREAM_NAME: 'records-stream',
        OVERSIZED_BUCKET_NAME: BUCKET,
      },
    );
    const body = { event: 'job.started', job: { id: 'j-1' }, build: { id: 'b-1' }, pipeline: { slug: 'ml' } };
    const key = 'oversized/2026/06/03/req-1.json';
    objects.set(`${BUCKET}/${key}`, JSON.stringify(body));
    const event = envelope({ event: 'job.started', job: { id: 'j-1' } });
    const detail = {
      ...event.detail,
      delivery: { ...(event.detail.delivery as object), oversized: { bucket: BUCKET, key, bytes: 300_000 } },
    };

    await handler({ ...event, detail });

    expect(operations()).toEqual([`GET /${BUCKET}/${key}`, 'Firehose_20150804.PutRecordBatch']);
  });

  it('chat alerts: DynamoDB and the secret; a refused post goes to the DLQ through SQS', async () => {
    const handler = await freshHandler<(event: EventEnvelope, context: InvocationContext) => Promise<void>>(
      '../../../lambda/chat-alerts/handler',
      {
        TABLE_NAME: 'chat-state',
        OVERSIZED_BUCKET_NAME: BUCKET,
        DEAD_LETTER_QUEUE_URL: `${endpoint}/123456789012/chat-dlq`,
        CHAT_ALERTS_CONFIG: JSON.stringify({
          destinations: [
            {
              name: 'ci',
              service: 'slack',
              pipelines: [],
              branches: [],
              events: ['agent.lost'],
              secretArn: SECRET_ARN,
            },
          ],
        }),
      },
    );
    const context = {
      awsRequestId: 'req-1',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:chat',
    };
    secrets.set(SECRET_ARN, `${endpoint}/hook`);

    await handler(envelope(fixture('agent.lost')), context);

    expect(operations()).toEqual([
      'DynamoDB_20120810.PutItem',
      'secretsmanager.GetSecretValue',
      'POST /hook',
      'DynamoDB_20120810.PutItem',
    ]);

    seen.length = 0;
    // A webhook URL that is not https is refused for good: the event goes to the DLQ at once.
    jest.resetModules();
    const refusing = await freshHandler<typeof handler>('../../../lambda/chat-alerts/handler', {});
    secrets.set(SECRET_ARN, 'not-a-url');
    await refusing(envelope(fixture('agent.lost')), context);
    expect(operations()).toContain('AmazonSQS.SendMessage');
  });

  it('trigger relay: DynamoDB (pacing, idempotency) and the secret', async () => {
    const handler = await freshHandler<(event: SQSEvent, context: Context) => Promise<SQSBatchResponse>>(
      '../../../lambda/trigger-relay/handler',
      {
        RELAY_TABLE_NAME: 'relay-table',
        TRIGGER_RATE_PER_HOUR: '300',
        TRIGGER_BURST: '10',
        TRIGGER_URL_SECRET_ARNS: JSON.stringify({ 'github-deploy': SECRET_ARN }),
        OVERSIZED_BUCKET_NAME: BUCKET,
        TRIGGER_POST_TIMEOUT_MS: '5000',
        RELAY_QUEUE_URL: `${endpoint}/123456789012/relay`,
        RELAY_DEAD_LETTER_QUEUE_URL: `${endpoint}/123456789012/relay-dlq`,
      },
    );
    secrets.set(SECRET_ARN, 'https://webhook.buildkite.com/deliver/bktr_endpointTest');
    // The post to Buildkite is the relay's own fetch, not an AWS client: answered here, offline.
    const fetchSpy = jest
      .spyOn(globalThis, 'fetch')
      .mockResolvedValue(new Response('{"id":"b"}', { status: 201 }));
    const record = sqsRecord('m-1', 'relay', triggerEvent({ dedupeKey: 'github:endpoint-test' }));

    try {
      const result = await handler({ Records: [record] }, {
        functionName: 'relay',
        getRemainingTimeInMillis: () => 60_000,
      } as unknown as Context);
      expect(result.batchItemFailures).toEqual([]);
      expect(fetchSpy).toHaveBeenCalledTimes(1);
    } finally {
      fetchSpy.mockRestore();
    }
    expect(operations()).toEqual(
      expect.arrayContaining([
        'DynamoDB_20120810.GetItem',
        'DynamoDB_20120810.PutItem',
        'secretsmanager.GetSecretValue',
      ]),
    );
  });
});
