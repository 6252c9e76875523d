import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { ForeignBucketError, S3BodyReader } from '../../../lambda/shared/s3-body-reader';

const s3 = mockClient(S3Client);
beforeEach(() => s3.reset());

const reader = new S3BodyReader(new S3Client({}), 'kb-oversized');
const pointer = { bucket: 'kb-oversized', key: 'oversized/2026/12/06/req-1.json', bytes: 12 };
const STORED = '{"big":"é"}';
// The SDK's streaming body, reduced to the two methods the reader calls.
const storedBody = () => ({
  transformToString: async (encoding?: string) => Buffer.from(STORED).toString(encoding as BufferEncoding),
  transformToByteArray: async () => new Uint8Array(Buffer.from(STORED)),
});

describe('S3BodyReader', () => {
  it.each([
    ['read: the text', (r: S3BodyReader) => r.read(pointer), STORED],
    [
      'readBytes: the bytes',
      async (r: S3BodyReader) => Buffer.from(await r.readBytes(pointer)).toString('utf8'),
      STORED,
    ],
  ])('%s of the object the pointer names', async (_name, call, expected) => {
    s3.on(GetObjectCommand).resolves({ Body: storedBody() } as never);
    expect(await call(reader)).toBe(expected);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'kb-oversized', Key: pointer.key },
    ]);
  });

  it.each([
    ['read', (r: S3BodyReader) => r.read({ ...pointer, bucket: 'someone-elses' })],
    ['readBytes', (r: S3BodyReader) => r.readBytes({ ...pointer, bucket: 'someone-elses' })],
  ])('%s refuses another bucket before any call, naming both', async (_name, call) => {
    const refusal = call(reader);
    await expect(refusal).rejects.toBeInstanceOf(ForeignBucketError);
    await expect(refusal).rejects.toThrow(
      'The event points at bucket "someone-elses", not kitebridge\'s "kb-oversized".',
    );
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('refuses an object without a body, naming it', async () => {
    s3.on(GetObjectCommand).resolves({});
    await expect(reader.readBytes(pointer)).rejects.toThrow(`s3://kb-oversized/${pointer.key} has no body.`);
  });
});
