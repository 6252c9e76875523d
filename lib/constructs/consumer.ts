import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EventPatternJson } from '../../lambda/shared/contract';
import type { Alarms } from './alarms';
import { deadLetterQueue } from './dead-letter-queue';

/** What receives the matched events: a Lambda function, or any rule target built around the consumer's DLQ. */
export type ConsumerTarget =
  | { readonly function: lambda.IFunction }
  | { readonly target: (deadLetterQueue: sqs.IQueue) => events.IRuleTarget };

export interface ConsumerProps {
  readonly bus: events.IEventBus;
  /**
   * The events to receive, as an EventBridge pattern in the service's JSON form, e.g.
   * `{"source": ["buildkite"], "detail-type": ["build.finished"], "detail": {"build": {"state": ["failed"]}}}`.
   */
  readonly pattern: EventPatternJson;
  readonly receiver: ConsumerTarget;
  readonly alarms: Alarms;
  readonly description?: string;
  /** How many times EventBridge retries delivery to the target. @default 185 (the maximum) */
  readonly retryAttempts?: number;
  /** How long EventBridge keeps retrying an event. @default Duration.hours(24) (the maximum) */
  readonly maxEventAge?: Duration;
  /**
   * For a function: how many times Lambda retries a failed asynchronous invocation before the
   * event goes to the dead-letter queue. @default 2
   */
  readonly functionRetryAttempts?: number;
}

/** Top-level keys an EventBridge pattern may match on, with the CDK property each maps to. */
const PATTERN_KEYS: Record<string, keyof events.EventPattern> = {
  version: 'version',
  id: 'id',
  'detail-type': 'detailType',
  source: 'source',
  account: 'account',
  time: 'time',
  region: 'region',
  resources: 'resources',
  detail: 'detail',
};

/**
 * Converts a pattern in EventBridge's JSON form into CDK's `EventPattern`, so the JSON form can
 * be the one definition shared with the local bus. Rejects keys EventBridge would not match.
 */
export function toCdkEventPattern(pattern: EventPatternJson): events.EventPattern {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    const cdkKey = PATTERN_KEYS[key];
    if (!cdkKey) {
      throw new Error(
        `Event pattern key "${key}" is not an EventBridge envelope field; use one of ${Object.keys(PATTERN_KEYS).join(', ')} (match body fields under "detail").`,
      );
    }
    out[cdkKey] = value;
  }
  if (Object.keys(out).length === 0) throw new Error('An event pattern must match on at least one field.');
  return out as events.EventPattern;
}

/**
 * A consumer of kitebridge events: a rule on the bus, its target with a retry policy, a
 * dead-letter queue that catches both undeliverable events and (for a function) invocations
 * that kept failing, and an alarm on that queue.
 */
export class Consumer extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ConsumerProps) {
    super(scope, id);
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters');
    this.alarm = props.alarms.onDeadLetters(this, 'DeadLettersAlarm', this.deadLetterQueue, `Consumer ${id}`);

    const retry = {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: props.retryAttempts ?? 185,
      maxEventAge: props.maxEventAge ?? Duration.hours(24),
    };
    let target: events.IRuleTarget;
    if ('function' in props.receiver) {
      const fn = props.receiver.function;
      target = new targets.LambdaFunction(fn, retry);
      // EventBridge invokes functions asynchronously: its DLQ only sees events Lambda refused,
      // so events the function itself failed on must be sent to the same queue by Lambda.
      fn.configureAsyncInvoke({
        retryAttempts: props.functionRetryAttempts ?? 2,
        maxEventAge: Duration.hours(6),
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      });
    } else {
      target = props.receiver.target(this.deadLetterQueue);
    }

    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.bus,
      description: props.description ?? `kitebridge consumer ${id}`,
      eventPattern: toCdkEventPattern(props.pattern),
      targets: [target],
    });
  }
}
