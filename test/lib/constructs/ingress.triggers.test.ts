import { Match } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../../lib/config';
import { synthStack } from '../helpers';
import { API_ARN, deployedPolicy, outcome, ROUTES } from '../policy-simulation';

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

describe('trigger config (validated at synth)', () => {
  const ALLOWLIST = { webhookIps: ['192.0.2.0/24'] };

  it('accepts a standard-webhooks trigger, with a filter and a source-IP list', () => {
    const config = parseConfig({
      ...ALLOWLIST,
      triggers: [
        {
          name: 'svix-app',
          kind: 'standard-webhooks',
          sourceIps: ['44.228.126.217'],
          filter: { type: ['deployment.approved'] },
        },
      ],
    });
    expect(config.triggers).toEqual([
      {
        name: 'svix-app',
        kind: 'standard-webhooks',
        sourceIps: ['44.228.126.217/32'],
        filter: { type: ['deployment.approved'] },
      },
    ]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'an unknown kind',
      { name: 'x', kind: 'svix' },
      /triggers\[0\]\.kind must be one of github, linear, hmac-sha256, token, standard-webhooks/,
    ],
    [
      'a header on a standard-webhooks trigger',
      { name: 'x', kind: 'standard-webhooks', header: 'svix-signature' },
      /triggers\[0\]\.header is fixed for kind standard-webhooks; remove it/,
    ],
    [
      'an encoding on a standard-webhooks trigger',
      { name: 'x', kind: 'standard-webhooks', encoding: 'base64' },
      /triggers\[0\]\.encoding applies to kind hmac-sha256 only/,
    ],
    [
      'an hmac-sha256 trigger reading webhook-signature',
      { name: 'x', kind: 'hmac-sha256', header: 'Webhook-Signature', encoding: 'base64' },
      /triggers\[0\]\.header "Webhook-Signature" carries a Standard Webhooks signature .*use kind standard-webhooks/,
    ],
    [
      'a token trigger reading svix-signature',
      { name: 'x', kind: 'token', header: 'svix-signature' },
      /triggers\[0\]\.header "svix-signature" carries a Standard Webhooks signature/,
    ],
    [
      'a token trigger reading webhook-id (copied onto events)',
      { name: 'x', kind: 'token', header: 'webhook-id' },
      /triggers\[0\]\.header "webhook-id" is copied onto events as an identifying header/,
    ],
  ])('rejects %s', (_name, trigger, message) => {
    expect(() => parseConfig({ ...ALLOWLIST, triggers: [trigger] })).toThrow(message);
  });
});

describe('a standard-webhooks trigger in the stack', () => {
  const { template } = synthStack({ triggers: [{ name: 'svix-app', kind: 'standard-webhooks' }] });

  it('passes its kind (and no header) to the verify function', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { TRIGGERS: Match.anyValue() } } },
    });
    const triggers = JSON.stringify(Object.values(fns)[0]?.Properties.Environment.Variables.TRIGGERS);
    expect(triggers).toContain('\\"kind\\":\\"standard-webhooks\\"');
    expect(triggers).not.toContain('header');
  });

  it('serves it at POST /triggers/svix-app', () => {
    expect(Object.keys(template.findOutputs('TriggerSvixAppUrl'))).toEqual(['TriggerSvixAppUrl']);
  });
});
