import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { Alarms } from '../../../lib/constructs/alarms';
import { TriggerRelay, type TriggerRelayProps } from '../../../lib/constructs/trigger-relay';
import { TRIGGER_URL_PLACEHOLDER } from '../../../lambda/trigger-relay/http-poster';
import { matchesPattern } from '../../../lambda/shared/event-pattern';
import {
  acknowledgements,
  allIdentityStatements,
  asList,
  buildStack,
  logicalIdOf,
  statementsOfRole,
  testApp,
  type PolicyStatementJson,
  readsOversizedBodies,
  s3StatementsOf,
} from '../helpers';

const TRIGGERS = [
  { name: 'github-deploy', filter: { action: ['closed'], pull_request: { merged: [true] } } },
  { name: 'pagerduty' },
];

/** The kitebridge stack with a relay wired in as the lead will wire it. */
function stackWithRelay(overrides: Partial<TriggerRelayProps> = {}) {
  const { stack } = buildStack();
  const relay = new TriggerRelay(stack, 'TriggerRelay', {
    bus: stack.bus.bus,
    alarms: stack.alarms,
    triggers: TRIGGERS,
    ratePerHour: 300,
    burst: 10,
    logRetentionDays: 30,
    oversizedBodies: stack.bus.oversizedBodies,
    ...overrides,
  });
  return { stack, relay, template: Template.fromStack(stack) };
}

const { stack, relay, template } = stackWithRelay();
const ids = {
  queue: logicalIdOf(relay.queue),
  dlq: logicalIdOf(relay.deadLetterQueue),
  fn: logicalIdOf(relay.function),
  table: logicalIdOf(relay.table),
  bus: logicalIdOf(stack.bus.bus),
  bucket: logicalIdOf(stack.bus.oversizedBodies),
  topic: logicalIdOf(stack.alarms.topic),
  role: logicalIdOf(relay.function.role!),
  secrets: Object.fromEntries(Object.entries(relay.urlSecrets).map(([n, s]) => [n, logicalIdOf(s)])),
};
const getAtt = (id: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [id, attribute] });

describe('rules', () => {
  it.each([
    [
      'github-deploy',
      {
        source: ['kitebridge.trigger'],
        'detail-type': ['trigger.github-deploy'],
        detail: { payload: { action: ['closed'], pull_request: { merged: [true] } } },
      },
    ],
    ['pagerduty', { source: ['kitebridge.trigger'], 'detail-type': ['trigger.pagerduty'] }],
  ])(
    'routes trigger %s (with its content filter) into the relay queue, with retries and a DLQ',
    (name, pattern) => {
      const consumer = relay.consumers[name]!;
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: ids.bus },
        EventPattern: pattern,
        State: 'ENABLED',
        Targets: [
          {
            Arn: getAtt(ids.queue),
            Id: Match.anyValue(),
            DeadLetterConfig: { Arn: getAtt(logicalIdOf(consumer.deadLetterQueue)) },
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          },
        ],
      });
    },
  );

  it('has one rule per trigger and no other rule targets the relay queue', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes(JSON.stringify(getAtt(ids.queue))),
    );
    expect(rules).toHaveLength(TRIGGERS.length);
  });

  it.each(TRIGGERS.map((t) => t.name))(
    'never routes a ping of trigger %s (detail-type trigger.<name>.ping) to the relay queue',
    (name) => {
      const relayRules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
        JSON.stringify(r.Properties.Targets).includes(JSON.stringify(getAtt(ids.queue))),
      );
      // A payload every rule's filter accepts: only the detail-type tells the two events apart.
      const detail = {
        trigger: name,
        headers: {},
        payload: { action: 'closed', pull_request: { merged: true } },
      };
      const event = (detailType: string) => ({
        source: 'kitebridge.trigger',
        'detail-type': detailType,
        detail,
      });
      const matching = (detailType: string) =>
        relayRules.filter((r) => matchesPattern(r.Properties.EventPattern, event(detailType)));
      expect(matching(`trigger.${name}`)).toHaveLength(1);
      expect(matching(`trigger.${name}.ping`)).toHaveLength(0);
    },
  );

  it('lets only the trigger rules send to the relay queue', () => {
    const policy = Object.values(template.findResources('AWS::SQS::QueuePolicy')).find((p) =>
      asList(p.Properties.Queues).some((q) => JSON.stringify(q) === JSON.stringify({ Ref: ids.queue })),
    );
    const statements = policy?.Properties.PolicyDocument.Statement as PolicyStatementJson[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(TRIGGERS.length);
    const ruleArns = Object.values(relay.consumers).map((c) => getAtt(logicalIdOf(c.rule)));
    for (const [i, statement] of allows.entries()) {
      expect(statement).toMatchObject({
        Principal: { Service: 'events.amazonaws.com' },
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Condition: { ArnEquals: { 'aws:SourceArn': ruleArns[i] } },
      });
    }
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('queue and dead letters', () => {
  it('is encrypted, keeps messages 14 days, and moves repeatedly failing messages to its DLQ', () => {
    const queue = template.toJSON().Resources[ids.queue].Properties;
    expect(queue).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.dlq), maxReceiveCount: 5 },
    });
    const fn = template.toJSON().Resources[ids.fn].Properties;
    expect(queue.VisibilityTimeout).toBe(fn.Timeout * 6);
  });

  it('alarms on the first dead letter, notifying the alarm topic', () => {
    const alarm = template.toJSON().Resources[logicalIdOf(relay.deadLetterAlarm)].Properties;
    expect(JSON.stringify(alarm.AlarmDescription)).toContain('Trigger relay: Buildkite refused requests');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.dlq, 'QueueName') }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: ids.topic }],
    });
  });
});

describe('relay function', () => {
  it('drains the queue in small batches, reporting item failures, at most two at a time', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: ids.fn },
      EventSourceArn: getAtt(ids.queue),
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(template.toJSON().Resources[ids.fn].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('gets its settings by reference: table, queues, secret ARNs per trigger, rate and burst', () => {
    const env = template.toJSON().Resources[ids.fn].Properties.Environment.Variables;
    expect(env).toMatchObject({
      RELAY_TABLE_NAME: { Ref: ids.table },
      RELAY_QUEUE_URL: { Ref: ids.queue },
      RELAY_DEAD_LETTER_QUEUE_URL: { Ref: ids.dlq },
      TRIGGER_RATE_PER_HOUR: '300',
      TRIGGER_BURST: '10',
      TRIGGER_POST_TIMEOUT_MS: '10000',
      OVERSIZED_BUCKET_NAME: { Ref: ids.bucket },
    });
    const secretMap = JSON.stringify(env.TRIGGER_URL_SECRET_ARNS);
    for (const [name, id] of Object.entries(ids.secrets)) {
      expect(secretMap).toContain(`"${name}\\":\\"`);
      expect(secretMap).toContain(JSON.stringify({ Ref: id }));
    }
  });
});

describe('state table', () => {
  it('is on-demand, with TTL and point-in-time recovery, keyed on pk', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });
});

describe('URL secrets', () => {
  it('makes one secret per trigger, holding a placeholder, and outputs its ARN', () => {
    expect(Object.keys(relay.urlSecrets)).toEqual(['github-deploy', 'pagerduty']);
    for (const id of Object.values(ids.secrets)) {
      expect(template.toJSON().Resources[id].Properties.SecretString).toBe(TRIGGER_URL_PLACEHOLDER);
    }
    template.hasOutput('TriggerUrlSecretGithubDeploy', { Value: { Ref: ids.secrets['github-deploy'] } });
    template.hasOutput('TriggerUrlSecretPagerduty', { Value: { Ref: ids.secrets.pagerduty } });
  });

  it('are readable by the relay function and by no other role', () => {
    const readers = allIdentityStatements(template)
      .filter(({ statement }) =>
        Object.values(ids.secrets).some((id) =>
          JSON.stringify(statement.Resource ?? '').includes(`"Ref":"${id}"`),
        ),
      )
      .map(({ resource, statement }) => ({ resource, actions: asList(statement.Action).sort() }));
    expect(readers.length).toBeGreaterThan(0);
    const relayPolicy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([, p]) =>
      asList(p.Properties.Roles).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: ids.role })),
    )?.[0];
    for (const reader of readers) {
      expect(reader).toEqual({
        resource: relayPolicy,
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      });
    }
  });
});

describe('IAM', () => {
  const statements = statementsOfRole(template, ids.role);
  const byResource = (resource: unknown) =>
    statements.filter((s) => JSON.stringify(asList(s.Resource)).includes(JSON.stringify(resource)));

  it('reads and writes single items of its table, nothing else there', () => {
    const table = byResource(getAtt(ids.table));
    expect(table.flatMap((s) => asList(s.Action)).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('gets objects only under oversized/ of the bodies bucket', () => {
    expect(s3StatementsOf(statements)).toEqual([readsOversizedBodies(ids.bucket)]);
  });

  it('sends only to its own queue and dead-letter queue', () => {
    const sends = statements.filter((s) => asList(s.Action).includes('sqs:SendMessage'));
    expect(sends.flatMap((s) => asList(s.Resource))).toEqual(
      expect.arrayContaining([getAtt(ids.queue), getAtt(ids.dlq)]),
    );
    expect(sends.flatMap((s) => asList(s.Resource))).toHaveLength(2);
  });

  it('has no action on every resource except X-Ray', () => {
    const star = statements.filter((s) => asList(s.Resource).includes('*'));
    expect(star.flatMap((s) => asList(s.Action)).filter((a) => !a.startsWith('xray:'))).toEqual([]);
  });
});

describe('props', () => {
  const scope = () => {
    const s = new Stack(testApp(), 'S');
    return {
      bus: new events.EventBus(s, 'Bus'),
      alarms: new Alarms(s, 'Alarms', {}),
      oversizedBodies: new s3.Bucket(s, 'Bodies'),
      stack: s,
    };
  };
  const base = { triggers: TRIGGERS, ratePerHour: 300, burst: 10, logRetentionDays: 30 };

  it.each<[string, Partial<TriggerRelayProps>, RegExp]>([
    ['no triggers', { triggers: [] }, /at least one trigger/],
    ['a name with a slash', { triggers: [{ name: 'a/b' }] }, /trigger name "a\/b"/],
    [
      'a name the config would refuse',
      { triggers: [{ name: 'A_b' }] },
      /trigger name "A_b" must be 1-63 lower-case letters, digits or dashes/,
    ],
    [
      'names that collide',
      { triggers: [{ name: 'a-b' }, { name: 'a--b' }] },
      /"a-b" and "a--b" are too alike/,
    ],
    ['an empty filter', { triggers: [{ name: 'x', filter: {} }] }, /non-empty EventBridge pattern/],
    ['a zero rate', { ratePerHour: 0 }, /ratePerHour must be a whole number from 1 to 3600/],
    [
      'a burst above the rate',
      { ratePerHour: 5, burst: 6 },
      /burst must be a whole number from 1 to 5 \(at most ratePerHour\)/,
    ],
    ['a batch of 11', { batchSize: 11 }, /batchSize must be a whole number from 1 to 10/],
    [
      'a rate above one a second',
      { ratePerHour: 3601 },
      /^TriggerRelay: ratePerHour must be a whole number from 1 to 3600 \(one a second at most\); got 3601\. Pass a value in that range\.$/,
    ],
    [
      'a log retention CloudWatch does not offer',
      { logRetentionDays: 10 },
      /^TriggerRelay: logRetentionDays must be one of CloudWatch Logs' retention periods/,
    ],
    [
      'a POST timeout under a second',
      { postTimeout: Duration.millis(500) },
      /^TriggerRelay: postTimeout must be whole seconds from 1 second to 5 minutes \(Buildkite answers within seconds\); got 500 millis/,
    ],
    [
      'a POST timeout above 5 minutes',
      { postTimeout: Duration.minutes(6) },
      /postTimeout must be whole seconds from 1 second to 5 minutes/,
    ],
    [
      "a batch whose POSTs cannot fit in Lambda's 15 minutes",
      { batchSize: 10, postTimeout: Duration.minutes(2) },
      /^TriggerRelay: postTimeout × batchSize must fit in Lambda's 15-minute timeout: 10 × \(120 s \+ 5 s\) \+ 15 s is 1265 s, above 900 s\. Lower postTimeout or batchSize\.$/,
    ],
  ])('rejects %s at synth', (_name, props, message) => {
    const { stack: s, ...deps } = scope();
    expect(() => new TriggerRelay(s, 'Relay', { ...deps, ...base, ...props })).toThrow(message);
  });
});

describe('AwsSolutions and Serverless (cdk-nag)', () => {
  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks(stack)],
    ['Serverless', () => new ServerlessChecks(stack)],
  ])('reports no unacknowledged %s finding on the stack with the relay', (_pack, makePack) => {
    const report = makePack().validateScope(stack);
    const lines = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`),
    );
    expect(lines).toEqual([]);
  });

  it('acknowledges each finding in the relay on one resource, with a reason, and none that is not needed', () => {
    const acks = acknowledgements(relay);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) expect(typeof ack.reason === 'string' && ack.reason.length > 20).toBe(true);
    // What AwsSolutions and Serverless report on the relay when no acknowledgement counts.
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()]
      .flatMap((pack) => {
        (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
        return pack.validateScope(stack).violations;
      })
      .flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })))
      .filter((f) => f.path.startsWith(`${relay.node.path}/`));
    // The dead-letter-queue helper acknowledges SQS3 on every queue it makes; on the relay's DLQ,
    // which is the relay queue's redrive target, the rule passes by itself.
    const stale = acks.filter(
      (ack) =>
        !findings.some(
          (f) => ack.id.startsWith(f.rule) && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)),
        ) && !(ack.id === 'AwsSolutions-SQS3' && ack.path === relay.deadLetterQueue.node.path),
    );
    expect(stale.map((a) => `${a.id} on ${a.path}`)).toEqual([]);
  });
});

it('bundles the relay function with esbuild', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': ['**'] } });
  const s = new Stack(app, 'Bundled');
  new TriggerRelay(s, 'Relay', {
    bus: new events.EventBus(s, 'Bus'),
    alarms: new Alarms(s, 'Alarms', {}),
    oversizedBodies: new s3.Bucket(s, 'Bodies'),
    triggers: [{ name: 'github-deploy' }],
    ratePerHour: 300,
    burst: 10,
    logRetentionDays: 30,
  });
  const fn = Object.values(Template.fromStack(s).findResources('AWS::Lambda::Function')).find((f) =>
    String(f.Properties.Description).includes('pipeline triggers'),
  );
  expect(fn?.Properties.Code.S3Key).toMatch(/\.zip$/);
});

it('accepts the bounds themselves: rate 3600, burst = rate, 1-second and 5-minute POST timeouts that fit', () => {
  const s = new Stack(testApp(), 'Edges');
  const deps = {
    bus: new events.EventBus(s, 'Bus'),
    alarms: new Alarms(s, 'Alarms', {}),
    oversizedBodies: new s3.Bucket(s, 'Bodies'),
    logRetentionDays: 3653,
  };
  new TriggerRelay(s, 'Fast', {
    ...deps,
    triggers: [{ name: 'fast' }],
    ratePerHour: 3600,
    burst: 3600,
    postTimeout: Duration.seconds(1),
    batchSize: 10,
  });
  new TriggerRelay(s, 'Slow', {
    ...deps,
    triggers: [{ name: 'slow' }],
    ratePerHour: 1,
    burst: 1,
    postTimeout: Duration.minutes(5),
    batchSize: 2,
  });
  const timeouts = Object.values(Template.fromStack(s).findResources('AWS::Lambda::Function')).map(
    (f) => f.Properties.Timeout as number,
  );
  expect(timeouts.sort((a, b) => a - b)).toEqual([10 * (1 + 5) + 15, 2 * (300 + 5) + 15]);
});
