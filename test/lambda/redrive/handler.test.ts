import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { spoolRecord } from '../../support/sqs-records';

const eventBridge = mockClient(EventBridgeClient);
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  process.env.EVENT_BUS_NAME = 'kitebridge-bus';
  ({ handler } = await import('../../../lambda/redrive/handler'));
});
beforeEach(() => eventBridge.reset());

const record = (
  id: string,
  entry = {
    source: 'buildkite',
    detailType: 'ping',
    detail: '{"event":"ping"}',
    time: '2026-11-23T12:00:00.000Z',
  },
) => spoolRecord(id, entry);

const context = { functionName: 'redrive', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

describe('redrive handler', () => {
  it('republishes each spooled entry unchanged to the bus', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    const result = await handler({ Records: [record('m1'), record('m2')] }, context);
    expect(result.batchItemFailures).toEqual([]);
    const entries = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.[0]);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toEqual({
      EventBusName: 'kitebridge-bus',
      Source: 'buildkite',
      DetailType: 'ping',
      Detail: '{"event":"ping"}',
      Time: new Date('2026-11-23T12:00:00.000Z'),
    });
  });

  it('reports only the messages it could not publish, so SQS retries them (then its DLQ)', async () => {
    eventBridge
      .on(PutEventsCommand)
      .callsFake((input) =>
        input.Entries[0].DetailType === 'bad'
          ? { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] }
          : { FailedEntryCount: 0, Entries: [{ EventId: 'e' }] },
      );
    const bad = record('m2', {
      source: 'buildkite',
      detailType: 'bad',
      detail: '{}',
      time: '2026-11-23T12:00:00.000Z',
    });
    const result = await handler({ Records: [record('m1'), bad] }, context);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
  });

  it('fails a message that kitebridge did not write, without publishing it', async () => {
    const foreign = { ...record('m3'), messageAttributes: {} };
    const result = await handler({ Records: [foreign] }, context);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm3' }]);
    expect(eventBridge.calls()).toHaveLength(0);
  });
});
