import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SERVERLESS_RULES } from './nag-ids';
import { PropError } from './prop-checks';

export interface AlarmsProps {
  /**
   * Subscribed to the alarm topic when set (the address must confirm the subscription).
   * @default no subscription
   */
  readonly email?: string;
}

/** The alarm topic every kitebridge alarm notifies, and helpers that create those alarms. */
export class Alarms extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps = {}) {
    super(scope, id);
    if (props.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.email)) {
      throw new PropError(
        'Alarms',
        'email',
        `must be an email address (name@example.com); got "${props.email}". Fix it, or leave it out for no subscription.`,
      );
    }
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'kitebridge alarms', enforceSSL: true });
    if (props.email) {
      const subscription = this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
      Validations.of(subscription).acknowledge({
        id: SERVERLESS_RULES.snsRedrivePolicy,
        reason:
          'A dead-letter queue for alarm emails could only alarm on this same topic; an undelivered email leaves the alarm itself in ALARM state in CloudWatch, where it stays visible.',
      });
    }
  }

  /** Alarms as soon as any message sits in a dead-letter queue; the alarm is created in `scope` as `id`. */
  onDeadLetters(scope: Construct, id: string, queue: sqs.IQueue, what: string): cloudwatch.Alarm {
    return this.add(
      new cloudwatch.Alarm(scope, id, {
        alarmDescription: `${what}: messages are waiting in dead-letter queue ${queue.queueName}. Inspect them, fix the cause, then redrive.`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /**
   * Alarms as soon as `metric` (a count, summed per minute) is above zero: for events each of which
   * is a lost or refused delivery. The alarm is created in `scope` as `id`.
   */
  onAnyOccurrence(
    scope: Construct,
    id: string,
    description: string,
    metric: cloudwatch.IMetric,
  ): cloudwatch.Alarm {
    return this.add(
      new cloudwatch.Alarm(scope, id, {
        alarmDescription: description,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  add(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    return alarm;
  }
}
