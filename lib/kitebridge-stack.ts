import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { KitebridgeConfig } from './config';
import type { Alarms } from './constructs/alarms';
import { Analytics } from './constructs/analytics';
import { Autoscaler } from './constructs/autoscaler';
import { ChatAlerts } from './constructs/chat-alerts';
import { Bus } from './constructs/bus';
import { BUILDKITE_API_OFF_NOTE, BuildkiteApi } from './constructs/buildkite-api';
import { Consumer, type ConsumerProps } from './constructs/consumer';
import { Ingress } from './constructs/ingress';
import { Observability, type ObservedComponent } from './constructs/observability';
import { Reconciliation, RECONCILIATION_OFF_NOTE } from './constructs/reconciliation';
import { TriggerRelay } from './constructs/trigger-relay';
import { WebhookRotation } from './constructs/webhook-rotation';
import { webhookDescription } from '../lambda/shared/buildkite-webhooks';

/** A part of the stack that shows itself to observability. */
interface Observed {
  readonly observed: readonly ObservedComponent[];
}

export interface KitebridgeStackProps extends StackProps {
  readonly config: KitebridgeConfig;
}

/**
 * Composes kitebridge: observability (alarm topic, dashboard), the bus, the ingress and the
 * configured consumers. Consumers attach with `addConsumer`. A new construct joins the dashboard
 * and the dead-letter outputs by adding its `observed` components to the list at the end.
 */
export class KitebridgeStack extends Stack {
  /** The alarm topic, the dashboard and the dead-letter outputs, whatever is configured. */
  readonly observability: Observability;
  /** The alarm topic every kitebridge alarm notifies (`observability.alarms`). */
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
  /** Present when the config has `buildkiteApi`: the API token secret `npm run register` and the rotation use. */
  readonly buildkiteApi?: BuildkiteApi;
  /** Present when the config has `buildkiteApi` and `reconcile` is not `false`: delivery reconciliation. */
  readonly reconciliation?: Reconciliation;
  /** Present when the config has `buildkiteApi`: the webhook token's rotation function and schedule. */
  readonly webhookRotation?: WebhookRotation;

  constructor(scope: Construct, id: string, props: KitebridgeStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.observability = new Observability(this, 'Observability', {
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    });
    this.alarms = this.observability.alarms;
    this.bus = new Bus(this, 'Bus', {
      alarms: this.alarms,
      archiveRetentionDays: config.archiveRetentionDays,
      oversizedRetentionDays: config.oversizedRetentionDays,
      logRetentionDays: config.logRetentionDays,
      tailEvents: config.tailEvents,
    });
    this.ingress = new Ingress(this, 'Ingress', {
      bus: this.bus.bus,
      spool: this.bus.spool,
      oversizedBodies: this.bus.oversizedBodies,
      routingPaths: this.bus.routingPaths,
      alarms: this.alarms,
      webhookIps: config.allowAnySourceIp ? [] : config.webhookIps,
      replayWindowSeconds: config.replayWindowSeconds,
      maxBodyBytes: config.maxBodyBytes,
      logRetentionDays: config.logRetentionDays,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      webhookSecretRotatesAutomatically: (config.buildkiteApi?.rotationDays ?? 0) > 0,
      triggers: config.triggers,
      verifyProvisionedConcurrency: config.verifyProvisionedConcurrency,
    });

    if (config.buildkiteApi) {
      this.buildkiteApi = new BuildkiteApi(this, 'BuildkiteApi', {
        organization: config.buildkiteApi.organization,
      });
      this.webhookRotation = new WebhookRotation(this, 'WebhookRotation', {
        webhookSecret: this.ingress.secret,
        apiTokenSecret: this.buildkiteApi.secret,
        organization: config.buildkiteApi.organization,
        webhookUrl: this.ingress.webhookUrl,
        webhookDescription: webhookDescription(this.stackName),
        rotationDays: config.buildkiteApi.rotationDays,
        graceMinutes: config.buildkiteApi.rotationGraceMinutes,
        logRetentionDays: config.logRetentionDays,
        alarms: this.alarms,
      });
      if (config.reconcile) {
        this.reconciliation = new Reconciliation(this, 'Reconciliation', {
          bus: this.bus.bus,
          alarms: this.alarms,
          apiTokenSecret: this.buildkiteApi.secret,
          organization: config.buildkiteApi.organization,
          logRetentionDays: config.logRetentionDays,
          ...config.reconcile,
        });
      } else {
        Annotations.of(this).addInfo(RECONCILIATION_OFF_NOTE);
      }
    } else {
      Annotations.of(this).addInfo(BUILDKITE_API_OFF_NOTE);
    }

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
        // Scale-in re-checks each idle agent through Buildkite's REST API before terminating it.
        ...(this.buildkiteApi ? { apiTokenSecret: this.buildkiteApi.secret } : {}),
      });
      // Created here, not in the Autoscaler construct, whose file this restructuring leaves alone.
      new CfnOutput(this, 'AutoscalerAgentTokenSecret', {
        key: 'AutoscalerAgentTokenSecret',
        value: this.autoscaler.agentToken.secretArn,
        description: 'Put a Buildkite agent token in this secret (aws secretsmanager put-secret-value).',
      });
    }

    if (config.analytics) {
      this.analytics = new Analytics(this, 'Analytics', {
        bus: this.bus.bus,
        alarms: this.alarms,
        config: config.analytics,
        logRetentionDays: config.logRetentionDays,
        oversizedBodies: this.bus.oversizedBodies,
      });
    }

    // The autoscaler exposes its function and consumer; its component is built from them here.
    const autoscaler: Observed | undefined = this.autoscaler && {
      observed: [
        {
          name: 'autoscaler',
          function: this.autoscaler.function,
          deadLetterQueue: this.autoscaler.consumer.deadLetterQueue,
        },
      ],
    };
    // Every part of the stack, in dashboard order; a part that is not configured is undefined.
    const parts: (Observed | undefined)[] = [
      this.ingress,
      this.bus,
      this.triggerRelay,
      this.chatAlerts,
      autoscaler,
      this.analytics,
      this.reconciliation,
      this.webhookRotation,
    ];
    this.observability.observe(...parts.flatMap((part) => part?.observed ?? []));
  }

  /**
   * Attaches a consumer to the bus: rule, target with retries, dead-letter queue and its alarm; the
   * dead-letter queue gets the outputs `<Id>DeadLetterQueueUrl` and `<Id>DeadLetterQueueArn`.
   */
  addConsumer(id: string, props: Omit<ConsumerProps, 'bus' | 'alarms'>): Consumer {
    const consumer = new Consumer(this, id, { ...props, bus: this.bus.bus, alarms: this.alarms });
    // Its dead letters get the outputs `<Id>DeadLetterQueueUrl` / `…Arn` and a dashboard line.
    this.observability.observe({
      name: id,
      deadLetterQueue: consumer.deadLetterQueue,
      ...('function' in props.receiver ? { function: props.receiver.function } : {}),
    });
    return consumer;
  }
}
