import { FirehoseClient, PutRecordBatchCommand, ServiceUnavailableException } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import {
  batches,
  FIREHOSE_LIMITS,
  FirehoseDeliveryError,
  FirehoseRecordSink,
} from '../../../lambda/analytics/aws-adapters';

const firehose = mockClient(FirehoseClient);
const noSleep = jest.fn(async () => undefined);

function sink() {
  return new FirehoseRecordSink<{ n: number; pad?: string }>(new FirehoseClient({}), 'stream', {
    sleep: noSleep,
    random: () => 1,
    baseDelayMs: 100,
  });
}

function sentRecords(call: number): string[] {
  const input = firehose.commandCalls(PutRecordBatchCommand)[call]!.args[0].input;
  return (input.Records ?? []).map((r) => Buffer.from(r.Data!).toString('utf8'));
}

beforeEach(() => {
  firehose.reset();
  noSleep.mockClear();
});

describe('batches', () => {
  it('splits at 500 records per call', () => {
    const out = batches(Array.from({ length: 1201 }, () => new Uint8Array(10)));
    expect(out.map((b) => b.length)).toEqual([500, 500, 201]);
  });

  it('splits before a call would pass 4 MiB', () => {
    const record = new Uint8Array(1000 * 1024);
    const out = batches(Array.from({ length: 9 }, () => record));
    // 4 records are 4,096,000 bytes (< 4 MiB = 4,194,304); a 5th would pass it.
    expect(out.map((b) => b.length)).toEqual([4, 4, 1]);
    for (const batch of out) {
      expect(batch.reduce((n, r) => n + r.byteLength, 0)).toBeLessThanOrEqual(FIREHOSE_LIMITS.maxBatchBytes);
    }
  });

  it('refuses a record over 1,000 KiB', () => {
    expect(() => batches([new Uint8Array(1000 * 1024 + 1)])).toThrow(
      /exceeds the Firehose record limit of 1024000 bytes/,
    );
  });
});

describe('FirehoseRecordSink', () => {
  it('writes newline-terminated JSON in one call per 500 records', async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    await sink().put(Array.from({ length: 1001 }, (_, n) => ({ n })));
    const calls = firehose.commandCalls(PutRecordBatchCommand);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([500, 500, 1]);
    expect(calls[0]!.args[0].input.DeliveryStreamName).toBe('stream');
    expect(sentRecords(0)[0]).toBe('{"n":0}\n');
    expect(sentRecords(2)[0]).toBe('{"n":1000}\n');
  });

  it('splits large records at 4 MiB per call', async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0 });
    const pad = 'x'.repeat(900 * 1024);
    await sink().put(Array.from({ length: 10 }, (_, n) => ({ n, pad })));
    expect(firehose.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input.Records?.length)).toEqual([
      4, 4, 2,
    ]);
  });

  it('retries only the refused entries, with backoff, until they are accepted', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .resolvesOnce({
        FailedPutCount: 2,
        RequestResponses: [
          { RecordId: 'a' },
          { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'slow down' },
          { RecordId: 'c' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
        ],
      })
      .resolvesOnce({
        FailedPutCount: 1,
        RequestResponses: [{ RecordId: 'b' }, { ErrorCode: 'ServiceUnavailableException' }],
      })
      .resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: 'd' }] });
    await sink().put([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    expect(sentRecords(1)).toEqual(['{"n":1}\n', '{"n":3}\n']);
    expect(sentRecords(2)).toEqual(['{"n":3}\n']);
    expect(noSleep.mock.calls).toEqual([[100], [200]]);
  });

  it('throws when entries are still refused after every attempt, naming the error codes', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .resolvesOnce({
        FailedPutCount: 1,
        RequestResponses: [{ RecordId: 'a' }, { ErrorCode: 'ServiceUnavailableException' }],
      })
      .callsFake((input: { Records: unknown[] }) => ({
        FailedPutCount: input.Records.length,
        RequestResponses: input.Records.map(() => ({ ErrorCode: 'ServiceUnavailableException' })),
      }));
    const error = await sink()
      .put([{ n: 0 }, { n: 1 }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FirehoseDeliveryError);
    expect((error as FirehoseDeliveryError).message).toBe(
      'Firehose refused 1 of 2 records after retries (ServiceUnavailableException).',
    );
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(4);
    expect(sentRecords(3)).toEqual(['{"n":1}\n']);
  });

  it('throws when every entry is refused', async () => {
    firehose.on(PutRecordBatchCommand).resolves({
      FailedPutCount: 2,
      RequestResponses: [{ ErrorCode: 'InternalFailure' }, { ErrorCode: 'InternalFailure' }],
    });
    await expect(sink().put([{ n: 0 }, { n: 1 }])).rejects.toThrow(
      'Firehose refused 2 of 2 records after retries (InternalFailure).',
    );
  });

  it('rethrows a failed call unchanged', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .rejects(new ServiceUnavailableException({ message: 'down', $metadata: {} }));
    await expect(sink().put([{ n: 0 }])).rejects.toBeInstanceOf(ServiceUnavailableException);
  });

  it('makes no call for no records', async () => {
    await sink().put([]);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });
});
