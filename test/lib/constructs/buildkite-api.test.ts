import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { BUILDKITE_API_OFF_NOTE, BuildkiteApi } from '../../../lib/constructs/buildkite-api';
import { ConfigError, parseConfig } from '../../../lib/config';
import { BUILDKITE_API_TOKEN_PLACEHOLDER } from '../../../lambda/shared/buildkite-rest';
import { logicalIdOf, synthStack, TEST_WEBHOOK_IPS, testApp } from '../helpers';

describe('buildkiteApi configured', () => {
  const { stack, template } = synthStack({ analytics: false, buildkiteApi: { organization: 'acme' } });

  it('creates the API token secret with the placeholder, naming the scopes', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      SecretString: BUILDKITE_API_TOKEN_PLACEHOLDER,
      Description: Match.stringLikeRegexp(
        'organization acme.*read_builds, read_agents, read_notification_services, write_notification_services',
      ),
    });
  });

  it('outputs the secret ARN and the organization under stable keys', () => {
    const secretId = logicalIdOf(stack.buildkiteApi!.secret);
    template.hasOutput('BuildkiteApiTokenSecretArn', { Value: { Ref: secretId } });
    template.hasOutput('BuildkiteOrganization', { Value: 'acme' });
  });

  it('adds a synth note telling where to store the token, and no off note', () => {
    const annotations = Annotations.fromStack(stack);
    annotations.hasInfo('*', Match.stringLikeRegexp('Store a Buildkite API token'));
    expect(annotations.findInfo('*', BUILDKITE_API_OFF_NOTE)).toHaveLength(0);
  });
});

describe('buildkiteApi not configured', () => {
  const { stack, template } = synthStack({ analytics: false });

  it('creates no API token secret or output', () => {
    template.resourcePropertiesCountIs(
      'AWS::SecretsManager::Secret',
      { SecretString: BUILDKITE_API_TOKEN_PLACEHOLDER },
      0,
    );
    expect(Object.keys(template.findOutputs('BuildkiteApiTokenSecretArn'))).toEqual([]);
    expect(stack.buildkiteApi).toBeUndefined();
  });

  it('says at synth that register and rotation are off, and how to turn them on', () => {
    Annotations.fromStack(stack).hasInfo('*', BUILDKITE_API_OFF_NOTE);
    expect(BUILDKITE_API_OFF_NOTE).toContain('"buildkiteApi": {"organization": "<slug>"}');
  });
});

describe('the construct alone', () => {
  it('is cdk-nag clean (the placeholder secret acknowledged for SMG4 with a reason)', () => {
    const stack = new Stack(testApp(), 'Probe');
    new BuildkiteApi(stack, 'BuildkiteApi', { organization: 'acme' });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
    Template.fromStack(stack).resourceCountIs('AWS::SecretsManager::Secret', 1);
  });

  it('rejects an organization that is not a slug, naming the fix', () => {
    const stack = new Stack(testApp(), 'Probe');
    expect(() => new BuildkiteApi(stack, 'BuildkiteApi', { organization: 'Acme Inc' })).toThrow(
      /organization must be the slug from https:\/\/buildkite.com\/<slug>, got "Acme Inc"/,
    );
  });
});

describe('buildkiteApi config', () => {
  const parse = (value: unknown) =>
    parseConfig({ webhookIps: TEST_WEBHOOK_IPS, buildkiteApi: value }).buildkiteApi;
  const problems = (value: unknown) => {
    try {
      parse(value);
    } catch (error) {
      return (error as ConfigError).problems;
    }
    throw new Error('expected a ConfigError');
  };

  it('defaults rotation to every 30 days with a 60-minute grace period', () => {
    expect(parse({ organization: 'acme' })).toEqual({
      organization: 'acme',
      rotationDays: 30,
      rotationGraceMinutes: 60,
    });
  });

  it('reads -c JSON', () => {
    expect(parse('{"organization":"acme","rotationDays":0}')).toMatchObject({ rotationDays: 0 });
  });

  it.each([
    [{}, 'buildkiteApi.organization is missing: add it'],
    [{ organization: 'Acme' }, 'buildkiteApi.organization must be the organization slug'],
    [{ organization: 'acme', rotationDays: 1001 }, 'buildkiteApi.rotationDays must be at most 1000'],
    [
      { organization: 'acme', rotationGraceMinutes: 5 },
      'buildkiteApi.rotationGraceMinutes must be at least 10',
    ],
    [
      { organization: 'acme', org: 'x' },
      'buildkiteApi.org is not a buildkiteApi setting; did you mean "organization"?',
    ],
    [42, 'buildkiteApi must be an object'],
    ['acme', 'buildkiteApi is not valid JSON'],
  ])('%j: %s', (value, message) => {
    expect(problems(value).join('\n')).toContain(message);
  });
});

describe('the whole stack with buildkiteApi', () => {
  it('is cdk-nag clean (AwsSolutions and Serverless)', () => {
    const { stack } = synthStack({ analytics: false, buildkiteApi: { organization: 'acme' } });
    const lines = (report: {
      violations: { ruleName: string; violatingResources: { constructPath?: string }[] }[];
    }) =>
      report.violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`),
      );
    expect(lines(new AwsSolutionsChecks().validateScope(stack))).toEqual([]);
    expect(lines(new ServerlessChecks().validateScope(stack))).toEqual([]);
  });
});
