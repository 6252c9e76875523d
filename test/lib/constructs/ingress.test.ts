/** The Ingress construct in the stack's spine: API, stage, gateway answers, resource policy, request-path alarms, webhook secret, outputs. */
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { GATEWAY_ANSWERS, type GatewayAnswerCode } from '../../../lambda/shared/gateway-answers';
import {
  getAtt,
  idsOf,
  joined,
  ref,
  SPINE,
  synthStack,
  TEST_WEBHOOK_IPS,
  type PolicyStatementJson,
  buildStack,
} from '../helpers';
import { Ingress } from '../../../lib/constructs/ingress';

const defaults = synthStack(SPINE);
const template = defaults.template;
const ids = idsOf(defaults.stack);

/** The stack has an alarm on `metric` that fires on the first count in a minute and notifies the alarm topic. */
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

describe('webhook secret', () => {
  it('is generated as JSON with a "token" key', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{}', GenerateStringKey: 'token' }),
    });
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

  it.each([['WebhookSecretArn', () => ref(ids.secret)]])('%s', (key, value) => {
    template.hasOutput(key, { Value: value(), Description: Match.stringLikeRegexp('\\S') });
  });
});

describe('props bounds (checked at synth)', () => {
  const valid = {
    webhookIps: TEST_WEBHOOK_IPS,
    replayWindowSeconds: 300,
    maxBodyBytes: 5_000_000,
    logRetentionDays: 30,
    throttleRateLimit: 1000,
    throttleBurstLimit: 2000,
    verifyProvisionedConcurrency: 0,
  };
  const probe = (overrides: Partial<typeof valid>) => {
    const { stack } = buildStack(SPINE);
    const { bus, alarms } = stack;
    return () =>
      new Ingress(stack, 'Probe', {
        bus: bus.bus,
        spool: bus.spool,
        oversizedBodies: bus.oversizedBodies,
        routingPaths: bus.routingPaths,
        alarms,
        ...valid,
        ...overrides,
      });
  };

  it.each<[string, Partial<typeof valid>, RegExp]>([
    [
      'a replay window of 0',
      { replayWindowSeconds: 0 },
      /^Ingress: replayWindowSeconds must be a whole number from 1 to 3600 \(an hour at most\); got 0\. Pass a value in that range\.$/,
    ],
    [
      'a replay window above an hour',
      { replayWindowSeconds: 3601 },
      /replayWindowSeconds must be a whole number from 1 to 3600/,
    ],
    [
      'a body limit under 1 KiB',
      { maxBodyBytes: 1023 },
      /^Ingress: maxBodyBytes must be a whole number from 1024 to 6291456 \(the body travels in Lambda's 6 MB synchronous payload\); got 1023\./,
    ],
    [
      "a body limit above Lambda's payload",
      { maxBodyBytes: 6_291_457 },
      /maxBodyBytes must be a whole number from 1024 to 6291456/,
    ],
    [
      'a log retention CloudWatch does not offer',
      { logRetentionDays: 2 },
      /^Ingress: logRetentionDays must be one of CloudWatch Logs' retention periods/,
    ],
    [
      'a throttle rate of 0',
      { throttleRateLimit: 0 },
      /^Ingress: throttleRateLimit must be a number from 1 to 10000 \(API Gateway's default account rate per region\); got 0\./,
    ],
    [
      'a throttle rate above the account quota',
      { throttleRateLimit: 10_001 },
      /throttleRateLimit must be a number from 1 to 10000/,
    ],
    [
      'a burst above the account quota',
      { throttleBurstLimit: 5001 },
      /^Ingress: throttleBurstLimit must be a whole number from 1 to 5000 \(API Gateway's default account burst per region\); got 5001\./,
    ],
    ['a fractional burst', { throttleBurstLimit: 1.5 }, /throttleBurstLimit must be a whole number/],
    [
      'provisioned concurrency above the account concurrency',
      { verifyProvisionedConcurrency: 1001 },
      /^Ingress: verifyProvisionedConcurrency must be a whole number from 0 to 1000/,
    ],
  ])('rejects %s, naming the prop, the bound and the fix', (_name, overrides, message) => {
    expect(probe(overrides)).toThrow(message);
  });

  it('accepts the bounds themselves', () => {
    expect(
      probe({
        replayWindowSeconds: 3600,
        maxBodyBytes: 1024,
        logRetentionDays: 1,
        throttleRateLimit: 1,
        throttleBurstLimit: 5000,
        verifyProvisionedConcurrency: 1000,
      }),
    ).not.toThrow();
  });
});
