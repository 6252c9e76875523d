import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { OversizedPointer } from '../shared/contract';
import type { BodyStore } from './ports';

/** Stores a body too large for an EventBridge entry in the oversized-bodies bucket. */
export class S3BodyStore implements BodyStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Buffer): Promise<Omit<OversizedPointer, 'bytes'>> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
    return { bucket: this.bucket, key };
  }
}

/** A body store with its own client: what the verify handler loads for its first oversized body. */
export function createS3BodyStore(config: S3ClientConfig, bucket: string): S3BodyStore {
  return new S3BodyStore(new S3Client(config), bucket);
}
