import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, parseConfig } from '../../../lib/config';
import { Ingress } from '../../../lib/constructs/ingress';
import { buildStack, logicalIdOf, synthStack, TEST_WEBHOOK_IPS } from '../helpers';

/** Every API Gateway method's integration URI, resolved to its CloudFormation form. */
function integrationUris(template: ReturnType<typeof synthStack>['template']): string[] {
  const methods = template.findResources('AWS::ApiGateway::Method', {
    Properties: { Integration: { Type: 'AWS_PROXY' } },
  });
  return Object.values(methods).map((m) => JSON.stringify(m.Properties.Integration.Uri));
}

describe('verifyProvisionedConcurrency', () => {
  it('is 0 (off) by default', () => {
    expect(parseConfig({ webhookIps: TEST_WEBHOOK_IPS }).verifyProvisionedConcurrency).toBe(0);
  });

  it.each([
    [-1, 'must be at least 0'],
    [1.5, 'must be a whole number'],
    [1001, 'must be at most 1000'],
    ['two', 'must be a number'],
  ])('rejects %p naming the key (%s)', (value, message) => {
    let problems: string[] = [];
    try {
      parseConfig({ webhookIps: TEST_WEBHOOK_IPS, verifyProvisionedConcurrency: value });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems.join('\n')).toContain('verifyProvisionedConcurrency');
    expect(problems.join('\n')).toContain(message);
  });

  it('accepts a number given as a string on the command line', () => {
    expect(
      parseConfig({ webhookIps: TEST_WEBHOOK_IPS, verifyProvisionedConcurrency: '2' })
        .verifyProvisionedConcurrency,
    ).toBe(2);
  });

  describe('off (0)', () => {
    const { stack, template } = synthStack({ verifyProvisionedConcurrency: 0 });

    it('creates no alias, no version and no provisioned concurrency', () => {
      template.resourceCountIs('AWS::Lambda::Alias', 0);
      template.resourceCountIs('AWS::Lambda::Version', 0);
      expect(JSON.stringify(template.toJSON())).not.toContain('ProvisionedConcurrencyConfig');
      expect(stack.ingress.verifyAlias).toBeUndefined();
    });

    it('points every method at the function itself', () => {
      const verifyId = logicalIdOf(stack.ingress.verify);
      const uris = integrationUris(template);
      expect(uris.length).toBeGreaterThan(0);
      for (const uri of uris) {
        expect(uri).toContain(`"${verifyId}","Arn"`);
      }
    });
  });

  describe('on (3)', () => {
    const { stack, template } = synthStack({ verifyProvisionedConcurrency: 3 });

    it('creates a live alias on a published version with 3 provisioned environments', () => {
      template.resourceCountIs('AWS::Lambda::Alias', 1);
      template.hasResourceProperties('AWS::Lambda::Alias', {
        Name: 'live',
        FunctionName: { Ref: logicalIdOf(stack.ingress.verify) },
        FunctionVersion: { 'Fn::GetAtt': [Match.anyValue(), 'Version'] },
        ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 3 },
      });
      template.hasResourceProperties('AWS::Lambda::Version', {
        FunctionName: { Ref: logicalIdOf(stack.ingress.verify) },
      });
    });

    it('points every method at the alias, and lets API Gateway invoke the alias', () => {
      const aliasId = logicalIdOf(stack.ingress.verifyAlias as NonNullable<typeof stack.ingress.verifyAlias>);
      const uris = integrationUris(template);
      expect(uris.length).toBeGreaterThan(0);
      for (const uri of uris) {
        expect(uri).toContain(`{"Ref":"${aliasId}"}`);
        expect(uri).not.toContain(`"${logicalIdOf(stack.ingress.verify)}","Arn"`);
      }
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: { Ref: aliasId },
      });
    });

    it('keeps cdk-nag (AwsSolutions) clean', () => {
      const report = new AwsSolutionsChecks(stack).validateScope(stack);
      expect(report.violations).toEqual([]);
      expect(report.success).toBe(true);
    });
  });

  it('the Ingress construct rejects a negative or fractional value at synth', () => {
    const { stack } = buildStack();
    const { bus, alarms } = stack;
    for (const value of [-1, 0.5]) {
      expect(
        () =>
          new Ingress(stack, `Probe${String(value).replace(/\W/g, '')}`, {
            bus: bus.bus,
            spool: bus.spool,
            oversizedBodies: bus.oversizedBodies,
            routingPaths: bus.routingPaths,
            alarms,
            webhookIps: TEST_WEBHOOK_IPS,
            replayWindowSeconds: 300,
            maxBodyBytes: 1024,
            logRetentionDays: 30,
            throttleRateLimit: 10,
            throttleBurstLimit: 10,
            verifyProvisionedConcurrency: value,
          }),
      ).toThrow(
        /^Ingress: verifyProvisionedConcurrency must be a whole number from 0 to 1000 \(0 is off.*\); got /,
      );
    }
  });
});
