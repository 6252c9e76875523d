import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { OversizedPointer } from './contract';
import type { BodyReader } from './oversized';

/** A pointer names a bucket other than kitebridge's: refused before any call. */
export class ForeignBucketError extends Error {
  constructor(bucket: string, ours: string) {
    super(`The event points at bucket "${bucket}", not kitebridge's "${ours}".`);
    this.name = 'ForeignBucketError';
  }
}

/**
 * Reads oversized bodies from kitebridge's bucket, and only from it: a pointer naming another
 * bucket is refused (ForeignBucketError) before any call (the function's grant covers
 * `oversized/*` of this bucket).
 */
export class S3BodyReader implements BodyReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /** The stored body as text (UTF-8). */
  async read(pointer: OversizedPointer): Promise<string> {
    return (await this.object(pointer)).transformToString('utf8');
  }

  /** The stored body's bytes, as they were received. */
  async readBytes(pointer: OversizedPointer): Promise<Uint8Array> {
    return (await this.object(pointer)).transformToByteArray();
  }

  private async object(pointer: OversizedPointer) {
    if (pointer.bucket !== this.bucket) throw new ForeignBucketError(pointer.bucket, this.bucket);
    const { Body } = await this.client.send(
      new GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }),
    );
    if (!Body) throw new Error(`s3://${pointer.bucket}/${pointer.key} has no body.`);
    return Body;
  }
}
