import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgePublisher } from '../../../lambda/shared/event-bridge-publisher';
import { SqsSpool } from '../../../lambda/verify/sqs-spool';

/**
 * The functions build their SDK clients with the default configuration chain, so
 * AWS_ENDPOINT_URL sends them to an emulator. Proven here against a real local HTTP server
 * standing in for the services (the same construction as in the handlers: no endpoint option).
 */
describe('AWS_ENDPOINT_URL', () => {
  const seen: { target: string | undefined; path: string | undefined }[] = [];
  let server: http.Server;
  const saved = process.env.AWS_ENDPOINT_URL;

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const input = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { MessageBody?: string };
        const target = request.headers['x-amz-target'] as string | undefined;
        seen.push({ target, path: request.url });
        response.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
        response.end(
          target === 'AWSEvents.PutEvents'
            ? JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'local-event-1' }] })
            : JSON.stringify({
                MessageId: 'm-1',
                // The SQS client verifies this checksum of the body it sent.
                MD5OfMessageBody: createHash('md5')
                  .update(input.MessageBody ?? '')
                  .digest('hex'),
              }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = saved;
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends PutEvents from a default-configured EventBridge client to the configured endpoint', async () => {
    const publisher = new EventBridgePublisher(new EventBridgeClient({ maxAttempts: 1 }), 'bus', {
      attempts: 1,
    });
    const id = await publisher.publish({
      source: 'buildkite',
      detailType: 'ping',
      detail: '{"event":"ping"}',
    });
    expect(id).toBe('local-event-1');
    expect(seen.some((r) => r.target === 'AWSEvents.PutEvents')).toBe(true);
  });

  it('sends SendMessage from a default-configured SQS client to the configured endpoint', async () => {
    const spool = new SqsSpool(
      new SQSClient({ maxAttempts: 1 }),
      `${process.env.AWS_ENDPOINT_URL}/000000000000/spool`,
    );
    await spool.put({ source: 'buildkite', detailType: 'ping', detail: '{"event":"ping"}' });
    expect(seen.some((r) => r.target === 'AmazonSQS.SendMessage')).toBe(true);
  });
});
