import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ChatAlerts } from '../../../lib/constructs/chat-alerts';
import { chatAlertsConfigSchema, type ChatAlertsConfig } from '../../../lib/config/chat-alerts';
import { chatAlertsPattern } from '../../../lambda/chat-alerts/rules';
import {
  acknowledgements,
  allIdentityStatements,
  asList,
  buildStack,
  logicalIdOf,
  roleOfFunction,
  statementsOfRole,
  readsOversizedBodies,
  s3StatementsOf,
} from '../helpers';

const config: ChatAlertsConfig = chatAlertsConfigSchema.parse({
  destinations: [
    { name: 'ci-slack', service: 'slack', branches: ['main', 'release/*'] },
    { name: 'platform-teams', service: 'teams', events: ['agent.lost', 'agent.blocked', 'package.created'] },
  ],
});

function synth(cfg: ChatAlertsConfig = config) {
  const { stack } = buildStack();
  const chat = new ChatAlerts(stack, 'ChatAlerts', {
    bus: stack.bus.bus,
    alarms: stack.alarms,
    config: cfg,
    logRetentionDays: 30,
    oversizedBodies: stack.bus.oversizedBodies,
  });
  return { stack, chat, template: Template.fromStack(stack) };
}

const { stack, chat, template } = synth();

describe('ChatAlerts construct', () => {
  it('puts one rule on the bus with the shared pattern of the enabled kinds', () => {
    const expected = chatAlertsPattern([...new Set(config.destinations.flatMap((d) => d.events))]);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalIdOf(stack.bus.bus) },
      EventPattern: expected,
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalIdOf(chat.function), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(chat.consumer.deadLetterQueue), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
    expect(expected['detail-type']).toEqual(
      expect.arrayContaining(['build.finished', 'job.finished', 'agent.lost', 'package.created']),
    );
    expect(expected['detail-type']).not.toContain('ping');
  });

  it('routes only what some destination wants', () => {
    expect(chatAlertsPattern(['agent.lost'])).toEqual({
      source: ['buildkite'],
      'detail-type': ['agent.lost'],
    });
    expect(chatAlertsPattern(['build.fixed'])).toEqual({
      source: ['buildkite'],
      'detail-type': ['build.finished'],
    });
  });

  it('takes job.stuck from kitebridge.health (the autoscaler), Buildkite events from buildkite', () => {
    expect(chatAlertsPattern(['job.stuck', 'agent.lost'])).toEqual({
      source: ['buildkite', 'kitebridge.health'],
      'detail-type': ['agent.lost', 'job.stuck'],
    });
  });

  it.each<[string, Parameters<typeof chatAlertsPattern>[0], unknown[]]>([
    [
      'alarm and recover only: their names',
      ['workflow.alarm', 'workflow.recover'],
      ['workflow.alarm', 'workflow.recover'],
    ],
    ['monitors: the whole workflow. family', ['workflow.monitor'], [{ prefix: 'workflow.' }]],
    [
      'monitors with alarms: the prefix covers the names',
      ['agent.lost', 'workflow.alarm', 'workflow.monitor'],
      ['agent.lost', { prefix: 'workflow.' }],
    ],
  ])('selects Test Engine deliveries: %s', (_name, kinds, detailTypes) => {
    expect(chatAlertsPattern(kinds)).toEqual({ source: ['buildkite'], 'detail-type': detailTypes });
  });

  it('puts the workflow. prefix on the deployed rule when a destination wants monitors', () => {
    const monitors = synth(
      chatAlertsConfigSchema.parse({
        destinations: [{ name: 'qa', service: 'teams', events: ['workflow.monitor'] }],
      }),
    );
    monitors.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['buildkite'], 'detail-type': [{ prefix: 'workflow.' }] },
    });
  });

  it('keeps state in a pay-per-request table with TTL and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('creates one secret per destination with a placeholder, named after the stack', () => {
    const ids = new Set(Object.values(chat.secrets).map((s) => logicalIdOf(s)));
    const secrets = Object.entries(template.findResources('AWS::SecretsManager::Secret'))
      .filter(([id]) => ids.has(id))
      .map(([, s]) => s.Properties);
    expect(secrets.map((s) => s.Name).sort()).toEqual([
      'Kitebridge/chat-alerts/ci-slack',
      'Kitebridge/chat-alerts/platform-teams',
    ]);
    for (const s of secrets) expect(s.SecretString).toMatch(/^REPLACE_ME/);
  });

  it('grants the secrets read-only, to the chat-alerts function only', () => {
    const secretIds = Object.values(chat.secrets).map((s) => logicalIdOf(s));
    const chatRole = roleOfFunction(template, logicalIdOf(chat.function));
    const touching = allIdentityStatements(template).filter(({ statement }) =>
      secretIds.some((id) => JSON.stringify(statement.Resource ?? '').includes(`"${id}"`)),
    );
    expect(touching.length).toBeGreaterThan(0);
    for (const { statement } of touching) {
      expect(asList(statement.Action).sort()).toEqual([
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ]);
    }
    const policies = template.findResources('AWS::IAM::Policy');
    for (const { resource } of touching) {
      expect(asList(policies[resource]?.Properties.Roles)).toEqual([{ Ref: chatRole }]);
    }
    // No statement anywhere grants Secrets Manager on "*".
    for (const { statement } of allIdentityStatements(template)) {
      if (asList(statement.Action).some((a) => a.startsWith('secretsmanager:'))) {
        expect(asList(statement.Resource)).not.toContain('*');
      }
    }
  });

  it('lets the function use only its own table with item-level actions, and write its DLQ', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, logicalIdOf(chat.function)));
    const dynamo = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect(asList(dynamo[0]!.Action).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(JSON.stringify(dynamo[0]!.Resource)).toContain(logicalIdOf(chat.table));
    const sqs = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('sqs:')));
    expect(JSON.stringify(sqs.map((s) => s.Resource))).toContain(logicalIdOf(chat.consumer.deadLetterQueue));
  });

  it('lets the function read oversized bodies: GetObject only, under oversized/ of the bodies bucket', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, logicalIdOf(chat.function)));
    expect(s3StatementsOf(statements)).toEqual([
      readsOversizedBodies(logicalIdOf(stack.bus.oversizedBodies)),
    ]);
  });

  it('passes the function its table, DLQ, bodies bucket and destinations by reference, never a URL', () => {
    const fn = template.toJSON().Resources[logicalIdOf(chat.function)];
    const env = fn.Properties.Environment.Variables;
    expect(env.OVERSIZED_BUCKET_NAME).toEqual({ Ref: logicalIdOf(stack.bus.oversizedBodies) });
    expect(env.TABLE_NAME).toEqual({ Ref: logicalIdOf(chat.table) });
    expect(env.DEAD_LETTER_QUEUE_URL).toEqual({ Ref: logicalIdOf(chat.consumer.deadLetterQueue) });
    const configJson = JSON.stringify(env.CHAT_ALERTS_CONFIG);
    expect(configJson).toContain(logicalIdOf(chat.secrets['ci-slack']!));
    expect(configJson).not.toMatch(/hooks\.slack\.com|REPLACE_ME/);
    expect(fn.Properties.Timeout).toBe(90);
  });

  it('sends failed invocations to the DLQ, which has an alarm on the alarm topic', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalIdOf(chat.function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(chat.consumer.deadLetterQueue), 'Arn'] } },
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalIdOf(chat.consumer.deadLetterQueue), 'QueueName'] },
        },
      ],
      AlarmActions: [{ Ref: logicalIdOf(stack.alarms.topic) }],
      Threshold: 0,
    });
  });

  it('outputs the name of each webhook secret', () => {
    template.hasOutput('ChatAlertsWebhookSecretCiSlack', { Value: { 'Fn::Join': Match.anyValue() } });
    expect(
      Object.keys(template.findOutputs('*')).filter((k) => k.startsWith('ChatAlertsWebhookSecret')),
    ).toHaveLength(2);
  });

  it('reports no unacknowledged AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(stack);
    const lines = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`),
    );
    expect(lines).toEqual([]);
  });

  it('acknowledges only findings that exist: SMG4 on each webhook secret', () => {
    const pack = new AwsSolutionsChecks();
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const paths = pack
      .validateScope(stack)
      .violations.filter((v) => v.ruleName === 'AwsSolutions-SMG4')
      .flatMap((v) => v.violatingResources.map((r) => r.constructPath ?? ''));
    for (const secret of Object.values(chat.secrets)) expect(paths).toContain(`${secret.node.path}/Resource`);
  });

  it('acknowledges the oversized/* wildcard on the function role only, and only because it is reported', () => {
    const role = chat.function.role!.node;
    const id = `AwsSolutions-IAM5[Resource::<${logicalIdOf(stack.bus.oversizedBodies)}.Arn>/oversized/*]`;
    const acks = acknowledgements(chat).filter((a) => a.id.includes('oversized'));
    expect(acks.map((a) => [a.path, a.id])).toEqual([[role.path, id]]);
    expect(String(acks[0]!.reason)).toMatch(/GetObject/);
    const pack = new AwsSolutionsChecks();
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const reported = pack
      .validateScope(stack)
      .violations.filter((v) => v.ruleName === id)
      .flatMap((v) => v.violatingResources.map((r) => r.constructPath ?? ''));
    expect(reported).toContain(`${role.path}/DefaultPolicy/Resource`);
  });

  it('works with a single destination (both arms of the optional fields)', () => {
    const one = synth(
      chatAlertsConfigSchema.parse({
        destinations: [{ name: 'only', service: 'teams', buildStates: ['failed'] }],
        jobsGraceSeconds: 0,
      }),
    );
    expect(Object.keys(one.chat.secrets)).toEqual(['only']);
    one.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'Kitebridge/chat-alerts/only',
    });
    const env =
      one.template.toJSON().Resources[logicalIdOf(one.chat.function)].Properties.Environment.Variables;
    expect(JSON.stringify(env.CHAT_ALERTS_CONFIG)).toContain('buildStates');
    expect(new AwsSolutionsChecks(one.stack).validateScope(one.stack).success).toBe(true);
  });
});

describe('props bounds (checked at synth)', () => {
  const probe = (overrides: { config?: ChatAlertsConfig; logRetentionDays?: number }) => {
    const { stack: s } = buildStack();
    return () =>
      new ChatAlerts(s, 'Probe', {
        bus: s.bus.bus,
        alarms: s.alarms,
        config,
        logRetentionDays: 30,
        oversizedBodies: s.bus.oversizedBodies,
        ...overrides,
      });
  };

  it('rejects a log retention CloudWatch does not offer, naming the fix', () => {
    expect(probe({ logRetentionDays: 45 })).toThrow(
      /^ChatAlerts: logRetentionDays must be one of CloudWatch Logs' retention periods \(1, 3, .*\); got 45\. Pick the nearest of those days\.$/,
    );
  });

  it("checks a config built in code against the config schema's bounds, naming the key", () => {
    expect(probe({ config: { ...config, jobsGraceSeconds: 31 } })).toThrow(
      /^ChatAlerts: config\.jobsGraceSeconds .*30.*\. Fix it as for the same key in cdk\.json/,
    );
    expect(probe({ config: { ...config, destinations: [] } })).toThrow(
      /^ChatAlerts: config\.destinations must list at least one destination/,
    );
  });
});
