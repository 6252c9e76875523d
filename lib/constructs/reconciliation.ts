import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { buildkiteEvents } from '../../lambda/shared/contract';
import { METRICS_NAMESPACE } from '../../lambda/shared/metric-names';
import { stateTable } from './state-table';
import type { Alarms } from './alarms';
import { Consumer } from './consumer';
import { deadLetterQueue } from './dead-letter-queue';
import { KiteFunction } from './kite-function';
import { SERVERLESS_RULES } from './nag-ids';
import type { ObservedComponent } from './observability';
import { checkInteger, PropError } from './prop-checks';

export interface ReconciliationProps {
  readonly bus: events.IEventBus;
  readonly alarms: Alarms;
  /** The Buildkite API token secret (`BuildkiteApi.secret`); the token needs `read_builds`. */
  readonly apiTokenSecret: secretsmanager.ISecret;
  /** The organization slug whose builds are listed. */
  readonly organization: string;
  readonly logRetentionDays: number;
  /** Minutes between runs. @default 5 */
  readonly everyMinutes?: number;
  /** How far back each run lists finished builds. @default 60 */
  readonly lookbackMinutes?: number;
  /** A build that finished less recently than this is left to a later run. @default 3 */
  readonly graceMinutes?: number;
  /** Alarm when more than this many deliveries were missed within an hour. @default 5 */
  readonly missedAlarmThreshold?: number;
  /** Pages of 100 builds read per run at most. @default 20 */
  readonly maxPages?: number;
}

/** The synth note when `reconcile` is `false`. */
export const RECONCILIATION_OFF_NOTE =
  'reconcile is false: build.finished deliveries Buildkite never sends are not recovered. Remove the key to turn reconciliation on (README: Reconcile).';

/** `MissedDeliveries`: build.finished deliveries Buildkite never sent, published by the reconciler. */
export const MISSED_DELIVERIES_METRIC = 'MissedDeliveries';

/**
 * Delivery reconciliation: Buildkite documents no retries and has dropped webhooks for good, so a
 * scheduled function lists the builds that finished lately through the builds API and publishes
 * a `build.finished` for each the bus never saw (README: Reconcile). Parts:
 *
 * - an index consumer: a rule sends every `build.finished` to a function that records its key in
 *   a DynamoDB table (TTL'd);
 * - the run: an EventBridge schedule invokes the reconcile function every `everyMinutes`; one
 *   run at a time (reserved concurrency 1); a run that fails lands in its dead-letter queue,
 *   which alarms (the next run covers the same window, so there is nothing to redrive);
 * - the `MissedDeliveries` alarm, above `missedAlarmThreshold` an hour.
 */
export class Reconciliation extends Construct {
  readonly table: dynamodb.Table;
  readonly function: KiteFunction;
  readonly indexFunction: KiteFunction;
  readonly indexConsumer: Consumer;
  readonly schedule: events.Rule;
  /** Failed runs (Lambda on-failure records, and schedule events EventBridge could not deliver). */
  readonly deadLetterQueue: sqs.Queue;
  readonly missedAlarm: cloudwatch.Alarm;
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: ReconciliationProps) {
    super(scope, id);
    const everyMinutes = checkInteger(
      'Reconciliation',
      'everyMinutes',
      props.everyMinutes ?? 5,
      1,
      60,
      'minutes',
    );
    const lookbackMinutes = checkInteger(
      'Reconciliation',
      'lookbackMinutes',
      props.lookbackMinutes ?? 60,
      10,
      24 * 60,
      'minutes',
    );
    const graceMinutes = checkInteger(
      'Reconciliation',
      'graceMinutes',
      props.graceMinutes ?? 3,
      0,
      60,
      'minutes',
    );
    const threshold = checkInteger(
      'Reconciliation',
      'missedAlarmThreshold',
      props.missedAlarmThreshold ?? 5,
      0,
      100_000,
      'deliveries an hour',
    );
    const maxPages = checkInteger('Reconciliation', 'maxPages', props.maxPages ?? 20, 1, 100, 'pages');
    if (lookbackMinutes < graceMinutes + 2 * everyMinutes) {
      throw new PropError(
        'Reconciliation',
        'lookbackMinutes',
        `must be at least graceMinutes + 2 × everyMinutes (${graceMinutes + 2 * everyMinutes}), so every build is checked by two runs; got ${lookbackMinutes}.`,
      );
    }
    // Kept well past the look-back, so a key never expires while a run can still list its build.
    const ttlSeconds = Math.max(2 * lookbackMinutes * 60, 24 * 3600);

    // The index is rebuilt by use: a lost item means at most one duplicate publish, deduped by consumers.
    this.table = stateTable(this, 'Index');
    const indexEnvironment = {
      INDEX_TABLE_NAME: this.table.tableName,
      INDEX_TTL_SECONDS: String(ttlSeconds),
    };

    this.indexFunction = new KiteFunction(this, 'IndexFunction', {
      entry: path.join(__dirname, '../../lambda/reconcile/index-handler.ts'),
      description: 'kitebridge: records every build.finished seen on the bus, for reconciliation',
      logRetentionDays: props.logRetentionDays,
      memorySize: 256,
      environment: indexEnvironment,
    });
    this.table.grant(this.indexFunction, 'dynamodb:UpdateItem');
    this.indexConsumer = new Consumer(this, 'IndexConsumer', {
      bus: props.bus,
      alarms: props.alarms,
      pattern: buildkiteEvents('build.finished'),
      description: 'kitebridge: build.finished → reconciliation index',
      receiver: { function: this.indexFunction },
    });

    // A run may wait out a rate-limit reset (up to a minute) and must end before the next starts.
    const timeout = Duration.seconds(Math.max(60, Math.min(180, everyMinutes * 60 - 30)));
    this.function = new KiteFunction(this, 'Function', {
      entry: path.join(__dirname, '../../lambda/reconcile/handler.ts'),
      description: 'kitebridge: publishes the build.finished deliveries Buildkite never sent',
      logRetentionDays: props.logRetentionDays,
      timeout,
      environment: {
        ...indexEnvironment,
        EVENT_BUS_NAME: props.bus.eventBusName,
        BUILDKITE_API_TOKEN_SECRET_ARN: props.apiTokenSecret.secretArn,
        BUILDKITE_ORGANIZATION: props.organization,
        RECONCILE_LOOKBACK_MINUTES: String(lookbackMinutes),
        RECONCILE_GRACE_MINUTES: String(graceMinutes),
        RECONCILE_MAX_PAGES: String(maxPages),
      },
      // One run at a time: two overlapping runs could both publish the same missed build.
      overrides: { reservedConcurrentExecutions: 1 },
    });
    this.table.grant(this.function, 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem');
    props.bus.grantPutEventsTo(this.function);
    props.apiTokenSecret.grantRead(this.function);

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters');
    props.alarms.onDeadLetters(
      this,
      'DeadLettersAlarm',
      this.deadLetterQueue,
      'Reconciliation runs fail (read responsePayload.errorMessage: a missing read_builds scope, a token not stored yet, Buildkite down); later runs cover the same window, so purge the queue once fixed',
    );
    this.function.configureAsyncInvoke({
      // Not retried: the next scheduled run reads the same window.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(everyMinutes),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    Validations.of(this.function).acknowledge({
      id: SERVERLESS_RULES.lambdaDlq,
      reason:
        'Failed runs go to the reconciliation dead-letter queue through an on-failure destination, which (unlike a function DLQ) keeps the error and the request context.',
    });
    this.schedule = new events.Rule(this, 'Schedule', {
      description: `kitebridge: reconcile build.finished deliveries every ${everyMinutes} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(everyMinutes)),
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 2,
          maxEventAge: Duration.minutes(everyMinutes),
        }),
      ],
    });

    const missed = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: MISSED_DELIVERIES_METRIC,
      dimensionsMap: { service: 'reconcile' },
      statistic: 'Sum',
      period: Duration.hours(1),
    });
    this.missedAlarm = props.alarms.add(
      new cloudwatch.Alarm(this, 'MissedDeliveriesAlarm', {
        alarmDescription: `Buildkite missed more than ${threshold} build.finished deliveries in an hour (reconciliation published them; check https://www.buildkitestatus.com and the webhook's delivery log).`,
        metric: missed,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    const apiCalls = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'BuildkiteApiCalls',
      dimensionsMap: { service: 'reconcile' },
      statistic: 'Sum',
      period: Duration.hours(1),
    });
    this.observed = [
      {
        name: 'reconcile',
        function: this.function,
        deadLetterQueue: this.deadLetterQueue,
        widgets: [
          new cloudwatch.GraphWidget({
            title: 'Reconciliation: deliveries Buildkite missed, and API calls (per hour)',
            left: [missed.with({ label: 'MissedDeliveries' })],
            right: [apiCalls.with({ label: 'BuildkiteApiCalls' })],
            leftAnnotations: [{ value: threshold, label: 'alarm above' }],
            width: 12,
          }),
        ],
      },
      {
        name: 'reconcile-index',
        function: this.indexFunction,
        deadLetterQueue: this.indexConsumer.deadLetterQueue,
      },
    ];
  }
}
