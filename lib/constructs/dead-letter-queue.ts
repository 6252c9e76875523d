import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SERVERLESS_RULES } from './nag-ids';

/** An encrypted, TLS-only queue that keeps messages for the SQS maximum of 14 days. */
export function deadLetterQueue(scope: Construct, id: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself a dead-letter queue; an alarm fires on its first message.',
  });
  Validations.of(queue).acknowledge({
    id: SERVERLESS_RULES.sqsRedrivePolicy,
    reason:
      'This queue is itself the end of the line: a message stays 14 days, an alarm fires on the first, and operators redrive after fixing the cause.',
  });
  return queue;
}
