import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { KitebridgeStack } from '../../../lib/kitebridge-stack';
import { autoscalerEventPattern } from '../../../lambda/autoscaler/rules';
import { parseAutoscalerConfig, type AutoscalerConfig } from '../../../lib/config/autoscaler';
import { Autoscaler, SCALE_IN_NEEDS_API_TOKEN_NOTE } from '../../../lib/constructs/autoscaler';
import {
  acknowledgements,
  allIdentityStatements,
  asList,
  buildStack,
  getAtt,
  logicalIdOf,
  roleOfFunction,
  statementsOfRole,
} from '../helpers';

const MAPPED = parseAutoscalerConfig({
  org: 'acme',
  queues: [
    { queue: 'linux', asgName: 'ci-linux', max: 20 },
    { queue: 'arm64', asgName: 'ci-arm64', agentsPerInstance: 2, max: 10, scaleInEnabled: true },
  ],
});
const DRY = parseAutoscalerConfig({ org: 'acme', queues: [{ queue: 'default', max: 5 }] });

interface Built {
  readonly stack: KitebridgeStack;
  readonly autoscaler: Autoscaler;
  readonly template: Template;
}

function build(config: AutoscalerConfig, withApiToken = true): Built {
  const { stack } = buildStack();
  const apiTokenSecret = withApiToken
    ? new secretsmanager.Secret(stack, 'ApiTokenForTest', { description: 'a Buildkite API token' })
    : undefined;
  if (apiTokenSecret) {
    // The stack's real token secret (BuildkiteApi) acknowledges SMG4 the same way.
    Validations.of(apiTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A Buildkite API token is issued to a person; no Lambda can mint one.',
    });
  }
  const autoscaler = new Autoscaler(stack, 'Autoscaler', {
    bus: stack.bus.bus,
    alarms: stack.alarms,
    config,
    logRetentionDays: 30,
    oversizedBodies: stack.bus.oversizedBodies,
    ...(apiTokenSecret ? { apiTokenSecret } : {}),
  });
  return { stack, autoscaler, template: Template.fromStack(stack) };
}

const mapped = build(MAPPED);
const dry = build(DRY);

describe('nag', () => {
  it.each([
    ['mapped groups', mapped],
    ['dry run', dry],
  ])('reports no unacknowledged AwsSolutions findings with %s', (_name, built) => {
    const report = new AwsSolutionsChecks(built.stack).validateScope(built.stack);
    const lines = report.violations.flatMap((v) =>
      v.violatingResources.map(
        (r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}: ${v.description}`,
      ),
    );
    expect(lines).toEqual([]);
  });
});

function ids(built: Built) {
  const a = built.autoscaler;
  return {
    fn: logicalIdOf(a.function),
    dlq: logicalIdOf(a.consumer.deadLetterQueue),
    secret: logicalIdOf(a.agentToken),
    table: logicalIdOf(a.state),
    fleet: logicalIdOf(a.fleet),
    bus: logicalIdOf(built.stack.bus.bus as unknown as IConstruct),
    bodies: logicalIdOf(built.stack.bus.oversizedBodies),
    topic: logicalIdOf(built.stack.alarms.topic),
  };
}

describe.each([
  ['mapped groups', mapped, MAPPED],
  ['dry run', dry, DRY],
])('with %s', (_name, built, config) => {
  const { template } = built;
  const id = ids(built);

  it('has an event rule on the kitebridge bus with the shared pattern, retries and the DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: id.bus },
      EventPattern: autoscalerEventPattern(config.queues.map((q) => q.queue)),
      Targets: [
        Match.objectLike({
          Arn: getAtt(id.fn),
          DeadLetterConfig: { Arn: getAtt(id.dlq) },
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 900 },
        }),
      ],
    });
  });

  it('has a one-minute reconcile schedule on the default bus into the same function and DLQ', () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { ScheduleExpression: 'rate(1 minute)' },
    });
    expect(Object.keys(rules)).toHaveLength(1);
    const rule = Object.values(rules)[0]!;
    expect(rule.Properties.EventBusName).toBeUndefined();
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: getAtt(id.fn),
        DeadLetterConfig: { Arn: getAtt(id.dlq) },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
      }),
    ]);
  });

  it('sends failed invocations to the DLQ and alarms on it', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id.fn },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: getAtt(id.dlq) } },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: getAtt(id.dlq, 'QueueName') }],
      AlarmActions: [{ Ref: id.topic }],
      Threshold: 0,
    });
  });

  it('passes config, table and secret by reference, and waits long enough for a trailing evaluation', () => {
    const fn = template.toJSON().Resources[id.fn];
    const env = fn.Properties.Environment.Variables;
    expect(JSON.parse(env.AUTOSCALER_CONFIG)).toEqual(config);
    expect(env.STATE_TABLE_NAME).toEqual({ Ref: id.table });
    expect(env.AGENT_TOKEN_SECRET_ARN).toEqual({ Ref: id.secret });
    expect(env.OVERSIZED_BUCKET_NAME).toEqual({ Ref: id.bodies });
    expect(env.FLEET_TABLE_NAME).toEqual({ Ref: id.fleet });
    expect(env.EVENT_BUS_NAME).toEqual({ Ref: id.bus });
    expect(fn.Properties.Timeout).toBe(90);
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('creates the agent token secret with a placeholder and a state table with TTL', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      SecretString: 'REPLACE-ME-with-a-Buildkite-agent-token',
    });
    // The state table (pk) and the fleet table (pk, sk): on demand, with TTL.
    for (const keys of [['pk'], ['pk', 'sk']]) {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: keys.map((name, i) => ({ AttributeName: name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
    }
  });

  it('grants the agent token to this function only, read-only', () => {
    const readers = allIdentityStatements(template).filter(({ statement }) =>
      JSON.stringify(statement.Resource ?? '').includes(`"Ref":"${id.secret}"`),
    );
    expect(readers.map((r) => r.resource)).toEqual([expect.stringMatching(/^AutoscalerFunctionRole/)]);
    expect(readers.flatMap((r) => asList(r.statement.Action)).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
  });

  it('may only get stored oversized bodies: s3:GetObject under oversized/ of the bodies bucket', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, id.fn));
    expect(statements.filter((s) => asList(s.Action).some((a) => a.startsWith('s3:')))).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [getAtt(id.bodies), '/oversized/*']] },
      },
    ]);
    const acks = acknowledgements(built.autoscaler).filter((a) => a.id.includes('/oversized/*'));
    expect(acks.map(({ path, id: ackId }) => `${path} ${ackId}`)).toEqual([
      `Kitebridge/Autoscaler/FunctionRole AwsSolutions-IAM5[Resource::<${id.bodies}.Arn>/oversized/*]`,
    ]);
  });

  it('may only get and update items of its own tables (query only the fleet)', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, id.fn));
    const dynamo = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: getAtt(id.table),
      }),
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        Resource: getAtt(id.fleet),
      }),
    ]);
  });

  it('may put events on the kitebridge bus only (job.stuck)', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, id.fn));
    expect(statements.filter((s) => asList(s.Action).some((a) => a.startsWith('events:')))).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: getAtt(id.bus) },
    ]);
  });
});

describe('IAM for Auto Scaling', () => {
  const statementsOf = (built: Built) =>
    statementsOfRole(built.template, roleOfFunction(built.template, ids(built).fn));
  const arn = (name: string) => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':autoscaling:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:autoScalingGroup:*:autoScalingGroupName/${name}`,
      ],
    ],
  });

  it('scopes scaling, termination, protection and health to the mapped groups by name', () => {
    const set = statementsOf(mapped).filter((s) =>
      asList(s.Action).includes('autoscaling:SetDesiredCapacity'),
    );
    expect(set).toHaveLength(1);
    expect(set[0]).toMatchObject({
      Effect: 'Allow',
      Action: [
        'autoscaling:SetDesiredCapacity',
        'autoscaling:SetInstanceHealth',
        'autoscaling:SetInstanceProtection',
        'autoscaling:TerminateInstanceInAutoScalingGroup',
      ],
    });
    const other = statementsOf(mapped)
      .filter((s) => s !== set[0])
      .flatMap((s) => asList(s.Action))
      .filter((a) => a.startsWith('autoscaling:'));
    expect(other).toEqual(['autoscaling:DescribeAutoScalingGroups']);
    expect(set[0]?.Condition).toBeUndefined();
    const resources = asList(set[0]?.Resource as unknown[]);
    expect(resources).toHaveLength(2);
    expect(resources).toEqual(expect.arrayContaining([arn('ci-linux'), arn('ci-arm64')]));
  });

  it('allows Resource "*" only for DescribeAutoScalingGroups and X-Ray', () => {
    const starred = statementsOf(mapped)
      .filter((s) => asList(s.Resource as string | string[]).includes('*'))
      .flatMap((s) => asList(s.Action))
      .sort();
    expect(starred).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it('has no Auto Scaling permission at all in dry run', () => {
    const actions = statementsOf(dry).flatMap((s) => asList(s.Action));
    expect(actions.filter((a) => a.startsWith('autoscaling:'))).toEqual([]);
  });

  it('treats a config with dryRun: true as unmapped', () => {
    const built = build({ ...MAPPED, dryRun: true });
    const actions = statementsOf(built).flatMap((s) => asList(s.Action));
    expect(actions.filter((a) => a.startsWith('autoscaling:'))).toEqual([]);
  });

  it('acknowledges IAM5 only on the function role, one finding per mapped group', () => {
    const acks = acknowledgements(mapped.autoscaler)
      .map(({ path, id }) => `${path} ${id}`)
      .filter((line) => line.includes('IAM5'));
    expect(acks.every((line) => line.startsWith('Kitebridge/Autoscaler/FunctionRole '))).toBe(true);
    expect(acks.filter((line) => line.includes('autoScalingGroupName/'))).toHaveLength(2);
  });
});

describe('the Buildkite API token (re-check before a scale-in termination)', () => {
  it('passes the token secret by reference and grants it read-only', () => {
    const fn = mapped.template.toJSON().Resources[ids(mapped).fn];
    const secret = logicalIdOf(mapped.stack.node.findChild('ApiTokenForTest'));
    expect(fn.Properties.Environment.Variables.BUILDKITE_API_TOKEN_SECRET_ARN).toEqual({ Ref: secret });
    const readers = allIdentityStatements(mapped.template).filter(({ statement }) =>
      JSON.stringify(statement.Resource ?? '').includes(`"Ref":"${secret}"`),
    );
    expect(readers.flatMap((r) => asList(r.statement.Action)).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    Annotations.fromStack(mapped.stack).hasNoInfo('*', SCALE_IN_NEEDS_API_TOKEN_NOTE);
  });

  it('without one: no token variable, and a synth note when a queue has scale-in on', () => {
    const built = build(MAPPED, false);
    const env = built.template.toJSON().Resources[ids(built).fn].Properties.Environment.Variables;
    expect(env.BUILDKITE_API_TOKEN_SECRET_ARN).toBeUndefined();
    Annotations.fromStack(built.stack).hasInfo('/Kitebridge/Autoscaler', SCALE_IN_NEEDS_API_TOKEN_NOTE);
  });

  it('without one and scale-in off everywhere: no note', () => {
    const built = build(DRY, false);
    Annotations.fromStack(built.stack).hasNoInfo('*', SCALE_IN_NEEDS_API_TOKEN_NOTE);
  });

  it('scale-in on a queue with several agents per instance: no note, scale-in is not held there', () => {
    Annotations.fromStack(build(MAPPED).stack).hasNoInfo('*', Match.stringLikeRegexp('agentsPerInstance'));
  });
});

describe('the event rule pattern', () => {
  it('filters on queue tags unless the default queue is mapped', () => {
    expect(autoscalerEventPattern(['linux', 'arm64'])).toEqual({
      source: ['buildkite'],
      'detail-type': [{ prefix: 'job.' }, { prefix: 'agent.' }],
      detail: {
        $or: [
          { job: { agent_query_rules: ['queue=linux', 'queue=arm64'] } },
          { agent: { meta_data: ['queue=linux', 'queue=arm64'] } },
        ],
      },
    });
    expect(autoscalerEventPattern(['linux', 'default'])).toEqual({
      source: ['buildkite'],
      'detail-type': [{ prefix: 'job.' }, { prefix: 'agent.' }],
    });
  });
});
