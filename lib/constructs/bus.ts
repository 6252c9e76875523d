import { ArnFormat, CfnOutput, Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { ALL_EVENTS_PATTERN } from '../../lambda/shared/contract';
import { detailPaths } from '../../lambda/shared/event-pattern';
import { toCdkEventPattern } from './consumer';
import type { Alarms } from './alarms';
import { deadLetterQueue } from './dead-letter-queue';
import { KiteFunction } from './kite-function';
import type { ObservedComponent } from './observability';
import { acknowledgeSqsInvoked, SERVERLESS_RULES } from './nag-ids';
import { checkLogRetentionDays, checkRetentionDaysOrForever } from './prop-checks';

export interface BusProps {
  /** Where the spool's alarms (dead letters, backlog) notify. */
  readonly alarms: Alarms;
  /** Days the archive keeps events for replay, 0 to 36500; 0 keeps them forever. */
  readonly archiveRetentionDays: number;
  /** Days oversized bodies are kept in S3, 0 to 36500; 0 keeps them forever. */
  readonly oversizedRetentionDays: number;
  /** Days to keep the redrive function's and the tail's logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /** Adds a rule that copies every event into a log group operators can tail. */
  readonly tailEvents: boolean;
}

/**
 * Where verified events live: the custom bus and its archive, the spool queue that catches
 * events when PutEvents keeps failing (with the redrive function that republishes them), and
 * the bucket that holds bodies too large for an EventBridge entry.
 */
export class Bus extends Construct {
  readonly bus: events.EventBus;
  readonly archive: events.Archive;
  readonly spool: sqs.Queue;
  readonly spoolDeadLetters: sqs.Queue;
  readonly redrive: KiteFunction;
  readonly oversizedBodies: s3.Bucket;
  readonly tailLogGroup?: logs.LogGroup;
  /**
   * JSON array of every path under `detail` that a rule on this bus matches on, resolved when
   * the template is written, so rules attached after this construct (consumers, your own rules)
   * count. The verify function keeps these values in pointer events for oversized bodies, so a
   * pointer matches exactly the rules the full event would.
   */
  readonly routingPaths: string = Lazy.string({ produce: () => JSON.stringify(this.collectRoutingPaths()) });
  /** The spool's dead letters and the redrive function, for the stack's observability. */
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: BusProps) {
    super(scope, id);
    checkRetentionDaysOrForever('Bus', 'archiveRetentionDays', props.archiveRetentionDays);
    checkRetentionDaysOrForever('Bus', 'oversizedRetentionDays', props.oversizedRetentionDays);
    checkLogRetentionDays('Bus', props.logRetentionDays);

    this.bus = new events.EventBus(this, 'EventBus', {
      description: 'kitebridge: verified Buildkite deliveries and pipeline-trigger requests',
    });
    this.archive = this.bus.archive('Archive', {
      description: 'Every kitebridge event, for replay into new or repaired consumers',
      eventPattern: toCdkEventPattern(ALL_EVENTS_PATTERN),
      ...(props.archiveRetentionDays > 0 ? { retention: Duration.days(props.archiveRetentionDays) } : {}),
    });

    this.spoolDeadLetters = deadLetterQueue(this, 'SpoolDeadLetters');
    this.spool = new sqs.Queue(this, 'Spool', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.minutes(3),
      deadLetterQueue: { queue: this.spoolDeadLetters, maxReceiveCount: 10 },
    });
    props.alarms.onDeadLetters(
      this,
      'SpoolDeadLettersAlarm',
      this.spoolDeadLetters,
      'Spooled events could not be republished',
    );
    props.alarms.add(
      new cloudwatch.Alarm(this, 'SpoolBacklogAlarm', {
        alarmDescription:
          'Events have waited in the spool for over 15 minutes: EventBridge PutEvents is failing for the redrive function too.',
        metric: this.spool.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 900,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    this.redrive = new KiteFunction(this, 'Redrive', {
      entry: path.join(__dirname, '../../lambda/redrive/handler.ts'),
      description: 'kitebridge: republishes spooled events to the bus',
      logRetentionDays: props.logRetentionDays,
      environment: { EVENT_BUS_NAME: this.bus.eventBusName },
    });
    this.redrive.addEventSource(
      new SqsEventSource(this.spool, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxBatchingWindow: Duration.seconds(1),
      }),
    );
    this.bus.grantPutEventsTo(this.redrive);
    acknowledgeSqsInvoked(this.redrive, this.spool, 'the spool');

    this.oversizedBodies = new s3.Bucket(this, 'OversizedBodies', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules:
        props.oversizedRetentionDays > 0 ? [{ expiration: Duration.days(props.oversizedRetentionDays) }] : [],
    });
    Validations.of(this.oversizedBodies).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Objects are written only by the verify function and read by consumers through IAM grants; CloudTrail data events cover audit needs without a second bucket.',
    });

    if (props.tailEvents) {
      this.tailLogGroup = new logs.LogGroup(this, 'TailLogs', {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // CloudWatchLogGroup (aws-events-targets) writes the log group's resource policy through a
      // custom resource Lambda; the L2 resource policy does the same with no function to run.
      this.tailLogGroup.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.tailLogGroup.logGroupArn],
        }),
      );
      const tailLogGroup = this.tailLogGroup;
      const tailRule = new events.Rule(this, 'TailRule', {
        eventBus: this.bus,
        description: 'Copies every kitebridge event into a log group for `aws logs tail`',
        eventPattern: toCdkEventPattern(ALL_EVENTS_PATTERN),
        targets: [
          {
            bind: () => ({
              arn: Stack.of(this).formatArn({
                service: 'logs',
                resource: 'log-group',
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                resourceName: tailLogGroup.logGroupName,
              }),
            }),
          },
        ],
      });
      Validations.of(tailRule).acknowledge({
        id: SERVERLESS_RULES.eventBusDlq,
        reason:
          'The tail is a convenience copy for `aws logs tail`; the archive keeps every event, so a tail line that fails to arrive loses nothing.',
      });
    }

    this.observed = [
      { name: 'spool', deadLetterQueue: this.spoolDeadLetters },
      { name: 'redrive', function: this.redrive },
    ];

    new CfnOutput(this, 'EventBusName', {
      key: 'EventBusName',
      value: this.bus.eventBusName,
      description: 'Attach your own rules to this bus.',
    });
    new CfnOutput(this, 'ArchiveName', {
      key: 'ArchiveName',
      value: this.archive.archiveName,
      description: 'Replay past events from this archive (aws events start-replay).',
    });
    new CfnOutput(this, 'OversizedBodiesBucket', {
      key: 'OversizedBodiesBucket',
      value: this.oversizedBodies.bucketName,
      description: 'Bodies too large for EventBridge; kept after `cdk destroy` (delete it yourself).',
    });
    if (this.tailLogGroup) {
      new CfnOutput(this, 'TailLogGroup', {
        key: 'TailLogGroup',
        value: this.tailLogGroup.logGroupName,
        description: 'Watch every event: aws logs tail <name> --follow',
      });
    }
  }

  /** The detail paths of every rule in this stack that is attached to this bus, sorted and unique. */
  private collectRoutingPaths(): string[][] {
    const stack = Stack.of(this);
    const busName = JSON.stringify(stack.resolve(this.bus.eventBusName));
    const paths = new Map<string, string[]>();
    for (const construct of stack.node.findAll()) {
      if (!(construct instanceof events.CfnRule)) continue;
      if (JSON.stringify(stack.resolve(construct.eventBusName)) !== busName) continue;
      const pattern: unknown = stack.resolve(construct.eventPattern);
      if (pattern === null || typeof pattern !== 'object') continue;
      for (const path of detailPaths(pattern as Record<string, unknown>))
        paths.set(JSON.stringify(path), path);
    }
    return [...paths.keys()].sort().map((key) => paths.get(key) as string[]);
  }
}
