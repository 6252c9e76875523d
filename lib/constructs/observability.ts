import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambda/shared/metric-names';
import { SKIPPED_METRIC } from '../../lambda/shared/skipped';
import { pascalCase } from '../names';
import { Alarms } from './alarms';
import { PropError } from './prop-checks';

/**
 * What a construct shows the stack's observability: its function, its dead-letter queue, and any
 * dashboard widgets only it can explain. Each consumer construct exposes its own (`observed`);
 * the stack hands the list to `Observability.observe`.
 */
export interface ObservedComponent {
  /**
   * The component's name in kebab case, e.g. `chat-alerts`: its label on the dashboard, and, in
   * PascalCase, the stem of its dead-letter queue's output keys (`ChatAlertsDeadLetterQueueUrl`).
   * Unique within the stack.
   */
  readonly name: string;
  /** Its function, whose errors the dashboard shows. @default none (no function widget line) */
  readonly function?: lambda.IFunction;
  /**
   * Its dead-letter queue: its depth is on the dashboard, and its URL and ARN are stack outputs
   * (`<Name>DeadLetterQueueUrl`, `<Name>DeadLetterQueueArn`). The alarm on it stays with the
   * construct that owns the queue. @default none
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /** Widgets only this component can explain, shown as one dashboard row. @default none */
  readonly widgets?: readonly cloudwatch.IWidget[];
}

export interface ObservabilityProps {
  /**
   * Subscribed to the alarm topic (the address must confirm the subscription).
   * @default no subscription
   */
  readonly alarmEmail?: string;
  /** The CloudWatch dashboard's name. @default `<stack name>-kitebridge` */
  readonly dashboardName?: string;
}

/** The dashboards' period for everything but queue depths (those use one minute, like their alarms). */
export const DASHBOARD_PERIOD = Duration.minutes(5);

/**
 * A CloudWatch `SEARCH` over the kitebridge namespace: every metric `metric` with the dimension
 * set `dimensions` (e.g. `service,Reason service="verify"`), so new pipelines, queues and reasons
 * appear without a deployment.
 */
export function searchKitebridgeMetrics(
  dimensions: string,
  metric: string,
  statistic: string,
  label = '',
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},${dimensions}} MetricName="${metric}"', '${statistic}', ${DASHBOARD_PERIOD.toSeconds()})`,
    label,
    period: DASHBOARD_PERIOD,
  });
}

/**
 * The stack's observability, present whatever is configured: the alarm topic every kitebridge
 * alarm notifies (`alarms`), and one CloudWatch dashboard with, for every observed component,
 * its function's errors and its dead-letter queue's depth, skipped deliveries by consumer and
 * reason, and each component's own widgets (ingress traffic, analytics build metrics). Every
 * observed dead-letter queue gets two outputs with stable keys, `<Name>DeadLetterQueueUrl` and
 * `<Name>DeadLetterQueueArn`, which day-2 scripts read (`aws cloudformation describe-stacks`).
 */
export class Observability extends Construct {
  /** The alarm topic and the helpers that create kitebridge alarms. */
  readonly alarms: Alarms;
  readonly dashboard: cloudwatch.Dashboard;
  private readonly functionErrors: cloudwatch.GraphWidget;
  private readonly deadLetterDepth: cloudwatch.GraphWidget;
  private readonly names = new Set<string>();
  private readonly observed: ObservedComponent[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    // The topic keeps its place at the stack's top level (`Alarms/Topic`), so its logical id, and
    // with it every confirmed email subscription, survives upgrades from stacks that had it there.
    this.alarms = new Alarms(stack, 'Alarms', { ...(props.alarmEmail ? { email: props.alarmEmail } : {}) });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${stack.stackName}-kitebridge`,
      defaultInterval: Duration.days(1),
    });
    this.functionErrors = new cloudwatch.GraphWidget({ title: 'Function errors', width: 8 });
    this.deadLetterDepth = new cloudwatch.GraphWidget({ title: 'Dead-letter queue depth', width: 8 });
    // One call per row: widgets of one call sit side by side, calls stack.
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '# kitebridge\nFunction errors, skipped deliveries and dead letters of every component, then ingress traffic and, with analytics on, build metrics.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      this.functionErrors,
      new cloudwatch.GraphWidget({
        title: 'Skipped deliveries by consumer and reason',
        left: [searchKitebridgeMetrics('service,Reason', SKIPPED_METRIC, 'Sum')],
        stacked: true,
        width: 8,
      }),
      this.deadLetterDepth,
    );
  }

  /** The components observed so far, in the order given. */
  get components(): readonly ObservedComponent[] {
    return [...this.observed];
  }

  /**
   * Adds components to the dashboard and outputs their dead-letter queues. Call it with every
   * component the stack builds, and again for each consumer added later.
   */
  observe(...components: readonly ObservedComponent[]): void {
    for (const component of components) {
      const stem = pascalCase(component.name);
      if (stem === '') {
        throw new PropError(
          'Observability',
          'name',
          `must hold a letter or digit; got "${component.name}". Name the component in kebab case, e.g. "chat-alerts".`,
        );
      }
      if (this.names.has(stem)) {
        throw new PropError(
          'Observability',
          'name',
          `"${component.name}" is observed twice (output keys ${stem}DeadLetterQueue… must be unique). Give each component its own name.`,
        );
      }
      this.names.add(stem);
      this.observed.push(component);

      if (component.function) {
        this.functionErrors.addLeftMetric(
          component.function.metricErrors({ period: DASHBOARD_PERIOD, label: component.name }),
        );
      }
      const queue = component.deadLetterQueue;
      if (queue) {
        this.deadLetterDepth.addLeftMetric(
          queue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(1),
            statistic: 'Maximum',
            label: component.name,
          }),
        );
        new CfnOutput(this, `${stem}DeadLetterQueueUrl`, {
          key: `${stem}DeadLetterQueueUrl`,
          value: queue.queueUrl,
          description: `URL of the dead-letter queue of ${component.name}.`,
        });
        new CfnOutput(this, `${stem}DeadLetterQueueArn`, {
          key: `${stem}DeadLetterQueueArn`,
          value: queue.queueArn,
          description: `ARN of the dead-letter queue of ${component.name}.`,
        });
      }
      if (component.widgets && component.widgets.length > 0) this.dashboard.addWidgets(...component.widgets);
    }
  }
}
