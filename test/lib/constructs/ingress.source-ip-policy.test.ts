import { synthStack } from '../helpers';
import { deployedPolicy, outcome, ROUTES, simulate } from '../policy-simulation';

const routes = Object.entries(ROUTES);

describe('resource policy with an allowlist (192.0.2.0/24, 2001:db8::/32)', () => {
  const policy = deployedPolicy(synthStack().template);

  const cases: [string, string][] = [
    ['192.0.2.10', 'Allowed'],
    ['192.0.2.255', 'Allowed'],
    ['198.51.100.1', 'ExplicitlyDenied'],
    ['192.0.3.1', 'ExplicitlyDenied'],
    ['2001:db8::1', 'Allowed'],
    ['2001:db8:ffff::1', 'Allowed'],
    ['2001:db9::1', 'ExplicitlyDenied'],
  ];

  it.each(
    routes.flatMap(([name, resource]) => cases.map(([ip, expected]) => [name, ip, expected, resource])),
  )('%s from %s is %s', async (_name, ip, expected, resource) => {
    expect(await outcome(policy, resource as string, ip as string)).toBe(expected);
  });

  it('is evaluated for real: the simulation runs on the single resource and names the deny statement', async () => {
    const denied = await simulate(policy, ROUTES['POST /buildkite'], '198.51.100.1');
    expect(denied.resultType).toBe('single');
    expect(JSON.stringify(denied)).toContain('BuildkiteSourceIpsOnly');
    const allowed = await simulate(policy, ROUTES['POST /buildkite'], '192.0.2.10');
    expect(allowed).toMatchObject({ resultType: 'single', overallResult: 'Allowed' });
  });

  it('without the ARN rewrite nothing is allowed (why the test rewrites it)', async () => {
    const raw = Object.values(synthStack().template.findResources('AWS::ApiGateway::RestApi'))[0]?.Properties
      .Policy;
    expect(await outcome(raw, ROUTES['POST /buildkite'], '192.0.2.10')).not.toBe('Allowed');
  });
});

describe('resource policy with allowAnySourceIp and no allowlist', () => {
  const policy = deployedPolicy(synthStack({ allowAnySourceIp: true, webhookIps: [] }).template);

  it.each(
    routes.flatMap(([name, resource]) => ['198.51.100.1', '2001:db9::1'].map((ip) => [name, ip, resource])),
  )('%s from %s is Allowed', async (_name, ip, resource) => {
    expect(await outcome(policy, resource as string, ip as string)).toBe('Allowed');
  });
});
