import { Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';

/**
 * A resource as cdk-nag names it in a finding id (`AwsSolutions-IAM5[Resource::<this>]`):
 * literals as they are, `Ref`s as `<Name>`, `GetAtt`s as `<Logical.Attr>`. Computed from the
 * value itself, so an acknowledgement still matches when the stack's region or account are
 * concrete (`cdk synth` with an environment) rather than tokens (tests).
 */
export function nagResourceId(stack: Stack, value: string): string {
  const resolved: unknown = stack.resolve(value);
  const part = (p: unknown): string => {
    if (typeof p === 'string') return p;
    const ref = (p as { Ref?: string }).Ref;
    if (ref !== undefined) return `<${ref}>`;
    const getAtt = (p as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (getAtt) return `<${getAtt[0]}.${getAtt[1]}>`;
    throw new Error(`nagResourceId: cannot name ${JSON.stringify(p)}`);
  };
  if (typeof resolved === 'string') return resolved;
  const join = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(part).join(join[0]);
  return part(resolved);
}

/**
 * The cdk-nag Serverless rules kitebridge acknowledges, written once; each acknowledgement
 * gives the reason the rule's advice does not apply where it is made.
 */
export const SERVERLESS_RULES = {
  /** A function without a Lambda dead-letter queue (for asynchronous invocations). */
  lambdaDlq: 'Serverless-LambdaDLQ',
  /** An event source mapping without an on-failure destination. */
  eventSourceMappingDestination: 'Serverless-LambdaEventSourceMappingDestination',
  /** A queue without a redrive policy (its own dead-letter queue). */
  sqsRedrivePolicy: 'Serverless-SQSRedrivePolicy',
  /** An EventBridge rule target without a dead-letter queue. */
  eventBusDlq: 'Serverless-EventBusDLQ',
  /** An SNS subscription without a redrive policy. */
  snsRedrivePolicy: 'Serverless-SNSRedrivePolicy',
} as const;

/**
 * Acknowledges on `fn`, which only an SQS event source on `queue` invokes, the two Serverless
 * rules whose advice is for other invokers: a Lambda dead-letter queue (for asynchronous
 * invocations) and an on-failure destination (SQS mappings take none). `queueName` is how the
 * reasons name the queue; the receive count comes from the queue's own redrive policy.
 */
export function acknowledgeSqsInvoked(fn: IFunction, queue: Queue, queueName: string): void {
  const redrive = queue.deadLetterQueue;
  if (redrive === undefined) {
    throw new Error(
      `${queueName} has no dead-letter queue: give it one before acknowledging that its function needs none.`,
    );
  }
  const receives = redrive.maxReceiveCount;
  Validations.of(fn).acknowledge({
    id: SERVERLESS_RULES.lambdaDlq,
    reason: `Invoked only by its SQS event source, never asynchronously: a failed record returns to ${queueName} and after ${receives} receives moves to its dead-letter queue, which alarms.`,
  });
  Validations.of(fn).acknowledge({
    id: SERVERLESS_RULES.eventSourceMappingDestination,
    reason: `SQS event sources take no on-failure destination: failed records return to ${queueName} and move to its dead-letter queue (maxReceiveCount ${receives}), which alarms.`,
  });
}
