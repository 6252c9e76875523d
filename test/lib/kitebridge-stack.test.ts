/** Stack-level wiring: the functions, least privilege across constructs, the outputs of a stack with every consumer. */
import { Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  actionsOf,
  allIdentityStatements,
  asList,
  consumerStack,
  getAtt,
  idsOf,
  joined,
  logicalIdOf,
  ref,
  roleOfFunction,
  SPINE,
  statementsOfRole,
  synthStack,
  type PolicyStatementJson,
} from './helpers';

const defaults = synthStack(SPINE);
const template = defaults.template;
const ids = idsOf(defaults.stack);

describe('functions', () => {
  const fn = (id: string) => template.toJSON().Resources[id];

  it('are exactly the verify and redrive functions (no custom-resource or log-retention functions)', () => {
    template.resourceCountIs('AWS::Lambda::Function', 2);
    expect(fn(ids.verify)).toBeDefined();
    expect(fn(ids.redrive)).toBeDefined();
  });

  it.each([
    ['verify', () => ids.verify],
    ['redrive', () => ids.redrive],
  ])('%s runs Node.js 24 on arm64 with active tracing and JSON logs into its own log group', (_name, id) => {
    const properties = fn(id()).Properties;
    expect(properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
    });
    const logGroup = properties.LoggingConfig.LogGroup.Ref;
    expect(template.toJSON().Resources[logGroup]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 30 },
    });
    // The role writes to that log group only.
    const logStatements = statementsOfRole(template, roleOfFunction(template, id())).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('logs:')),
    );
    expect(logStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: getAtt(logGroup),
      },
    ]);
  });

  it('log groups keep logs for the configured number of days', () => {
    const { template: t } = synthStack({ logRetentionDays: 90 });
    t.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('verify gets the bus, secret, spool and bucket by reference and the limits from config', () => {
    expect(fn(ids.verify).Properties.Environment.Variables).toMatchObject({
      EVENT_BUS_NAME: ref(ids.bus),
      WEBHOOK_SECRET_ARN: ref(ids.secret),
      SPOOL_QUEUE_URL: ref(ids.spool),
      OVERSIZED_BUCKET_NAME: ref(ids.bucket),
      REPLAY_WINDOW_SECONDS: '300',
      MAX_BODY_BYTES: '5000000',
    });
  });

  it('verify takes the replay window and body limit from config', () => {
    const { stack, template: t } = synthStack({ replayWindowSeconds: '120', maxBodyBytes: 2048 });
    expect(
      t.toJSON().Resources[logicalIdOf(stack.ingress.verify)].Properties.Environment.Variables,
    ).toMatchObject({
      REPLAY_WINDOW_SECONDS: '120',
      MAX_BODY_BYTES: '2048',
    });
  });

  it('redrive publishes to the kitebridge bus', () => {
    expect(fn(ids.redrive).Properties.Environment.Variables).toMatchObject({ EVENT_BUS_NAME: ref(ids.bus) });
  });

  it('no role has the AWSLambdaBasicExecutionRole managed policy (or any managed policy)', () => {
    const roles = template.findResources('AWS::IAM::Role');
    expect(Object.keys(roles).length).toBeGreaterThanOrEqual(2);
    for (const role of Object.values(roles)) {
      expect(JSON.stringify(role)).not.toContain('AWSLambdaBasicExecutionRole');
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('least privilege', () => {
  const verifyStatements = statementsOfRole(template, roleOfFunction(template, ids.verify));
  const statementsWith = (statements: PolicyStatementJson[], prefix: string) =>
    statements.filter((s) => actionsOf(s).some((a) => a.startsWith(prefix)));

  it('verify may put events on the kitebridge bus only', () => {
    expect(statementsWith(verifyStatements, 'events:')).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: getAtt(ids.bus) },
    ]);
  });

  it('verify may read the webhook secret only', () => {
    expect(statementsWith(verifyStatements, 'secretsmanager:')).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: ref(ids.secret),
      },
    ]);
  });

  it('verify may send messages to the spool only', () => {
    const sqsStatements = statementsWith(verifyStatements, 'sqs:');
    expect(sqsStatements).toHaveLength(1);
    expect(sqsStatements[0]?.Resource).toEqual(getAtt(ids.spool));
    expect(actionsOf(sqsStatements[0] as PolicyStatementJson)).toContain('sqs:SendMessage');
    for (const action of actionsOf(sqsStatements[0] as PolicyStatementJson)) {
      expect(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl']).toContain(action);
    }
  });

  it('verify may put objects under oversized/ in the bucket only', () => {
    const s3Statements = statementsWith(verifyStatements, 's3:');
    expect(s3Statements).toEqual([{ Effect: 'Allow', Action: 's3:PutObject', Resource: expect.anything() }]);
    expect(joined(s3Statements[0]?.Resource)).toBe(`\${${JSON.stringify(getAtt(ids.bucket))}}/oversized/*`);
  });

  it('verify has no other permissions', () => {
    const actions = new Set(verifyStatements.flatMap(actionsOf));
    expect([...actions].sort()).toEqual(
      [
        'events:PutEvents',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:PutObject',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    expect(verifyStatements.every((s) => s.Effect === 'Allow' && s.NotAction === undefined)).toBe(true);
  });

  it('redrive may consume the spool and put events on the bus only', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, ids.redrive));
    expect(statementsWith(statements, 'events:')).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: getAtt(ids.bus) },
    ]);
    const sqsStatements = statementsWith(statements, 'sqs:');
    expect(sqsStatements).toHaveLength(1);
    expect(sqsStatements[0]?.Resource).toEqual(getAtt(ids.spool));
    expect(actionsOf(sqsStatements[0] as PolicyStatementJson)).not.toContain('sqs:SendMessage');
    expect(statementsWith(statements, 's3:')).toEqual([]);
    expect(statementsWith(statements, 'secretsmanager:')).toEqual([]);
  });

  it.each([
    ['the default stack', () => template],
    ['a stack with a consumer', () => consumerStack().template],
  ])('in %s, only the X-Ray tracing actions have Resource "*"', (_name, get) => {
    const statements = allIdentityStatements(get());
    expect(statements.length).toBeGreaterThan(0);
    const wildcards = statements.filter(({ statement }) => asList(statement.Resource).includes('*'));
    expect(wildcards.length).toBeGreaterThan(0);
    for (const { resource, statement } of wildcards) {
      expect({ resource, actions: actionsOf(statement).sort() }).toEqual({
        resource,
        actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
      });
      expect(statement.NotAction).toBeUndefined();
    }
  });
});

describe('outputs of a stack with every consumer', () => {
  const full = synthStack({
    autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
    chatAlerts: { destinations: [{ name: 'ci-slack', service: 'slack' }] },
    triggers: [{ name: 'github-deploy', kind: 'github' }],
  });
  const outputs = full.template.findOutputs('*');
  const { stack } = full;
  const deadLetterQueues: [string, sqs.IQueue][] = [
    ['Spool', stack.bus.spoolDeadLetters],
    ['ChatAlerts', stack.chatAlerts!.consumer.deadLetterQueue],
    ['Analytics', stack.analytics!.consumer.deadLetterQueue],
    ['Autoscaler', stack.autoscaler!.consumer.deadLetterQueue],
    ['TriggerRelay', stack.triggerRelay!.deadLetterQueue],
    ['TriggerGithubDeploy', stack.triggerRelay!.consumers['github-deploy']!.deadLetterQueue],
  ];

  it.each(deadLetterQueues)('%sDeadLetterQueueUrl and …Arn name that dead-letter queue', (name, queue) => {
    const id = logicalIdOf(queue);
    full.template.hasOutput(`${name}DeadLetterQueueUrl`, {
      Value: ref(id),
      Description: Match.stringLikeRegexp('\\S'),
    });
    full.template.hasOutput(`${name}DeadLetterQueueArn`, {
      Value: getAtt(id),
      Description: Match.stringLikeRegexp('\\S'),
    });
  });

  it('has an output pair for every dead-letter queue in the template, and for nothing else', () => {
    const queues = full.template.findResources('AWS::SQS::Queue');
    // A queue is a dead-letter queue when it is not itself a source with a redrive policy.
    const dlqs = Object.keys(queues)
      .filter((id) => !queues[id]?.Properties?.RedrivePolicy)
      .sort();
    const fromOutputs = (suffix: string) =>
      Object.entries(outputs)
        .filter(([key]) => key.endsWith(suffix))
        .map(([, output]) => (output.Value.Ref ?? output.Value['Fn::GetAtt'][0]) as string)
        .sort();
    expect(fromOutputs('DeadLetterQueueUrl')).toEqual(dlqs);
    expect(fromOutputs('DeadLetterQueueArn')).toEqual(dlqs);
    expect(dlqs).toHaveLength(deadLetterQueues.length);
  });

  it('gives every output an explicit, readable key (no construct-path hash), as the docs name them', () => {
    const keys = Object.keys(outputs);
    expect(keys.filter((key) => !/^[A-Z][A-Za-z0-9]*$/.test(key) || /[0-9A-F]{8}$/.test(key))).toEqual([]);
    expect(keys).toEqual(
      expect.arrayContaining([
        'ApiEndpoint',
        'WebhookUrl',
        'PathTokenUrl',
        'WebhookSecretArn',
        'EventBusName',
        'ArchiveName',
        'TailLogGroup',
        'OversizedBodiesBucket',
        'TriggerGithubDeployUrl',
        'TriggerGithubDeploySecretArn',
        'TriggerUrlSecretGithubDeploy',
        'ChatAlertsWebhookSecretCiSlack',
        'AutoscalerAgentTokenSecret',
        'AnalyticsWorkGroup',
        'AnalyticsRecordsBucket',
      ]),
    );
  });
});
