import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Destination } from '../../lambda/chat-alerts/model';
import { chatAlertsPattern } from '../../lambda/chat-alerts/rules';
import type { RuntimeConfig } from '../../lambda/chat-alerts/runtime-config';
import { chatAlertsConfigSchema, toDestination, type ChatAlertsConfig } from '../config/chat-alerts';
import { pascalCase } from '../names';
import { stateTable } from './state-table';
import type { Alarms } from './alarms';
import { Consumer } from './consumer';
import { KiteFunction } from './kite-function';
import type { ObservedComponent } from './observability';
import { grantReadOversizedBodies } from './oversized-bodies';
import { checkLogRetentionDays, checkWithSchema } from './prop-checks';

/** The value each webhook secret holds until you put the real URL in it. */
export const WEBHOOK_SECRET_PLACEHOLDER = 'REPLACE_ME: put the webhook URL here (see docs/chat-alerts.md)';

export interface ChatAlertsProps {
  /** The kitebridge bus; the rule takes the events the destinations need from it. */
  readonly bus: events.IEventBus;
  /** Where the dead-letter alarm notifies. */
  readonly alarms: Alarms;
  /**
   * The `chatAlerts` config: destinations and their filters, checked against its schema
   * (lib/config/chat-alerts.ts) at synth.
   */
  readonly config: ChatAlertsConfig;
  /** Days to keep the function's logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /**
   * The bucket where the verify function stores bodies too large for an event (under
   * `oversized/`); the function reads them back before alerting on a pointer event.
   */
  readonly oversizedBodies: s3.IBucket;
}

/**
 * The chat-alerts consumer: a rule on the bus for the events the destinations need, a function
 * that turns them into Slack / Teams alerts, a DynamoDB table (TTL on every item) for streaks,
 * failed jobs and delivery records, and one Secrets Manager secret per destination for its webhook
 * URL, readable by this function only. The function may also read oversized bodies (GetObject
 * under `oversized/` only). The DLQ and its alarm come with the Consumer.
 */
export class ChatAlerts extends Construct {
  readonly table: dynamodb.Table;
  readonly function: KiteFunction;
  readonly consumer: Consumer;
  /** Webhook secret of each destination, by destination name. */
  readonly secrets: Readonly<Record<string, secretsmanager.Secret>>;
  /** The function and its dead letters, for the stack's observability. */
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: ChatAlertsProps) {
    super(scope, id);
    const { config } = props;
    checkWithSchema('ChatAlerts', 'config', chatAlertsConfigSchema, config);
    checkLogRetentionDays('ChatAlerts', props.logRetentionDays);
    const stackName = Stack.of(this).stackName;

    // Streaks and delivery records rebuild themselves from new events.
    this.table = stateTable(this, 'State', { sortKey: true });

    const secrets: Record<string, secretsmanager.Secret> = {};
    for (const destination of config.destinations) {
      const secret = new secretsmanager.Secret(this, `${pascalCase(destination.name)}Webhook`, {
        secretName: `${stackName}/chat-alerts/${destination.name}`,
        description: `kitebridge chat alerts: ${destination.service} webhook URL of destination ${destination.name}`,
        // A placeholder, not a secret: the URL is put in with the CLI and never passes through CloudFormation.
        secretStringValue: SecretValue.unsafePlainText(WEBHOOK_SECRET_PLACEHOLDER),
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Holds a Slack/Teams incoming-webhook URL issued by that service; it cannot be rotated by a Lambda, only re-issued by a person in Slack or Teams.',
      });
      secrets[destination.name] = secret;
      new CfnOutput(this, `${pascalCase(destination.name)}WebhookSecret`, {
        key: `ChatAlertsWebhookSecret${pascalCase(destination.name)}`,
        value: secret.secretName,
        description: `Put the ${destination.service} webhook URL of "${destination.name}" here: aws secretsmanager put-secret-value --secret-id <this> --secret-string <url>`,
      });
    }
    this.secrets = secrets;

    const destinations: Destination[] = config.destinations.map((d) => ({
      ...toDestination(d),
      secretArn: secrets[d.name]!.secretArn,
    }));
    const runtime: RuntimeConfig = {
      destinations,
      jobsGraceSeconds: config.jobsGraceSeconds,
      stateTtlDays: config.stateTtlDays,
    };

    this.function = new KiteFunction(this, 'Function', {
      entry: path.join(__dirname, '../../lambda/chat-alerts/handler.ts'),
      // The S3 client (for oversized bodies only) loads on first use, off the cold start.
      codeSplitting: true,
      description: 'kitebridge chat alerts: Buildkite events to Slack and Teams',
      logRetentionDays: props.logRetentionDays,
      // Grace for failed jobs plus rate-limit waits and retries of a few destinations.
      timeout: Duration.seconds(90),
      memorySize: 256,
      environment: {
        TABLE_NAME: this.table.tableName,
        CHAT_ALERTS_CONFIG: Stack.of(this).toJsonString(runtime),
        OVERSIZED_BUCKET_NAME: props.oversizedBodies.bucketName,
      },
    });
    this.table.grant(
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    );
    for (const secret of Object.values(secrets)) secret.grantRead(this.function);
    grantReadOversizedBodies(this.function, props.oversizedBodies, 'chat alerts');

    this.consumer = new Consumer(this, 'ChatAlerts', {
      bus: props.bus,
      alarms: props.alarms,
      pattern: chatAlertsPattern([...new Set(config.destinations.flatMap((d) => d.events))]),
      receiver: { function: this.function },
      description: 'kitebridge chat alerts (Slack, Teams)',
    });
    // Permanent failures are written to the DLQ by the function itself (see lambda/chat-alerts/dead-letters.ts).
    this.function.addEnvironment('DEAD_LETTER_QUEUE_URL', this.consumer.deadLetterQueue.queueUrl);
    this.consumer.deadLetterQueue.grantSendMessages(this.function);
    this.observed = [
      { name: 'chat-alerts', function: this.function, deadLetterQueue: this.consumer.deadLetterQueue },
    ];
  }
}
