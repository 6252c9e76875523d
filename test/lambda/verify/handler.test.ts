import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { apiEvent, BUILD_FINISHED, PING, signatureHeader, TOKEN } from '../../../support/api-event';
import { captureOutput } from '../../support/output';

const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);
const secrets = mockClient(SecretsManagerClient);

let handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
// Powertools writes info to stdout and warn/error to stderr: capture both.
const output = captureOutput();

beforeAll(async () => {
  Object.assign(process.env, {
    EVENT_BUS_NAME: 'kitebridge-bus',
    WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf',
    SPOOL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/spool',
    OVERSIZED_BUCKET_NAME: 'oversized-bucket',
    REPLAY_WINDOW_SECONDS: '300',
    MAX_BODY_BYTES: '5000000',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  });
  ({ handler } = await import('../../../lambda/verify/handler'));
});

beforeEach(() => {
  eventBridge.reset();
  sqs.reset();
  s3.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ token: TOKEN }) });
});

const tokenEvent = (body = BUILD_FINISHED) => apiEvent({ body, headers: { 'X-Buildkite-Token': TOKEN } });
const ok = { FailedEntryCount: 0, Entries: [{ EventId: 'evt-1' }] };

describe('verify handler', () => {
  it('publishes a verified delivery per the event contract and answers 202', async () => {
    eventBridge.on(PutEventsCommand).resolves(ok);
    const result = await handler(tokenEvent());

    expect(result.statusCode).toBe(202);
    expect(JSON.parse(result.body)).toEqual({ id: 'req-1', status: 'published' });
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entry = calls[0]?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({
      EventBusName: 'kitebridge-bus',
      Source: 'buildkite',
      DetailType: 'build.finished',
    });
    const detail = JSON.parse(entry?.Detail ?? '{}');
    expect(detail).toEqual({
      ...JSON.parse(BUILD_FINISHED),
      delivery: expect.objectContaining({ requestId: 'req-1', auth: 'token', sourceIp: '192.0.2.10' }),
    });
    expect(sqs.calls()).toHaveLength(0);
  });

  it('retries an entry PutEvents reports as failed (FailedEntryCount) and then publishes', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] })
      .resolves(ok);
    const result = await handler(tokenEvent());
    expect(JSON.parse(result.body)).toMatchObject({ status: 'published' });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('retries through throttling', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    eventBridge.on(PutEventsCommand).rejectsOnce(throttled).rejectsOnce(throttled).resolves(ok);
    const result = await handler(tokenEvent());
    expect(result.statusCode).toBe(202);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
  });

  it('spools the exact entry to SQS when EventBridge keeps failing, and still answers 202', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('ServiceUnavailable'));
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const result = await handler(tokenEvent());

    expect(result.statusCode).toBe(202);
    expect(JSON.parse(result.body)).toEqual({ id: 'req-1', status: 'spooled' });
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    const published = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(sent?.QueueUrl).toBe(process.env.SPOOL_QUEUE_URL);
    expect(sent?.MessageBody).toBe(published?.Detail);
    expect(sent?.MessageAttributes).toMatchObject({
      source: { DataType: 'String', StringValue: 'buildkite' },
      detailType: { DataType: 'String', StringValue: 'build.finished' },
    });
  });

  it('answers 503 persist_failed when both EventBridge and the spool fail', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('ServiceUnavailable'));
    sqs.on(SendMessageCommand).rejects(new Error('QueueDoesNotExist'));
    const result = await handler(tokenEvent());
    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body)).toMatchObject({ error: 'persist_failed' });
  });

  it('stores a body over the EventBridge entry limit in S3 and publishes a pointer event', async () => {
    eventBridge.on(PutEventsCommand).resolves(ok);
    s3.on(PutObjectCommand).resolves({});
    const big = JSON.stringify({
      ...JSON.parse(BUILD_FINISHED),
      build: { ...JSON.parse(BUILD_FINISHED).build, env: { BLOB: 'x'.repeat(300_000) } },
    });
    const result = await handler(tokenEvent(big));

    expect(result.statusCode).toBe(202);
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Bucket: 'oversized-bucket', ContentType: 'application/json' });
    expect(put?.Key).toMatch(/^oversized\/\d{4}\/\d{2}\/\d{2}\/req-1\.json$/);
    expect(Buffer.from(put?.Body as Buffer).toString()).toBe(big);

    const entry = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(Buffer.byteLength(entry?.Detail ?? '')).toBeLessThan(2000);
    expect(JSON.parse(entry?.Detail ?? '{}')).toEqual({
      event: 'build.finished',
      build: { id: 'b1', number: 1042, state: 'failed', branch: 'main' },
      pipeline: { slug: 'deploy-api' },
      delivery: expect.objectContaining({
        oversized: { bucket: 'oversized-bucket', key: put?.Key, bytes: Buffer.byteLength(big) },
      }),
    });
  });

  it('refuses an oversized body with 503 when S3 fails, publishing nothing', async () => {
    s3.on(PutObjectCommand).rejects(new Error('SlowDown'));
    const big = JSON.stringify({ event: 'build.finished', pad: 'x'.repeat(300_000) });
    const result = await handler(tokenEvent(big));
    expect(result.statusCode).toBe(503);
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('rejects bad auth without publishing, and answers with the JSON error shape', async () => {
    const result = await handler(apiEvent({ body: PING, headers: { 'X-Buildkite-Token': 'wrong' } }));
    expect(result.statusCode).toBe(401);
    expect(result.headers).toMatchObject({ 'Content-Type': 'application/json' });
    expect(JSON.parse(result.body)).toEqual({ error: 'invalid_token', message: expect.any(String) });
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('answers 503 auth_unavailable when Secrets Manager fails on a cold cache', async () => {
    jest.resetModules();
    secrets.reset();
    secrets.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const fresh = await import('../../../lambda/verify/handler');
    const result = await fresh.handler(tokenEvent());
    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body)).toMatchObject({ error: 'auth_unavailable' });
  });

  it('never logs a token, a signature or a path token', async () => {
    eventBridge.on(PutEventsCommand).resolves(ok);
    const signature = signatureHeader(PING);
    await handler(apiEvent({ body: PING, headers: { 'X-Buildkite-Token': TOKEN } }));
    await handler(apiEvent({ body: PING, headers: { 'X-Buildkite-Token': 'wrong-token-zz' } }));
    await handler(apiEvent({ body: PING, headers: { 'X-Buildkite-Signature': signature } }));
    await handler(apiEvent({ body: PING, pathToken: TOKEN }));
    await handler(apiEvent({ body: PING, pathToken: 'wrong-path-zz' }));

    const logs = output.text();
    expect(logs).toContain('Delivery accepted');
    expect(logs).toContain('Delivery rejected');
    for (const secret of [
      TOKEN,
      'wrong-token-zz',
      'wrong-path-zz',
      signature.split('signature=')[1] as string,
    ]) {
      expect(logs).not.toContain(secret);
    }
  });

  it('logs an unexpected error (name, message, stack; no token) and counts it in UnexpectedErrors', async () => {
    jest.resetModules(); // a fresh handler and TokenSource from one module registry
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const { TokenSource } = await import('../../../lambda/verify/token-source');
    const defect = jest
      .spyOn(TokenSource.prototype, 'tokens')
      .mockRejectedValue(new RangeError(`bad ${TOKEN}`));
    try {
      const fresh = await import('../../../lambda/verify/handler');
      const result = await fresh.handler(tokenEvent());
      expect(result.statusCode).toBe(503);
      expect(JSON.parse(result.body)).toMatchObject({ error: 'internal_error' });
    } finally {
      defect.mockRestore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    const lines = output.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    const logged = lines.find(
      (line) => line.message === 'Unexpected error; answered 503 and accepted nothing',
    );
    expect(logged).toMatchObject({
      level: 'ERROR',
      code: 'internal_error',
      error: { name: 'RangeError', message: 'bad [redacted]', stack: expect.stringContaining('RangeError') },
    });
    // One line per request: the log line carries its metrics in CloudWatch EMF.
    expect(lines.filter((line) => line.requestId === 'req-1')).toEqual([logged]);
    expect(logged).toMatchObject({
      UnexpectedErrors: 1,
      Rejected: 1,
      Reason: 'internal_error',
      service: 'verify',
    });
    expect((logged?._aws as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics).toEqual([
      {
        Namespace: 'kitebridge',
        Dimensions: [['service']],
        Metrics: [
          { Name: 'UnexpectedErrors', Unit: 'Count' },
          { Name: 'Rejected', Unit: 'Count' },
        ],
      },
      {
        Namespace: 'kitebridge',
        Dimensions: [['service', 'Reason']],
        Metrics: [{ Name: 'RejectedByReason', Unit: 'Count' }],
      },
    ]);
    expect(output.text()).not.toContain(TOKEN);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('publishes a Test Engine monitor body without event as workflow.<type>', async () => {
    eventBridge.on(PutEventsCommand).resolves(ok);
    const body = JSON.stringify({
      type: 'probabilistic_flakiness',
      timestamp: '2026-11-23T11:59:00Z',
      score: 0.4,
    });
    const result = await handler(apiEvent({ body, pathToken: TOKEN }));
    expect(result.statusCode).toBe(202);
    const entry = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({ Source: 'buildkite', DetailType: 'workflow.probabilistic_flakiness' });
    expect(JSON.parse(entry?.Detail ?? '{}')).toMatchObject({ type: 'probabilistic_flakiness', score: 0.4 });
  });
});
