import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { Alarms } from '../../../lib/constructs/alarms';
import {
  ROTATION_PROPAGATION_SECONDS,
  WebhookRotation,
  type WebhookRotationProps,
} from '../../../lib/constructs/webhook-rotation';
import { asList, logicalIdOf, roleOfFunction, statementsOfRole, synthStack, testApp } from '../helpers';

/** The construct in a stack of its own, beside two plain secrets. */
function alone(overrides: Partial<WebhookRotationProps> = {}) {
  const stack = new Stack(testApp(), 'Probe');
  const webhookSecret = new secretsmanager.Secret(stack, 'WebhookSecret');
  const apiTokenSecret = new secretsmanager.Secret(stack, 'ApiToken');
  for (const secret of [webhookSecret, apiTokenSecret]) {
    Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'test secret' });
  }
  const rotation = new WebhookRotation(stack, 'WebhookRotation', {
    webhookSecret,
    apiTokenSecret,
    organization: 'acme',
    webhookUrl: 'https://x.example/v1/buildkite',
    webhookDescription: 'kitebridge (Probe)',
    logRetentionDays: 30,
    alarms: new Alarms(stack, 'Alarms'),
    ...overrides,
  });
  return { stack, rotation, webhookSecret, apiTokenSecret, template: Template.fromStack(stack) };
}

describe('WebhookRotation in the stack (buildkiteApi configured)', () => {
  const { stack, template } = synthStack({ analytics: false, buildkiteApi: { organization: 'acme' } });

  it('schedules the webhook secret for rotation every 30 days, never at deploy time', () => {
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: logicalIdOf(stack.ingress.secret) },
      RotationLambdaARN: { 'Fn::GetAtt': [logicalIdOf(stack.webhookRotation!.function), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('gives the function the webhook URL, organization, description and timings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('rotates the Buildkite webhook token'),
      Timeout: Match.anyValue(),
      Environment: {
        Variables: Match.objectLike({
          BUILDKITE_ORGANIZATION: 'acme',
          WEBHOOK_DESCRIPTION: `kitebridge (${stack.stackName})`,
          WEBHOOK_SECRET_ARN: { Ref: logicalIdOf(stack.ingress.secret) },
          BUILDKITE_API_TOKEN_SECRET_ARN: { Ref: logicalIdOf(stack.buildkiteApi!.secret) },
          PROPAGATION_SECONDS: String(ROTATION_PROPAGATION_SECONDS),
          GRACE_MINUTES: '60',
          WEBHOOK_URL: Match.anyValue(),
        }),
      },
    });
  });

  it('is on the dashboard and has a failure alarm', () => {
    expect(stack.observability.components.map((c) => c.name)).toContain('webhook-rotation');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('webhook token rotation failed'),
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(stack.webhookRotation!.function) } }],
    });
  });
});

describe('WebhookRotation not deployed', () => {
  it('without buildkiteApi there is no rotation schedule or function', () => {
    const { stack, template } = synthStack({ analytics: false });
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    expect(stack.webhookRotation).toBeUndefined();
  });
});

describe('WebhookRotation alone', () => {
  it('rotationDays and graceMinutes reach the schedule and the function', () => {
    const { template } = alone({ rotationDays: 7, graceMinutes: 120 });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(7 days)' },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ GRACE_MINUTES: '120' }) },
    });
  });

  it('rotationDays 0: no automatic schedule, but the function stays attached for npm run rotate', () => {
    const { template } = alone({ rotationDays: 0 });
    const schedules = template.findResources('AWS::SecretsManager::RotationSchedule');
    expect(Object.values(schedules)).toHaveLength(1);
    expect(Object.values(schedules)[0]?.Properties.RotationRules).toBeUndefined();
    expect(Object.values(schedules)[0]?.Properties.RotationLambdaARN).toBeDefined();
  });

  it('waits out the verify cache within its timeout', () => {
    const { template, rotation, stack } = alone();
    const fn = template.toJSON().Resources[logicalIdOf(rotation.function)];
    expect(fn.Properties.Timeout).toBeGreaterThan(ROTATION_PROPAGATION_SECONDS + 60);
    expect(fn.Properties.Timeout).toBeLessThanOrEqual(900);
    expect(stack.resolve(fn.Properties.Environment.Variables.PROPAGATION_SECONDS)).toBe('330');
  });

  it('grants secret actions on the two secrets only (GetRandomPassword, which has no resource, aside)', () => {
    const { template, rotation, webhookSecret, apiTokenSecret } = alone();
    const role = roleOfFunction(template, logicalIdOf(rotation.function));
    const statements = statementsOfRole(template, role).filter((s) =>
      asList(s.Action).some((a) => a.startsWith('secretsmanager:')),
    );
    const webhookRef = { Ref: logicalIdOf(webhookSecret) };
    const apiRef = { Ref: logicalIdOf(apiTokenSecret) };
    const onSecret = (resource: unknown, ref: unknown) =>
      JSON.stringify(resource) === JSON.stringify(ref) ||
      JSON.stringify(resource).includes(JSON.stringify(ref));
    for (const s of statements) {
      const actions = asList(s.Action);
      if (actions.includes('secretsmanager:GetRandomPassword')) {
        // The only secret action on '*' (merged with X-Ray's, which has no resource either).
        expect(actions.filter((a) => a.startsWith('secretsmanager:'))).toEqual([
          'secretsmanager:GetRandomPassword',
        ]);
        continue;
      }
      for (const resource of asList(s.Resource)) {
        expect(onSecret(resource, webhookRef) || onSecret(resource, apiRef)).toBe(true);
      }
      if (asList(s.Resource).some((r) => onSecret(r, apiRef))) {
        expect(
          actions.every((a) =>
            ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'].includes(a),
          ),
        ).toBe(true);
      }
    }
    const writes = statements.filter((s) => asList(s.Action).includes('secretsmanager:PutSecretValue'));
    expect(writes).toHaveLength(1);
    expect(asList(writes[0]!.Action).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
    ]);
    expect(asList(writes[0]!.Resource).every((r) => onSecret(r, webhookRef))).toBe(true);
  });

  it('lets Secrets Manager, and only it, invoke the function', () => {
    const { template, rotation } = alone();
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [logicalIdOf(rotation.function), 'Arn'] },
      Principal: 'secretsmanager.amazonaws.com',
      Action: 'lambda:InvokeFunction',
    });
    template.resourceCountIs('AWS::Lambda::Permission', 1);
  });

  it('is cdk-nag clean (AwsSolutions and Serverless)', () => {
    const { stack } = alone();
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
    const serverless = new ServerlessChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(serverless).toEqual([]);
  });

  it.each([
    [{ rotationDays: -1 }, /rotationDays must be a whole number from 0 \(no schedule\) to 1000, got -1/],
    [{ rotationDays: 1.5 }, /rotationDays must be a whole number/],
    [
      { graceMinutes: 5 },
      /graceMinutes must be a whole number of at least 10 .*5-minute secret cache\), got 5/,
    ],
  ])('rejects %j, naming the bound', (props, message) => {
    expect(() => alone(props)).toThrow(message);
  });
});
