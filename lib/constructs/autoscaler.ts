import { Annotations, Arn, ArnFormat, Duration, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { AGENT_TOKEN_PLACEHOLDER } from '../../lambda/autoscaler/agent-token';
import { MAX_POLL_DURATION_SECONDS } from '../../lambda/autoscaler/gate';
import { autoscalerEventPattern, RECONCILE_RATE_MINUTES } from '../../lambda/autoscaler/rules';
import { scaledQueues, type AutoscalerConfig } from '../config/autoscaler';
import type { Alarms } from './alarms';
import { Consumer } from './consumer';
import { KiteFunction } from './kite-function';
import { nagResourceId } from './nag-ids';
import { grantReadOversizedBodies } from './oversized-bodies';
import { stateTable } from './state-table';

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
  /**
   * A Buildkite REST API token (scopes `read_agents`, `read_builds`), the token itself or
   * `{"token": "…"}`: with it, scale-in re-checks each idle agent with Buildkite and terminates
   * that specific instance, and a job is confirmed with Buildkite before it is reported stuck.
   * Without it no instance is ever terminated by scale-in (only busy-instance protection and
   * healing apply), and synth notes so when a queue has scale-in enabled.
   * @default none
   */
  readonly apiTokenSecret?: secretsmanager.ISecret;
}

/** The synth note for scale-in enabled without a Buildkite API token. */
export const SCALE_IN_NEEDS_API_TOKEN_NOTE =
  'autoscaler: scaleInEnabled is set but no Buildkite API token is passed, so scale-in terminates nothing ' +
  '(an idle agent cannot be re-checked before its instance goes). Set "buildkiteApi" and store a token ' +
  'with the read_agents scope (docs/autoscaler.md: Scale-in).';

/**
 * The event-driven agent autoscaler: a consumer of the job and agent events of the configured
 * queues plus a one-minute reconcile schedule (on the default bus), both into one function
 * that shares a dead-letter queue and its alarm; a DynamoDB table for the collapse gate and
 * cooldowns; a DynamoDB table for the fleet (instance identity, waiting jobs); the Buildkite
 * agent token secret (created with a placeholder); permission to scale, protect, terminate and
 * heal instances of the mapped Auto Scaling groups only; put on the kitebridge bus (`job.stuck`);
 * and read access to stored oversized bodies, which the function reads whole before deciding a
 * pointer event's queue.
 */
export class Autoscaler extends Construct {
  readonly function: KiteFunction;
  readonly consumer: Consumer;
  /** Runs every minute on the default bus: reconciles every queue (webhooks can be late or lost). */
  readonly reconcileRule: events.Rule;
  /** Holds the Buildkite agent token; the stack creates it with a placeholder for you to replace. */
  readonly agentToken: secretsmanager.Secret;
  readonly state: dynamodb.Table;
  /** Instance identity and waiting jobs per queue (partition `pk` = queue, sort `sk`, TTL `expiresAt`). */
  readonly fleet: dynamodb.Table;

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

    this.state = stateTable(this, 'State');
    // Partition: the queue; sort key: one item per instance (or agent), per job, and the heal record.
    this.fleet = stateTable(this, 'Fleet', { sortKey: true });

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
        FLEET_TABLE_NAME: this.fleet.tableName,
        EVENT_BUS_NAME: props.bus.eventBusName,
        AGENT_TOKEN_SECRET_ARN: this.agentToken.secretArn,
        OVERSIZED_BUCKET_NAME: props.oversizedBodies.bucketName,
        POWERTOOLS_SERVICE_NAME: 'autoscaler',
        ...(props.apiTokenSecret ? { BUILDKITE_API_TOKEN_SECRET_ARN: props.apiTokenSecret.secretArn } : {}),
      },
    });
    props.apiTokenSecret?.grantRead(this.function);
    if (!props.apiTokenSecret && config.queues.some((q) => q.scaleInEnabled)) {
      Annotations.of(this).addInfo(SCALE_IN_NEEDS_API_TOKEN_NOTE);
    }
    // job.stuck (source kitebridge.health) goes on the kitebridge bus.
    props.bus.grantPutEventsTo(this.function);
    this.agentToken.grantRead(this.function);
    grantReadOversizedBodies(this.function, props.oversizedBodies, 'the autoscaler');
    this.state.grant(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    this.fleet.grant(
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
    );

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
      // These actions support resource-level permissions on the group: the group ARN holds a
      // random id (autoScalingGroup:<uuid>:autoScalingGroupName/<name>), so the name pins the
      // group. TerminateInstanceInAutoScalingGroup and SetInstanceHealth name only an instance;
      // IAM authorizes them against the instance's group, so an instance of any other group is
      // refused.
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ScaleMappedGroups',
          actions: [
            'autoscaling:SetDesiredCapacity',
            'autoscaling:TerminateInstanceInAutoScalingGroup',
            'autoscaling:SetInstanceProtection',
            'autoscaling:SetInstanceHealth',
          ],
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
          'autoscaling:DescribeAutoScalingGroups (read-only) and the X-Ray tracing actions support no resource-level permissions; the scaling actions are scoped to the mapped groups by name, and the infra tests assert no other action has Resource "*".',
      });
      for (const name of groups) {
        Validations.of(this.function.role as iam.Role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResourceId(stack, groupArn(name))}]`,
          reason: `The wildcard is the group id Auto Scaling generates (unknown at synth without a lookup); the group name ${name} pins the one mapped group, for the scaling actions (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup, SetInstanceProtection, SetInstanceHealth) only.`,
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
