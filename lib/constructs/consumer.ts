import { Duration, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EventPatternJson } from '../../lambda/shared/contract';
import type { Alarms } from './alarms';
import { deadLetterQueue } from './dead-letter-queue';
import { SERVERLESS_RULES } from './nag-ids';
import {
  checkDuration,
  checkInteger,
  EVENTBRIDGE_RETRY_LIMITS,
  LAMBDA_ASYNC_RETRY_LIMITS,
} from './prop-checks';

/** What receives the matched events: a Lambda function, or any rule target built around the consumer's DLQ. */
export type ConsumerTarget =
  | { readonly function: lambda.IFunction }
  | { readonly target: (deadLetterQueue: sqs.IQueue) => events.IRuleTarget };

export interface ConsumerProps {
  /** The bus the rule listens on (the kitebridge bus). */
  readonly bus: events.IEventBus;
  /**
   * The events to receive, as an EventBridge pattern in the service's JSON form, e.g.
   * `{"source": ["buildkite"], "detail-type": ["build.finished"], "detail": {"build": {"state": ["failed"]}}}`.
   */
  readonly pattern: EventPatternJson;
  /** What receives the matched events: a function, or a rule target built around the DLQ. */
  readonly receiver: ConsumerTarget;
  /** Where the alarm on the dead-letter queue notifies. */
  readonly alarms: Alarms;
  /** The rule's description. @default `kitebridge consumer <id>` */
  readonly description?: string;
  /**
   * How many times EventBridge retries delivery to the target, 0 to 185.
   * @default 185 (the maximum)
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps retrying an event, 60 seconds to 24 hours.
   * @default Duration.hours(24) (the maximum)
   */
  readonly maxEventAge?: Duration;
  /**
   * For a function: how many times Lambda retries a failed asynchronous invocation before the
   * event goes to the dead-letter queue, 0 to 2. Ignored for other targets.
   * @default 2 (the maximum)
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
    const what = `Consumer ${id}`;
    const retryAttempts = checkInteger(
      what,
      'retryAttempts',
      props.retryAttempts ?? EVENTBRIDGE_RETRY_LIMITS.retryAttempts.max,
      EVENTBRIDGE_RETRY_LIMITS.retryAttempts.min,
      EVENTBRIDGE_RETRY_LIMITS.retryAttempts.max,
      "EventBridge's retry policy; leave it out for the maximum",
    );
    const maxEventAge = checkDuration(
      what,
      'maxEventAge',
      props.maxEventAge ?? EVENTBRIDGE_RETRY_LIMITS.maxEventAge.max,
      EVENTBRIDGE_RETRY_LIMITS.maxEventAge.min,
      EVENTBRIDGE_RETRY_LIMITS.maxEventAge.max,
      "EventBridge's retry policy; leave it out for the maximum",
    );
    const functionRetryAttempts = checkInteger(
      what,
      'functionRetryAttempts',
      props.functionRetryAttempts ?? LAMBDA_ASYNC_RETRY_LIMITS.max,
      LAMBDA_ASYNC_RETRY_LIMITS.min,
      LAMBDA_ASYNC_RETRY_LIMITS.max,
      "Lambda's asynchronous invocation retries",
    );
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters');
    this.alarm = props.alarms.onDeadLetters(this, 'DeadLettersAlarm', this.deadLetterQueue, `Consumer ${id}`);

    const retry = {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts,
      maxEventAge,
    };
    let target: events.IRuleTarget;
    if ('function' in props.receiver) {
      const fn = props.receiver.function;
      target = new targets.LambdaFunction(fn, retry);
      // EventBridge invokes functions asynchronously: its DLQ only sees events Lambda refused,
      // so events the function itself failed on must be sent to the same queue by Lambda.
      fn.configureAsyncInvoke({
        retryAttempts: functionRetryAttempts,
        maxEventAge: Duration.hours(6),
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      });
      if (fn.node.defaultChild instanceof lambda.CfnFunction) {
        Validations.of(fn).acknowledge({
          id: SERVERLESS_RULES.lambdaDlq,
          reason: `Failed asynchronous invocations go to consumer ${id}'s dead-letter queue through an on-failure destination, which (unlike a function DLQ) keeps the error and the request context.`,
        });
      }
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
