import { BUILDKITE_ROUTES, matchRoute, ROUTES, triggerPath } from '../../../lambda/shared/routes';

describe('routes', () => {
  it.each<[string, ReturnType<typeof matchRoute>]>([
    ['/buildkite', { resource: '/buildkite', pathParameters: null }],
    ['/buildkite/abc', { resource: '/buildkite/{urlToken}', pathParameters: { urlToken: 'abc' } }],
    ['/buildkite/a%20b', { resource: '/buildkite/{urlToken}', pathParameters: { urlToken: 'a b' } }],
    ['/triggers/github-deploy', { resource: '/triggers/{name}', pathParameters: { name: 'github-deploy' } }],
    ['/buildkite/', undefined],
    ['/buildkite/a/b', undefined],
    ['/buildkite/%E0%A4%A', undefined],
    ['/triggers', undefined],
    ['/triggers/', undefined],
    ['//buildkite', undefined],
    ['/', undefined],
    ['/elsewhere', undefined],
  ])('%s → %j', (pathname, expected) => {
    expect(matchRoute(pathname)).toEqual(expected);
  });

  it('the Buildkite routes as resource-policy paths', () => {
    expect(BUILDKITE_ROUTES).toEqual(['buildkite', 'buildkite/*']);
  });

  it('a trigger path is its route with the name filled in', () => {
    expect(triggerPath('github-deploy')).toBe('/triggers/github-deploy');
    expect(matchRoute(triggerPath('x'))).toEqual({ resource: ROUTES.trigger, pathParameters: { name: 'x' } });
  });
});
