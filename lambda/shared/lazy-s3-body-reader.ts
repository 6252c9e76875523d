import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { BodyReader } from './oversized';
import { onFirstUse } from './on-first-use';

/**
 * An S3 body reader whose S3 client is imported (its own bundle chunk, with `codeSplitting`) and
 * built when the first oversized body is read: few deliveries are oversized, so the client stays
 * off every consumer's cold start.
 */
export function lazyS3BodyReader(bucket: string, clientConfig: S3ClientConfig): BodyReader {
  const reader = onFirstUse(async () => {
    const [{ S3Client }, { S3BodyReader }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('./s3-body-reader'),
    ]);
    return new S3BodyReader(new S3Client(clientConfig), bucket);
  });
  return { read: async (pointer) => (await reader()).read(pointer) };
}
