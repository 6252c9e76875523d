import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';

/**
 * The DynamoDB table a consumer keeps its working state in, alike for every consumer: string
 * partition key `pk` (and sort key `sk` with `sortKey`), on-demand billing, items expiring at
 * `expiresAt` (epoch seconds, DynamoDB TTL), point-in-time recovery, and removed with the stack.
 * Only for state that rebuilds itself from new events: the call site says why that holds.
 */
export function stateTable(
  scope: Construct,
  id: string,
  options: { sortKey?: boolean } = {},
): dynamodb.Table {
  return new dynamodb.Table(scope, id, {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    ...(options.sortKey ? { sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING } } : {}),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: 'expiresAt',
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.DESTROY,
  });
}
