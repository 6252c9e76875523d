/** The Consumer construct, as the stack's addConsumer attaches it, and toCdkEventPattern. */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { toCdkEventPattern } from '../../../lib/constructs/consumer';
import {
  actionsOf,
  buildStack,
  getAtt,
  logicalIdOf,
  ref,
  roleOfFunction,
  SPINE,
  statementsOfRole,
  consumerStack,
} from '../helpers';

describe('consumer', () => {
  const built = consumerStack();
  const t = built.template;
  const fnId = logicalIdOf(built.fn);
  const dlqId = logicalIdOf(built.consumer.deadLetterQueue);
  const ruleId = logicalIdOf(built.consumer.rule);
  const busId = logicalIdOf(built.stack.bus.bus);

  it('outputs its dead-letter queue as <Id>DeadLetterQueueUrl and <Id>DeadLetterQueueArn', () => {
    t.hasOutput('MyConsumerDeadLetterQueueUrl', { Value: ref(dlqId) });
    t.hasOutput('MyConsumerDeadLetterQueueArn', { Value: getAtt(dlqId) });
  });

  it('has a rule on the kitebridge bus with the pattern in EventBridge JSON form', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: ref(busId),
      EventPattern: {
        source: ['buildkite'],
        'detail-type': ['build.finished'],
        detail: { build: { state: ['failed'] } },
      },
    });
  });

  it('targets the function with a dead-letter queue and the maximum retry policy by default', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: ref(busId),
      Targets: [
        Match.objectLike({
          Arn: getAtt(fnId),
          DeadLetterConfig: { Arn: getAtt(dlqId) },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
  });

  it('sends invocations the function failed on to the same queue', () => {
    t.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(fnId),
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: getAtt(dlqId) } },
    });
    // ...which the function's role may do.
    const sqsStatements = statementsOfRole(t, roleOfFunction(t, fnId)).filter((s) =>
      actionsOf(s).includes('sqs:SendMessage'),
    );
    expect(sqsStatements.map((s) => s.Resource)).toEqual([getAtt(dlqId)]);
  });

  it('lets the rule (only) invoke the function and send to the queue', () => {
    t.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: getAtt(fnId),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(ruleId),
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(dlqId)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId) } },
          }),
        ]),
      },
    });
  });

  it('has an encrypted dead-letter queue with an alarm that notifies the alarm topic', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
    });
    expect(t.toJSON().Resources[dlqId].Properties.SqsManagedSseEnabled).toBe(true);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(dlqId, 'QueueName') }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [ref(logicalIdOf(built.stack.alarms.topic))],
    });
  });

  it('honours retry overrides', () => {
    const custom = consumerStack({
      retryAttempts: 3,
      maxEventAge: Duration.hours(2),
      functionRetryAttempts: 0,
    });
    custom.template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 } }),
      ],
    });
    custom.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
  });

  it('accepts any rule target built around its dead-letter queue', () => {
    const { stack } = buildStack(SPINE);
    const queue = new sqs.Queue(stack, 'Inbox', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const consumer = stack.addConsumer('QueueConsumer', {
      pattern: { source: ['buildkite'], 'detail-type': ['build.finished'] },
      receiver: { target: (dlq) => new targets.SqsQueue(queue, { deadLetterQueue: dlq }) },
    });
    const q = Template.fromStack(stack);
    q.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: ref(logicalIdOf(stack.bus.bus)),
      EventPattern: { source: ['buildkite'], 'detail-type': ['build.finished'] },
      Targets: [
        Match.objectLike({
          Arn: getAtt(logicalIdOf(queue)),
          DeadLetterConfig: { Arn: getAtt(logicalIdOf(consumer.deadLetterQueue)) },
        }),
      ],
    });
    q.resourceCountIs('AWS::Lambda::EventInvokeConfig', 0);
    q.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: getAtt(logicalIdOf(consumer.deadLetterQueue), 'QueueName') }],
    });
  });

  it('rejects an invalid pattern when it is added', () => {
    const { stack } = buildStack();
    expect(() =>
      stack.addConsumer('Bad', {
        pattern: { detailType: ['build.finished'] },
        receiver: { target: (dlq) => new targets.SqsQueue(dlq) },
      }),
    ).toThrow(/"detailType"/);
  });
});

describe('toCdkEventPattern', () => {
  it('maps EventBridge JSON keys to CDK properties', () => {
    expect(
      toCdkEventPattern({ source: ['buildkite'], 'detail-type': ['ping'], detail: { event: ['ping'] } }),
    ).toEqual<events.EventPattern>({
      source: ['buildkite'],
      detailType: ['ping'],
      detail: { event: ['ping'] },
    });
  });

  it('rejects an unknown top-level key, naming it', () => {
    expect(() => toCdkEventPattern({ source: ['buildkite'], build: {} })).toThrow(/"build"/);
  });

  it('rejects an empty pattern', () => {
    expect(() => toCdkEventPattern({})).toThrow(/at least one field/);
  });
});

describe('props bounds (checked at synth)', () => {
  const fnTarget = () => {
    const { stack } = buildStack(SPINE);
    return { stack, target: { target: (dlq: sqs.IQueue) => new targets.SqsQueue(dlq) } };
  };

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'retryAttempts above 185',
      { retryAttempts: 186 },
      /^Consumer Probe: retryAttempts must be a whole number from 0 to 185 \(EventBridge's retry policy; leave it out for the maximum\); got 186\. Pass a value in that range\.$/,
    ],
    [
      'retryAttempts below 0',
      { retryAttempts: -1 },
      /retryAttempts must be a whole number from 0 to 185.*got -1/,
    ],
    [
      'fractional retryAttempts',
      { retryAttempts: 1.5 },
      /retryAttempts must be a whole number from 0 to 185.*got 1\.5/,
    ],
    [
      'maxEventAge under a minute',
      { maxEventAge: Duration.seconds(59) },
      /^Consumer Probe: maxEventAge must be whole seconds from 1 minute to 1 day \(EventBridge's retry policy; leave it out for the maximum\); got 59 seconds\. Pass a Duration in that range\.$/,
    ],
    [
      'maxEventAge over a day',
      { maxEventAge: Duration.hours(25) },
      /maxEventAge must be whole seconds from 1 minute to 1 day.*got 1 day 1 hour/,
    ],
    [
      'maxEventAge in part-seconds',
      { maxEventAge: Duration.millis(90_500) },
      /maxEventAge must be whole seconds/,
    ],
    [
      'functionRetryAttempts above 2',
      { functionRetryAttempts: 3 },
      /^Consumer Probe: functionRetryAttempts must be a whole number from 0 to 2 \(Lambda's asynchronous invocation retries\); got 3\./,
    ],
  ])('rejects %s, naming the prop, the bound and the fix', (_name, props, message) => {
    const { stack, target } = fnTarget();
    expect(() =>
      stack.addConsumer('Probe', { pattern: { source: ['buildkite'] }, receiver: target, ...props }),
    ).toThrow(message);
  });

  it.each([
    [0, 60, 0],
    [185, 86400, 2],
  ])(
    'accepts the bounds themselves: retryAttempts %i, maxEventAge %i s, functionRetryAttempts %i',
    (retry, age, fnRetry) => {
      const { template: t } = consumerStack({
        retryAttempts: retry,
        maxEventAge: Duration.seconds(age),
        functionRetryAttempts: fnRetry,
      });
      t.hasResourceProperties('AWS::Events::Rule', {
        Targets: [
          Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: retry, MaximumEventAgeInSeconds: age } }),
        ],
      });
      t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: fnRetry });
    },
  );
});
