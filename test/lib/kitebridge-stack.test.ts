import { Duration } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { GATEWAY_ANSWERS, type GatewayAnswerCode } from '../../lambda/shared/gateway-answers';
import { toCdkEventPattern } from '../../lib/constructs/consumer';
import type { KitebridgeStack } from '../../lib/kitebridge-stack';
import {
  allIdentityStatements,
  asList,
  buildStack,
  logicalIdOf,
  roleOfFunction,
  statementsOfRole,
  synthStack,
  TEST_WEBHOOK_IPS,
  type PolicyStatementJson,
} from './helpers';

/** Logical ids of the stack's main resources, read from its constructs. */
function idsOf(stack: KitebridgeStack) {
  const { bus, ingress, alarms } = stack;
  return {
    api: logicalIdOf(ingress.api),
    stage: logicalIdOf(ingress.api.deploymentStage),
    verify: logicalIdOf(ingress.verify),
    secret: logicalIdOf(ingress.secret),
    accessLogs: logicalIdOf(ingress.accessLogs),
    bus: logicalIdOf(bus.bus),
    archive: logicalIdOf(bus.archive),
    spool: logicalIdOf(bus.spool),
    spoolDeadLetters: logicalIdOf(bus.spoolDeadLetters),
    redrive: logicalIdOf(bus.redrive),
    bucket: logicalIdOf(bus.oversizedBodies),
    tailLogs: bus.tailLogGroup ? logicalIdOf(bus.tailLogGroup) : undefined,
    topic: logicalIdOf(alarms.topic),
  };
}

const getAtt = (id: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [id, attribute] });
const ref = (id: string) => ({ Ref: id });

/** The pieces of an `Fn::Join` with '' (or a plain string) as one string; tokens become `${...}`. */
function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`Not a string or Fn::Join: ${JSON.stringify(value)}`);
  return join[1]
    .map((part) => (typeof part === 'string' ? part : `\${${JSON.stringify(part)}}`))
    .join(join[0]);
}

const actionsOf = (statement: PolicyStatementJson) => asList(statement.Action);

/**
 * This file tests the spine (ingress, bus, alarms, addConsumer): analytics, deployed by default,
 * is left out here and tested in analytics.test.ts.
 */
const SPINE = { analytics: false };

const defaults = synthStack(SPINE);
const template = defaults.template;
const ids = idsOf(defaults.stack);

describe('API', () => {
  it('is a regional, dual-stack REST API', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'], IpAddressType: 'dualstack' },
    });
  });

  it('has the resources /buildkite and /buildkite/{urlToken}, and no others', () => {
    template.resourceCountIs('AWS::ApiGateway::Resource', 2);
    template.hasResourceProperties('AWS::ApiGateway::Resource', {
      PathPart: 'buildkite',
      ParentId: getAtt(ids.api, 'RootResourceId'),
      RestApiId: ref(ids.api),
    });
    const buildkite = Object.keys(
      template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: 'buildkite' } }),
    )[0];
    template.hasResourceProperties('AWS::ApiGateway::Resource', {
      PathPart: '{urlToken}',
      ParentId: ref(buildkite as string),
    });
  });

  it('has exactly two methods, both POST with an AWS_PROXY integration to the verify function', () => {
    template.resourceCountIs('AWS::ApiGateway::Method', 2);
    template.allResourcesProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RestApiId: ref(ids.api),
      Integration: {
        Type: 'AWS_PROXY',
        IntegrationHttpMethod: 'POST',
        Uri: { 'Fn::Join': ['', Match.arrayWith([getAtt(ids.verify)])] },
      },
    });
    const resourceIds = Object.values(template.findResources('AWS::ApiGateway::Method')).map(
      (method) => method.Properties.ResourceId.Ref,
    );
    const apiResources = Object.keys(template.findResources('AWS::ApiGateway::Resource'));
    expect(resourceIds.sort()).toEqual(apiResources.sort());
  });

  it('lets API Gateway invoke the verify function on both routes only', () => {
    const permissions = template.findResources('AWS::Lambda::Permission', {
      Properties: { FunctionName: getAtt(ids.verify), Principal: 'apigateway.amazonaws.com' },
    });
    const sourceArns = Object.values(permissions).map((p) => joined(p.Properties.SourceArn));
    expect(sourceArns).toHaveLength(2);
    // Scoped to the deployed stage and the two routes (allowTestInvoke: false adds no test-invoke grant).
    const stagePrefix = `\${${JSON.stringify(ref(ids.api))}}/\${${JSON.stringify(ref(ids.stage))}}`;
    expect(sourceArns.map((arn) => arn.slice(arn.indexOf(stagePrefix) + stagePrefix.length)).sort()).toEqual([
      '/POST/buildkite',
      '/POST/buildkite/*',
    ]);
  });

  describe('stage v1', () => {
    it('has X-Ray tracing and the configured throttling, and logs no request data', () => {
      template.resourceCountIs('AWS::ApiGateway::Stage', 1);
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'v1',
        TracingEnabled: true,
        MethodSettings: Match.arrayWith([
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: 1000,
            ThrottlingBurstLimit: 2000,
            DataTraceEnabled: false,
          }),
        ]),
      });
    });

    it('takes throttling limits from the config', () => {
      synthStack({ throttleRateLimit: 7, throttleBurstLimit: 9 }).template.hasResourceProperties(
        'AWS::ApiGateway::Stage',
        {
          MethodSettings: Match.arrayWith([
            Match.objectLike({ ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 }),
          ]),
        },
      );
    });

    it('writes JSON access logs with the resource path, never the raw path (it may hold a token)', () => {
      const format = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        AccessLogSetting: {
          DestinationArn: { 'Fn::Join': ['', Match.arrayWith([ref(ids.accessLogs)])] },
          Format: format,
        },
      });
      const text = format.asString();
      expect(text).toContain('$context.resourcePath');
      expect(text).not.toContain('$context.path');
      expect(JSON.parse(text)).toMatchObject({
        requestId: '$context.requestId',
        sourceIp: '$context.identity.sourceIp',
        status: '$context.status',
      });
    });

    it('gets a new deployment when the allowlist changes (a policy change needs one to take effect)', () => {
      const deploymentOf = (t: Template) => Object.keys(t.findResources('AWS::ApiGateway::Deployment'));
      const other = synthStack({ webhookIps: ['203.0.113.0/24'] }).template;
      expect(deploymentOf(template)).toHaveLength(1);
      expect(deploymentOf(other)).toHaveLength(1);
      expect(deploymentOf(other)).not.toEqual(deploymentOf(template));
      other.hasResourceProperties('AWS::ApiGateway::Stage', {
        DeploymentId: ref(deploymentOf(other)[0] as string),
      });
    });
  });

  describe('gateway responses', () => {
    it.each([
      ['ACCESS_DENIED', '403', 'forbidden_source_ip'],
      ['MISSING_AUTHENTICATION_TOKEN', '404', 'not_found'],
      ['RESOURCE_NOT_FOUND', '404', 'not_found'],
      ['REQUEST_TOO_LARGE', '413', 'body_too_large'],
      ['THROTTLED', '429', 'throttled'],
      ['DEFAULT_5XX', '503', 'unavailable'],
    ])('%s answers %s with JSON error %s', (type, statusCode, error) => {
      const body = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        RestApiId: ref(ids.api),
        ResponseType: type,
        StatusCode: statusCode,
        ResponseParameters: { 'gatewayresponse.header.Content-Type': "'application/json'" },
        ResponseTemplates: { 'application/json': body },
      });
      // The same answer the local gateway gives (lambda/shared/gateway-answers.ts).
      expect(JSON.parse(body.asString())).toEqual({
        error,
        message: GATEWAY_ANSWERS[error as GatewayAnswerCode].message,
      });
    });
  });
});

describe('resource policy', () => {
  const policyOf = (t: Template): { Statement: PolicyStatementJson[] } => {
    const api = Object.values(t.findResources('AWS::ApiGateway::RestApi'))[0];
    return api?.Properties.Policy;
  };

  it('allows anyone to invoke, then denies the Buildkite routes to addresses outside the allowlist', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
          },
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: ['execute-api:/*/*/buildkite', 'execute-api:/*/*/buildkite/*'],
            Condition: { NotIpAddress: { 'aws:SourceIp': TEST_WEBHOOK_IPS } },
          }),
        ],
      },
    });
  });

  it('lists the configured addresses, normalised', () => {
    const { template: t } = synthStack({ webhookIps: '198.51.100.7, 2001:DB8::1' });
    const deny = policyOf(t).Statement.find((s) => s.Effect === 'Deny');
    expect(deny?.Condition).toEqual({
      NotIpAddress: { 'aws:SourceIp': ['198.51.100.7/32', '2001:db8::1/128'] },
    });
  });

  it('has no Deny statement with allowAnySourceIp and an empty allowlist', () => {
    const statements = policyOf(synthStack({ allowAnySourceIp: true, webhookIps: [] }).template).Statement;
    expect(statements).toEqual([
      { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*' },
    ]);
  });

  it('has no Deny statement with allowAnySourceIp, even when an allowlist is also set', () => {
    const statements = policyOf(synthStack({ allowAnySourceIp: true }).template).Statement;
    expect(statements.filter((s) => s.Effect === 'Deny')).toEqual([]);
  });
});

describe('request-path alarms (every 5xx is a refused delivery)', () => {
  const alarmOn = (metric: Record<string, unknown>) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...metric,
      Statistic: 'Sum',
      Period: 60,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(ids.topic)],
    });

  it("alarms on the verify function's caught defects (UnexpectedErrors, logged with their stack)", () => {
    alarmOn({
      Namespace: 'kitebridge',
      MetricName: 'UnexpectedErrors',
      Dimensions: [{ Name: 'service', Value: 'verify' }],
    });
  });

  it('alarms on verify function crashes and timeouts (Lambda Errors)', () => {
    alarmOn({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(ids.verify) }],
    });
  });

  it('alarms on any API Gateway 5xx', () => {
    alarmOn({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: Match.anyValue() }],
    });
  });
});

describe('throttled deliveries (each 429 or Lambda throttle is a lost delivery)', () => {
  const alarmOn = (metric: Record<string, unknown>) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...metric,
      Statistic: 'Sum',
      Period: 60,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(ids.topic)],
    });

  it("counts the access log's 429 answers (REST APIs publish no throttle metric)", () => {
    template.resourceCountIs('AWS::Logs::MetricFilter', 1);
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: ref(ids.accessLogs),
      FilterPattern: '{ ($.status = "429") || ($.status = 429) }',
      MetricTransformations: [
        { MetricNamespace: 'kitebridge', MetricName: 'ThrottledRequests', MetricValue: '1' },
      ],
    });
  });

  it('alarms on any 429 the API answered', () => {
    alarmOn({ Namespace: 'kitebridge', MetricName: 'ThrottledRequests' });
  });

  it('alarms on any verify function throttle (Lambda Throttles)', () => {
    alarmOn({
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: ref(ids.verify) }],
    });
  });
});

describe('throttle warning at synth', () => {
  const warning = Match.stringLikeRegexp('would answer 429 to .* of a 1,000-job parallel build');

  it('is silent when the throttle takes a 1,000-job build (the defaults)', () => {
    Annotations.fromStack(defaults.stack).hasNoWarning('*', warning);
  });

  it('warns on the Ingress when the throttle would refuse part of a 1,000-job build', () => {
    const { stack } = synthStack({ ...SPINE, throttleRateLimit: 50, throttleBurstLimit: 100 });
    Annotations.fromStack(stack).hasWarning(
      `/${stack.stackName}/Ingress`,
      Match.stringLikeRegexp('throttleRateLimit 50 / throttleBurstLimit 100 would answer 429'),
    );
  });
});

describe('pointer routing', () => {
  it('gives the verify function the detail paths of the built-in rules on the bus, and only those', () => {
    const { stack, template: t } = synthStack({
      ...SPINE,
      autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
    });
    const verify = t.toJSON().Resources[logicalIdOf(stack.ingress.verify)].Properties.Environment.Variables;
    // The autoscaler's queue filter; the tail rule and the spine match on source alone.
    expect(JSON.parse(verify.ROUTING_PATHS)).toEqual([
      ['agent', 'meta_data'],
      ['job', 'agent_query_rules'],
    ]);
  });

  it('includes the paths of a consumer added after the ingress was built', () => {
    const built = buildStack();
    built.stack.addConsumer('Late', {
      pattern: { source: ['buildkite'], detail: { build: { meta_data: { team: ['core'] } } } },
      receiver: {
        target: (dlq) =>
          new targets.SqsQueue(new sqs.Queue(built.stack, 'LateInbox'), { deadLetterQueue: dlq }),
      },
    });
    const t = Template.fromStack(built.stack);
    const env =
      t.toJSON().Resources[logicalIdOf(built.stack.ingress.verify)].Properties.Environment.Variables;
    expect(JSON.parse(env.ROUTING_PATHS)).toContainEqual(['build', 'meta_data', 'team']);
  });
});

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

describe('webhook secret', () => {
  it('is generated as JSON with a "token" key', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{}', GenerateStringKey: 'token' }),
    });
  });
});

describe('bus', () => {
  it('is one custom event bus', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
  });

  it('archives every kitebridge event for 30 days by default', () => {
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: getAtt(ids.bus),
      RetentionDays: 30,
      EventPattern: { source: ['buildkite', 'kitebridge.trigger'] },
    });
  });

  it('archives for archiveRetentionDays', () => {
    synthStack({ archiveRetentionDays: 7 }).template.hasResourceProperties('AWS::Events::Archive', {
      RetentionDays: 7,
    });
  });

  it('archives forever with archiveRetentionDays 0 (no retention set; CloudFormation reads 0 as indefinite)', () => {
    const archives = synthStack({ archiveRetentionDays: 0 }).template.findResources('AWS::Events::Archive');
    const archive = Object.values(archives)[0];
    expect(archive?.Properties.SourceArn).toBeDefined();
    // The Archive L2 renders an unset retention as 0, which CloudFormation documents as "retain indefinitely".
    expect([undefined, 0]).toContain(archive?.Properties.RetentionDays);
  });
});

describe('spool', () => {
  it('is an SSE-SQS encrypted queue that moves poison messages to a dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.spoolDeadLetters), maxReceiveCount: Match.anyValue() },
    });
    expect(template.toJSON().Resources[ids.spool].Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(ids.spoolDeadLetters),
      maxReceiveCount: expect.any(Number),
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: Match.absent(),
    });
  });

  it.each([
    ['spool', () => ids.spool],
    ['spool dead-letter queue', () => ids.spoolDeadLetters],
  ])('the %s refuses requests without TLS', (_name, id) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(id())],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('is drained by redrive, which reports partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(ids.spool),
      FunctionName: ref(ids.redrive),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('has a visibility timeout at least six times the redrive timeout (AWS guidance for SQS sources)', () => {
    const resources = template.toJSON().Resources;
    const visibility = resources[ids.spool].Properties.VisibilityTimeout as number;
    const timeout = resources[ids.redrive].Properties.Timeout as number;
    expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('alarms on the first message in its dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.spoolDeadLetters, 'QueueName') }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      AlarmActions: [ref(ids.topic)],
    });
  });

  it('alarms when messages wait in it too long', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.spool, 'QueueName') }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: Match.anyValue(),
      AlarmActions: [ref(ids.topic)],
    });
  });
});

describe('oversized-body bucket', () => {
  it('is encrypted, private and owner-enforced', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('expires objects after 30 days by default', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 30, Status: 'Enabled' }] },
    });
  });

  it('expires objects after oversizedRetentionDays', () => {
    synthStack({ oversizedRetentionDays: 90 }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
    });
  });

  it('follows archiveRetentionDays when oversizedRetentionDays is unset, so archived pointers stay readable', () => {
    synthStack({ archiveRetentionDays: 7 }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 7, Status: 'Enabled' }] },
    });
  });

  it('keeps objects forever with oversizedRetentionDays 0', () => {
    synthStack({ oversizedRetentionDays: 0 }).template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: Match.anyValue(),
      LifecycleConfiguration: Match.absent(),
    });
  });

  it('denies every request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(ids.bucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [getAtt(ids.bucket), { 'Fn::Join': ['', [getAtt(ids.bucket), '/*']] }],
          },
        ]),
      },
    });
  });
});

describe('event tail', () => {
  it('copies every kitebridge event into a log group by default', () => {
    expect(ids.tailLogs).toBeDefined();
    const tailLogs = ids.tailLogs as string;
    const targetsCapture = new Capture();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: ref(ids.bus),
      EventPattern: { source: ['buildkite', 'kitebridge.trigger'] },
      Targets: targetsCapture,
    });
    const ruleTargets = targetsCapture.asArray();
    expect(ruleTargets).toHaveLength(1);
    expect(joined(ruleTargets[0].Arn)).toMatch(/^arn:/);
    expect(joined(ruleTargets[0].Arn).endsWith(`:log-group:\${${JSON.stringify(ref(tailLogs))}}`)).toBe(true);
  });

  it('lets EventBridge write to the tail log group through its resource policy', () => {
    const tailLogs = ids.tailLogs as string;
    const document = new Capture();
    template.resourceCountIs('AWS::Logs::ResourcePolicy', 1);
    template.hasResourceProperties('AWS::Logs::ResourcePolicy', { PolicyDocument: document });
    const policy = JSON.parse(
      joined(document.asObject()).replace(`\${${JSON.stringify(getAtt(tailLogs))}}`, 'TAIL_LOG_GROUP_ARN'),
    );
    expect(policy.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: 'TAIL_LOG_GROUP_ARN',
      },
    ]);
  });

  it('is absent with tailEvents false', () => {
    const { stack, template: t } = synthStack({ ...SPINE, tailEvents: false });
    expect(stack.bus.tailLogGroup).toBeUndefined();
    t.resourceCountIs('AWS::Events::Rule', 0);
    t.resourceCountIs('AWS::Logs::ResourcePolicy', 0);
    // Only the two functions' log groups and the access logs remain.
    t.resourceCountIs('AWS::Logs::LogGroup', 3);
    expect(t.findOutputs('TailLogGroup')).toEqual({});
  });

  it.each([
    ['default', {}],
    ['tailEvents false', { tailEvents: false }],
    ['with an alarm email', { alarmEmail: 'ops@example.com' }],
  ])('needs no custom resources (%s)', (_name, overrides) => {
    const types = Object.values(synthStack(overrides).template.toJSON().Resources).map(
      (r) => (r as { Type: string }).Type,
    );
    expect(
      types.filter((type) => type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource'),
    ).toEqual([]);
  });
});

describe('alarm topic', () => {
  it('is one SNS topic that requires TLS', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(ids.topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('has no subscription without alarmEmail', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('subscribes alarmEmail', () => {
    const { stack, template: t } = synthStack({ alarmEmail: 'ops@example.com' });
    t.resourceCountIs('AWS::SNS::Subscription', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: ref(logicalIdOf(stack.alarms.topic)),
    });
  });

  it('receives both ALARM and OK from every alarm', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: [ref(ids.topic)], OKActions: [ref(ids.topic)] });
    }
  });
});

describe('outputs', () => {
  const valueOf = (key: string) => joined(template.findOutputs(key)[key]?.Value ?? '');
  const stage = JSON.stringify(ref(ids.stage));

  it('WebhookUrl is the /buildkite route of stage v1', () => {
    expect(valueOf('WebhookUrl')).toMatch(/^https:\/\//);
    expect(valueOf('WebhookUrl').endsWith(`/\${${stage}}/buildkite`)).toBe(true);
    expect(valueOf('WebhookUrl')).toContain(JSON.stringify(ref(ids.api)));
  });

  it('PathTokenUrl is the WebhookUrl plus /<token>', () => {
    expect(valueOf('PathTokenUrl')).toBe(`${valueOf('WebhookUrl')}/<token>`);
  });

  it.each([
    ['WebhookSecretArn', () => ref(ids.secret)],
    ['EventBusName', () => ref(ids.bus)],
    ['ArchiveName', () => ref(ids.archive)],
    ['TailLogGroup', () => ref(ids.tailLogs as string)],
  ])('%s', (key, value) => {
    template.hasOutput(key, { Value: value(), Description: Match.stringLikeRegexp('\\S') });
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

/** A stack with a consumer function on failed builds; `props` go to addConsumer. */
function consumerStack(props: Partial<Parameters<KitebridgeStack['addConsumer']>[1]> = {}) {
  const { app, stack } = buildStack(SPINE);
  const fn = new lambda.Function(stack, 'ConsumerFunction', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  const consumer = stack.addConsumer('MyConsumer', {
    pattern: {
      source: ['buildkite'],
      'detail-type': ['build.finished'],
      detail: { build: { state: ['failed'] } },
    },
    receiver: { function: fn },
    ...props,
  });
  return { app, stack, fn, consumer, template: Template.fromStack(stack) };
}

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
