import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { KitebridgeConfig } from './config';
import { Alarms } from './constructs/alarms';
import { Analytics } from './constructs/analytics';
import { Autoscaler } from './constructs/autoscaler';
import { ChatAlerts } from './constructs/chat-alerts';
import { Bus } from './constructs/bus';
import { Consumer, type ConsumerProps } from './constructs/consumer';
import { Ingress } from './constructs/ingress';
import { TriggerRelay } from './constructs/trigger-relay';

export interface KitebridgeStackProps extends StackProps {
  readonly config: KitebridgeConfig;
}

/** Composes kitebridge: alarms, the bus, the ingress. Consumers attach with `addConsumer`. */
export class KitebridgeStack extends Stack {
  readonly alarms: Alarms;
  readonly bus: Bus;
  readonly ingress: Ingress;
  /** Present when the config maps queues (`autoscaler`). */
  readonly autoscaler?: Autoscaler;
  /** Present when the config has `chatAlerts`. */
  readonly chatAlerts?: ChatAlerts;
  /** Present unless the config sets `analytics: false` (it is on by default). */
  readonly analytics?: Analytics;
  /** Present when the config has `triggers`. */
  readonly triggerRelay?: TriggerRelay;

  constructor(scope: Construct, id: string, props: KitebridgeStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.alarms = new Alarms(this, 'Alarms', { ...(config.alarmEmail ? { email: config.alarmEmail } : {}) });
    this.bus = new Bus(this, 'Bus', {
      alarms: this.alarms,
      archiveRetentionDays: config.archiveRetentionDays,
      oversizedRetentionDays: config.oversizedRetentionDays,
      logRetentionDays: config.logRetentionDays,
      tailEvents: config.tailEvents,
    });
    this.ingress = new Ingress(this, 'Ingress', {
      bus: this.bus,
      alarms: this.alarms,
      webhookIps: config.allowAnySourceIp ? [] : config.webhookIps,
      replayWindowSeconds: config.replayWindowSeconds,
      maxBodyBytes: config.maxBodyBytes,
      logRetentionDays: config.logRetentionDays,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      triggers: config.triggers,
      verifyProvisionedConcurrency: config.verifyProvisionedConcurrency,
    });

    if (config.triggers.length > 0) {
      this.triggerRelay = new TriggerRelay(this, 'TriggerRelay', {
        bus: this.bus.bus,
        alarms: this.alarms,
        triggers: config.triggers.map(({ name, filter }) => ({ name, ...(filter ? { filter } : {}) })),
        ratePerHour: config.triggerRatePerHour,
        burst: config.triggerBurst,
        logRetentionDays: config.logRetentionDays,
        oversizedBodies: this.bus.oversizedBodies,
      });
    }
    if (config.chatAlerts) {
      this.chatAlerts = new ChatAlerts(this, 'ChatAlerts', {
        bus: this.bus.bus,
        alarms: this.alarms,
        config: config.chatAlerts,
        logRetentionDays: config.logRetentionDays,
        oversizedBodies: this.bus.oversizedBodies,
      });
    }
    if (config.autoscaler) {
      this.autoscaler = new Autoscaler(this, 'Autoscaler', {
        bus: this.bus.bus,
        alarms: this.alarms,
        config: config.autoscaler,
        logRetentionDays: config.logRetentionDays,
        oversizedBodies: this.bus.oversizedBodies,
      });
      new CfnOutput(this, 'AutoscalerAgentTokenSecret', {
        key: 'AutoscalerAgentTokenSecret',
        value: this.autoscaler.agentToken.secretArn,
        description: 'Put a Buildkite agent token in this secret (aws secretsmanager put-secret-value).',
      });
    }

    if (config.analytics) {
      // Last, so the dashboard can show every other consumer's errors and dead letters.
      this.analytics = new Analytics(this, 'Analytics', {
        bus: this.bus.bus,
        alarms: this.alarms,
        config: config.analytics,
        logRetentionDays: config.logRetentionDays,
        oversizedBodies: this.bus.oversizedBodies,
        dashboardSources: {
          api: this.ingress.api,
          verifyFunction: this.ingress.verify,
          consumerFunctions: {
            ...(this.chatAlerts ? { 'chat-alerts': this.chatAlerts.function } : {}),
            ...(this.autoscaler ? { autoscaler: this.autoscaler.function } : {}),
            ...(this.triggerRelay ? { 'trigger-relay': this.triggerRelay.function } : {}),
          },
          deadLetterQueues: {
            spool: this.bus.spoolDeadLetters,
            ...(this.chatAlerts ? { 'chat-alerts': this.chatAlerts.consumer.deadLetterQueue } : {}),
            ...(this.autoscaler ? { autoscaler: this.autoscaler.consumer.deadLetterQueue } : {}),
            ...(this.triggerRelay ? { 'trigger-relay': this.triggerRelay.deadLetterQueue } : {}),
          },
        },
      });
    }

    new CfnOutput(this, 'EventBusName', {
      key: 'EventBusName',
      value: this.bus.bus.eventBusName,
      description: 'Attach your own rules to this bus.',
    });
    new CfnOutput(this, 'ArchiveName', {
      key: 'ArchiveName',
      value: this.bus.archive.archiveName,
      description: 'Replay past events from this archive (aws events start-replay).',
    });
    new CfnOutput(this, 'OversizedBodiesBucket', {
      key: 'OversizedBodiesBucket',
      value: this.bus.oversizedBodies.bucketName,
      description: 'Bodies too large for EventBridge; kept after `cdk destroy` (delete it yourself).',
    });
    if (this.bus.tailLogGroup) {
      new CfnOutput(this, 'TailLogGroup', {
        key: 'TailLogGroup',
        value: this.bus.tailLogGroup.logGroupName,
        description: 'Watch every event: aws logs tail <name> --follow',
      });
    }
  }

  /** Attaches a consumer to the bus: rule, target with retries, dead-letter queue and its alarm. */
  addConsumer(id: string, props: Omit<ConsumerProps, 'bus' | 'alarms'>): Consumer {
    return new Consumer(this, id, { ...props, bus: this.bus.bus, alarms: this.alarms });
  }
}
