import { Match } from 'aws-cdk-lib/assertions';
import { synthStack } from './helpers';
import { API_ARN, deployedPolicy, outcome, ROUTES } from './policy-simulation';

const TRIGGERS = [
  { name: 'github-deploy', kind: 'github', sourceIps: ['198.51.100.0/24'] },
  { name: 'pagerduty', kind: 'token', header: 'X-PD-Token' },
];
const triggerRoute = (name: string) => `${API_ARN}/v1/POST/triggers/${name}`;

describe('pipeline-trigger ingress', () => {
  const { template } = synthStack({ triggers: TRIGGERS });

  it('serves POST /triggers/{name} through the verify function', () => {
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'triggers' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{name}' });
    expect(
      Object.keys(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'POST' } })),
    ).toHaveLength(3);
  });

  it('creates one secret per trigger and passes the definitions (never the secrets) to the verify function', () => {
    // The webhook secret, one shared secret per trigger, and (relay) one Buildkite trigger URL per trigger.
    template.resourceCountIs('AWS::SecretsManager::Secret', 5);
    const shared = template.findResources('AWS::SecretsManager::Secret', {
      Properties: { Description: Match.stringLikeRegexp('^kitebridge trigger ') },
    });
    expect(Object.keys(shared)).toHaveLength(2);
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { TRIGGERS: Match.anyValue() } } },
    });
    expect(Object.keys(fns)).toHaveLength(1);
    const triggers = JSON.stringify(Object.values(fns)[0]?.Properties.Environment.Variables.TRIGGERS);
    expect(triggers).toContain('github-deploy');
    expect(triggers).toContain('X-PD-Token');
    expect(triggers).toContain('secretArn');
  });

  it('grants the verify function read on each trigger secret', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    for (const id of ['TriggerSecretGithubDeploy', 'TriggerSecretPagerduty']) {
      expect(policies).toMatch(new RegExp(`"Ref":"Ingress${id}[0-9A-F]{8}"`));
    }
  });

  it('outputs each trigger URL and secret ARN', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'TriggerGithubDeployUrl',
        'TriggerGithubDeploySecretArn',
        'TriggerPagerdutyUrl',
      ]),
    );
  });

  it('has no trigger resources when no trigger is configured', () => {
    const plain = synthStack().template;
    expect(
      Object.keys(plain.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: 'triggers' } })),
    ).toHaveLength(0);
    plain.resourceCountIs('AWS::SecretsManager::Secret', 1);
  });
});

describe('per-trigger source-IP policy (IAM simulation)', () => {
  const policy = deployedPolicy(synthStack({ triggers: TRIGGERS }).template);

  it.each([
    ['github-deploy from its own range', triggerRoute('github-deploy'), '198.51.100.7', 'Allowed'],
    ['github-deploy from elsewhere', triggerRoute('github-deploy'), '203.0.113.9', 'ExplicitlyDenied'],
    ["github-deploy from Buildkite's range", triggerRoute('github-deploy'), '192.0.2.10', 'ExplicitlyDenied'],
    ['pagerduty (no list) from anywhere', triggerRoute('pagerduty'), '203.0.113.9', 'Allowed'],
    [
      'Buildkite route still only from Buildkite',
      ROUTES['POST /buildkite'],
      '198.51.100.7',
      'ExplicitlyDenied',
    ],
    ['Buildkite route from Buildkite', ROUTES['POST /buildkite'], '192.0.2.10', 'Allowed'],
  ])('%s → %s', async (_name, resource, ip, expected) => {
    expect(await outcome(policy, resource, ip)).toBe(expected);
  });
});
