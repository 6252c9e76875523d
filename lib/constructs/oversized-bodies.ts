import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { nagResourceId } from './nag-ids';

/**
 * Lets a consumer function read the bodies the verify function stored because they were too large
 * for EventBridge: `s3:GetObject` alone, under `oversized/` of that bucket (`bucket.grantRead` would
 * add `s3:List*` and `s3:GetBucket*`), with the cdk-nag acknowledgement of that one wildcard.
 */
export function grantReadOversizedBodies(fn: lambda.Function, bucket: s3.IBucket, reader: string): void {
  const objects = bucket.arnForObjects('oversized/*');
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects] }));
  Validations.of(fn.role as iam.Role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagResourceId(Stack.of(fn), objects)}]`,
    reason: `Oversized bodies are stored under per-request keys; ${reader} may only GetObject, and only under the oversized/ prefix.`,
  });
}
