import { CfnOutput, Duration, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { triggerEvents } from '../../lambda/shared/contract';
import { TRIGGER_NAME } from '../../lambda/shared/triggers';
import { TRIGGER_URL_PLACEHOLDER } from '../../lambda/trigger-relay/http-poster';
import { pascalCase } from '../names';
import { stateTable } from './state-table';
import type { Alarms } from './alarms';
import { Consumer } from './consumer';
import { deadLetterQueue } from './dead-letter-queue';
import { KiteFunction } from './kite-function';
import type { ObservedComponent } from './observability';
import { acknowledgeSqsInvoked } from './nag-ids';
import { grantReadOversizedBodies } from './oversized-bodies';
import { checkDuration, checkInteger, checkLogRetentionDays, PropError } from './prop-checks';

/** One pipeline trigger the relay forwards to Buildkite. */
export interface TriggerRelayTrigger {
  /**
   * The trigger's name: its route is `POST /triggers/<name>`, its events `trigger.<name>`. Its
   * senders' pings are published as `trigger.<name>.ping`, which its rule does not match.
   */
  readonly name: string;
  /**
   * Only requests whose payload matches are relayed: an EventBridge pattern over the payload,
   * e.g. `{"action": ["closed"], "pull_request": {"merged": [true]}}`. @default every request
   */
  readonly filter?: Record<string, unknown>;
}

export interface TriggerRelayProps {
  /** The kitebridge bus the verified trigger requests arrive on. */
  readonly bus: events.IEventBus;
  /** Where the dead-letter alarms notify. */
  readonly alarms: Alarms;
  /** The triggers to relay, at least one, names unique (also once PascalCased). */
  readonly triggers: readonly TriggerRelayTrigger[];
  /**
   * Requests an hour to Buildkite, shared by all triggers, 1 to 3600. Buildkite allows 300 an
   * hour per organization; in any hour the relay sends at most `ratePerHour + burst - 1`.
   */
  readonly ratePerHour: number;
  /** Requests that may go at once after a quiet spell (GCRA burst), 1 to `ratePerHour`. */
  readonly burst: number;
  /** Days to keep the relay function's logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /** The bucket where the verify function stores oversized bodies (read under `oversized/`). */
  readonly oversizedBodies: s3.IBucket;
  /**
   * How long to wait for Buildkite's answer before retrying, 1 second to 5 minutes; a whole batch
   * of them must fit in Lambda's 15 minutes.
   * @default Duration.seconds(10)
   */
  readonly postTimeout?: Duration;
  /** Records per invocation, 1 to 10 (SQS's largest receive). @default 5 */
  readonly batchSize?: number;
}

/**
 * The pipeline-trigger relay: per trigger, a rule (with its content filter) into one relay
 * queue and a secret for the Buildkite trigger URL; a relay function that drains the queue at
 * a rate shared by all triggers; a DynamoDB table for the pacing state and idempotency records;
 * and a dead-letter queue, with an alarm, for requests Buildkite refuses.
 */
export class TriggerRelay extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly function: KiteFunction;
  /** Pacing state (one item) and idempotency records (one per trigger and dedupe key). */
  readonly table: dynamodb.Table;
  /** Each trigger's Buildkite URL secret, by trigger name. The value is a placeholder until filled in. */
  readonly urlSecrets: Record<string, secretsmanager.Secret>;
  /** Each trigger's rule, by trigger name. */
  readonly consumers: Record<string, Consumer>;
  /**
   * For the stack's observability: the relay (function and the dead letters of requests Buildkite
   * refused) and each trigger's rule (`trigger-<name>`, dead letters EventBridge could not queue).
   */
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: TriggerRelayProps) {
    super(scope, id);
    validate(props);
    const postTimeout = props.postTimeout ?? Duration.seconds(10);
    const batchSize = props.batchSize ?? 5;
    // Each record may take the POST timeout plus a few AWS calls; the batch must fit.
    const functionTimeout = Duration.seconds(batchSize * (postTimeout.toSeconds() + 5) + 15);

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters');
    this.deadLetterAlarm = props.alarms.onDeadLetters(
      this,
      'DeadLettersAlarm',
      this.deadLetterQueue,
      'Trigger relay: Buildkite refused requests (400/403/404), retries ran out, or the trigger URL is not set',
    );
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // AWS's advice for Lambda event sources: six times the function timeout.
      visibilityTimeout: Duration.seconds(functionTimeout.toSeconds() * 6),
      // Waiting (pacing, backoff) is done by re-sending with a delay, so receives stay low; only
      // messages the function keeps failing on (AWS errors, crashes) reach this count.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    // Pacing and idempotency state is rebuilt by use; nothing in it outlives the stack.
    this.table = stateTable(this, 'State');

    this.urlSecrets = {};
    for (const trigger of props.triggers) {
      const secret = new secretsmanager.Secret(this, `UrlSecret${pascalCase(trigger.name)}`, {
        description: `kitebridge: the Buildkite pipeline-trigger URL that trigger "${trigger.name}" relays to`,
        secretStringValue: SecretValue.unsafePlainText(TRIGGER_URL_PLACEHOLDER),
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'A Buildkite pipeline-trigger URL cannot be rotated (Buildkite offers no rotation); it is replaced by hand when the trigger is recreated.',
      });
      this.urlSecrets[trigger.name] = secret;
      new CfnOutput(this, `UrlSecretOutput${pascalCase(trigger.name)}`, {
        key: `TriggerUrlSecret${pascalCase(trigger.name)}`,
        value: secret.secretArn,
        description: `Put the Buildkite pipeline-trigger URL for trigger "${trigger.name}" here (aws secretsmanager put-secret-value).`,
      });
    }

    this.function = new KiteFunction(this, 'Function', {
      entry: path.join(__dirname, '../../lambda/trigger-relay/handler.ts'),
      description: 'kitebridge: relays verified trigger requests to Buildkite pipeline triggers, paced',
      logRetentionDays: props.logRetentionDays,
      memorySize: 256,
      timeout: functionTimeout,
      environment: {
        RELAY_TABLE_NAME: this.table.tableName,
        RELAY_QUEUE_URL: this.queue.queueUrl,
        RELAY_DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        TRIGGER_URL_SECRET_ARNS: Stack.of(this).toJsonString(
          Object.fromEntries(
            Object.entries(this.urlSecrets).map(([name, secret]) => [name, secret.secretArn]),
          ),
        ),
        TRIGGER_RATE_PER_HOUR: String(props.ratePerHour),
        TRIGGER_BURST: String(props.burst),
        TRIGGER_POST_TIMEOUT_MS: String(postTimeout.toMilliseconds()),
        OVERSIZED_BUCKET_NAME: props.oversizedBodies.bucketName,
      },
    });
    // Maximum concurrency, not reserved concurrency: it caps the pollers without taking
    // capacity from the account, and never throttles an invocation (a throttled batch goes back
    // to the queue and counts a receive). The rate itself is enforced by the shared pacing item.
    this.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize, reportBatchItemFailures: true, maxConcurrency: 2 }),
    );
    acknowledgeSqsInvoked(this.function, this.queue, 'the relay queue');
    this.queue.grantSendMessages(this.function);
    this.deadLetterQueue.grantSendMessages(this.function);
    this.table.grant(
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
    for (const secret of Object.values(this.urlSecrets)) secret.grantRead(this.function);
    grantReadOversizedBodies(this.function, props.oversizedBodies, 'the relay');

    this.consumers = {};
    for (const trigger of props.triggers) {
      this.consumers[trigger.name] = new Consumer(this, `Trigger${pascalCase(trigger.name)}`, {
        bus: props.bus,
        alarms: props.alarms,
        pattern: triggerEvents(trigger.name, trigger.filter),
        description: `kitebridge: trigger ${trigger.name} → relay queue${trigger.filter ? ' (filtered)' : ''}`,
        receiver: {
          target: (dlq) =>
            new targets.SqsQueue(this.queue, {
              deadLetterQueue: dlq,
              retryAttempts: 185,
              maxEventAge: Duration.hours(24),
            }),
        },
      });
    }
    this.observed = [
      { name: 'trigger-relay', function: this.function, deadLetterQueue: this.deadLetterQueue },
      ...props.triggers.map((trigger) => ({
        name: `trigger-${trigger.name}`,
        deadLetterQueue: (this.consumers[trigger.name] as Consumer).deadLetterQueue,
      })),
    ];
  }
}

function validate(props: TriggerRelayProps): void {
  if (props.triggers.length === 0) throw new Error('TriggerRelay: give at least one trigger.');
  const ids = new Map<string, string>();
  for (const { name, filter } of props.triggers) {
    if (!TRIGGER_NAME.pattern.test(name)) {
      throw new Error(`TriggerRelay: trigger name "${name}" ${TRIGGER_NAME.message}.`);
    }
    const id = pascalCase(name);
    const clash = ids.get(id);
    if (clash !== undefined) {
      throw new Error(
        `TriggerRelay: trigger names "${clash}" and "${name}" are too alike (both become "${id}").`,
      );
    }
    ids.set(id, name);
    if (
      filter !== undefined &&
      (filter === null ||
        typeof filter !== 'object' ||
        Array.isArray(filter) ||
        Object.keys(filter).length === 0)
    ) {
      throw new Error(
        `TriggerRelay: the filter of trigger "${name}" must be a non-empty EventBridge pattern object.`,
      );
    }
  }
  checkInteger('TriggerRelay', 'ratePerHour', props.ratePerHour, 1, 3600, 'one a second at most');
  checkInteger('TriggerRelay', 'burst', props.burst, 1, props.ratePerHour, 'at most ratePerHour');
  const batchSize = checkInteger(
    'TriggerRelay',
    'batchSize',
    props.batchSize ?? 5,
    1,
    10,
    "SQS's largest receive",
  );
  checkLogRetentionDays('TriggerRelay', props.logRetentionDays);
  const postTimeout = checkDuration(
    'TriggerRelay',
    'postTimeout',
    props.postTimeout ?? Duration.seconds(10),
    Duration.seconds(1),
    Duration.minutes(5),
    'Buildkite answers within seconds',
  );
  const needed = batchSize * (postTimeout.toSeconds() + 5) + 15;
  if (needed > 900) {
    throw new PropError(
      'TriggerRelay',
      'postTimeout',
      `× batchSize must fit in Lambda's 15-minute timeout: ${batchSize} × (${postTimeout.toSeconds()} s + 5 s) + 15 s is ${needed} s, above 900 s. Lower postTimeout or batchSize.`,
    );
  }
}
