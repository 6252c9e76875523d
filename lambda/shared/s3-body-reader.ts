import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { OversizedPointer } from './contract';
import type { BodyReader } from './oversized';

/**
 * Reads oversized bodies from kitebridge's bucket, and only from it: a pointer naming another
 * bucket is refused before any call (the function's grant covers `oversized/*` of this bucket).
 */
export class S3BodyReader implements BodyReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async read(pointer: OversizedPointer): Promise<string> {
    if (pointer.bucket !== this.bucket) {
      throw new Error(`The event points at bucket "${pointer.bucket}", not kitebridge's "${this.bucket}".`);
    }
    const { Body } = await this.client.send(
      new GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }),
    );
    if (!Body) throw new Error(`s3://${pointer.bucket}/${pointer.key} has no body.`);
    return Body.transformToString('utf8');
  }
}
