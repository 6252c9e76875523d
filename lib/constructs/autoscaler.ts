import { Arn, ArnFormat, Duration, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { AGENT_TOKEN_PLACEHOLDER } from '../../lambda/autoscaler/adapters';
import { MAX_POLL_DURATION_SECONDS } from '../../lambda/autoscaler/gate';
import { autoscalerEventPattern, RECONCILE_RATE_MINUTES } from '../../lambda/autoscaler/rules';
import { scaledQueues, type AutoscalerConfig } from '../config/autoscaler';
import type { Alarms } from './alarms';
import { Consumer } from './consumer';
import { KiteFunction } from './kite-function';
import { nagResourceId } from './nag-ids';
import { grantReadOversizedBodies } from './oversized-bodies';

export interface AutoscalerProps {
  /** The kitebridge bus the job and agent events arrive on. */
  readonly bus: events.IEventBus;
  readonly alarms: Alarms;
  /** Validated autoscaler config (`autoscaler` in cdk.json); queues without `asgName` run dry. */
  readonly config: AutoscalerConfig;
  /** Days to keep the function's logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /**
   * The bucket where the verify function stores oversized bodies: the function reads a pointer
   * event's whole body before deciding its queue (`s3:GetObject` under `oversized/` only).
   */
  readonly oversizedBodies: s3.IBucket;
}

/**
 * The event-driven agent autoscaler: a consumer of the job and agent events of the configured
 * queues plus a one-minute reconcile schedule (on the default bus), both into one function
 * that shares a dead-letter queue and its alarm; a DynamoDB table for the collapse gate and
 * cooldowns; the Buildkite agent token secret (created with a placeholder); permission to
 * set the desired capacity of the mapped Auto Scaling groups only; and read access to stored
 * oversized bodies, which the function reads whole before deciding a pointer event's queue.
 */
export class Autoscaler extends Construct {
  readonly function: KiteFunction;
  readonly consumer: Consumer;
  /** Runs every minute on the default bus: reconciles every queue (webhooks can be late or lost). */
  readonly reconcileRule: events.Rule;
  /** Holds the Buildkite agent token; the stack creates it with a placeholder for you to replace. */
  readonly agentToken: secretsmanager.Secret;
  readonly state: dynamodb.Table;

  constructor(scope: Construct, id: string, props: AutoscalerProps) {
    super(scope, id);
    const { config } = props;
    const groups = scaledQueues(config).map((q) => q.asgName);

    this.agentToken = new secretsmanager.Secret(this, 'AgentToken', {
      description:
        'kitebridge autoscaler: a Buildkite agent token (read by the agent metrics API). Replace the placeholder with the token, or {"token": "…"}.',
      secretStringValue: SecretValue.unsafePlainText(AGENT_TOKEN_PLACEHOLDER),
    });
    Validations.of(this.agentToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A Buildkite agent token is issued by Buildkite and must be pasted by a person; it cannot be rotated by a Lambda. docs/autoscaler.md gives the manual rotation.',
    });

    this.state = new dynamodb.Table(this, 'State', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.state).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'Holds only the collapse gate and cooldown timestamps, each expiring within a week; after a loss the next evaluation rebuilds it, so point-in-time recovery would restore nothing of value.',
    });

    this.function = new KiteFunction(this, 'Function', {
      entry: path.join(__dirname, '../../lambda/autoscaler/handler.ts'),
      // The S3 client (for oversized bodies only) loads on first use, off the cold start.
      codeSplitting: true,
      description: 'kitebridge: scales Buildkite agent Auto Scaling groups from job and agent events',
      logRetentionDays: props.logRetentionDays,
      memorySize: 256,
      // A trailing evaluation waits up to the longest honoured poll interval, then calls the APIs.
      timeout: Duration.seconds(Math.max(config.evaluateIntervalSeconds, MAX_POLL_DURATION_SECONDS) + 30),
      environment: {
        AUTOSCALER_CONFIG: JSON.stringify(config),
        STATE_TABLE_NAME: this.state.tableName,
        AGENT_TOKEN_SECRET_ARN: this.agentToken.secretArn,
        OVERSIZED_BUCKET_NAME: props.oversizedBodies.bucketName,
        POWERTOOLS_SERVICE_NAME: 'autoscaler',
      },
    });
    this.agentToken.grantRead(this.function);
    grantReadOversizedBodies(this.function, props.oversizedBodies, 'the autoscaler');
    this.state.grant(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem');

    if (groups.length > 0) {
      const stack = Stack.of(this);
      // The group id part is generated by Auto Scaling: the group name pins the group.
      const groupArn = (name: string) =>
        Arn.format(
          {
            service: 'autoscaling',
            resource: 'autoScalingGroup',
            resourceName: `*:autoScalingGroupName/${name}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          },
          stack,
        );
      // SetDesiredCapacity supports resource-level permissions: the group ARN holds a random id
      // (autoScalingGroup:<uuid>:autoScalingGroupName/<name>), so the name pins the group.
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'SetDesiredCapacityOfMappedGroups',
          actions: ['autoscaling:SetDesiredCapacity'],
          resources: groups.map(groupArn),
        }),
      );
      // Describe* actions support no resource-level permissions or conditions in IAM.
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'DescribeGroups',
          actions: ['autoscaling:DescribeAutoScalingGroups'],
          resources: ['*'],
        }),
      );
      Validations.of(this.function.role as iam.Role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'autoscaling:DescribeAutoScalingGroups (read-only) and the X-Ray tracing actions support no resource-level permissions; SetDesiredCapacity is scoped to the mapped groups by name, and the infra tests assert no other action has Resource "*".',
      });
      for (const name of groups) {
        Validations.of(this.function.role as iam.Role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResourceId(stack, groupArn(name))}]`,
          reason: `The wildcard is the group id Auto Scaling generates (unknown at synth without a lookup); the group name ${name} pins the one mapped group, for autoscaling:SetDesiredCapacity only.`,
        });
      }
    }

    this.consumer = new Consumer(this, 'Events', {
      bus: props.bus,
      alarms: props.alarms,
      pattern: autoscalerEventPattern(config.queues.map((q) => q.queue)),
      receiver: { function: this.function },
      description: 'kitebridge autoscaler: job and agent events of the configured queues',
      // A scaling decision is stale within minutes, and the schedule reconciles anyway.
      retryAttempts: 10,
      maxEventAge: Duration.minutes(15),
      functionRetryAttempts: 2,
    });

    this.reconcileRule = new events.Rule(this, 'Reconcile', {
      description: 'kitebridge autoscaler: reconcile every queue (webhooks can be late or lost)',
      schedule: events.Schedule.rate(Duration.minutes(RECONCILE_RATE_MINUTES)),
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: this.consumer.deadLetterQueue,
          retryAttempts: 2,
          maxEventAge: Duration.minutes(5),
        }),
      ],
    });
  }
}
