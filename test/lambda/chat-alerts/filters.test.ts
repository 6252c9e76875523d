import { globMatches, passesGlobs, wantsAlert } from '../../../lambda/chat-alerts/filters';
import type { Alert, BuildAlert, BuildRef, Destination } from '../../../lambda/chat-alerts/model';

describe('globMatches', () => {
  it.each([
    ['main', 'main', true],
    ['main', 'mainline', false],
    ['main', 'domain', false],
    ['release/*', 'release/1.2', true],
    ['release/*', 'release/', true],
    ['release/*', 'releases/1.2', false],
    ['*', 'feature/deep/branch', true],
    ['*', '', true],
    ['*', 'line one\nline two', true],
    ['v?', 'v1', true],
    ['v?', 'v12', false],
    ['v?', 'v', false],
    ['web.api', 'web.api', true],
    ['web.api', 'web-api', false],
    ['deploy+', 'deploy+', true],
    ['deploy+', 'deployy', false],
    ['(a|b)', '(a|b)', true],
    ['(a|b)', 'a', false],
    ['[abc]', 'a', false],
    ['$HOME^', '$HOME^', true],
    ['back\\slash', 'back\\slash', true],
  ])('%j matches %j: %s', (glob, value, matches) => {
    expect(globMatches(glob, value)).toBe(matches);
  });
});

describe('passesGlobs', () => {
  const releaseBranches = ['main', 'release/*', '!release/old*'];

  it.each([
    [[], 'anything', true],
    [releaseBranches, 'main', true],
    [releaseBranches, 'release/2.0', true],
    [releaseBranches, 'release/old-1.0', false],
    [releaseBranches, 'feature/x', false],
    [['!wip/*'], 'main', true],
    [['!wip/*'], 'wip/spike', false],
    [['*', '!main'], 'main', false],
    [['!main', '*'], 'main', false],
  ])('%j lets %j through: %s', (globs, value, passes) => {
    expect(passesGlobs(globs, value)).toBe(passes);
  });
});

describe('wantsAlert', () => {
  const build: BuildRef = {
    id: 'b-1',
    number: 42,
    url: 'https://buildkite.com/acme/web/builds/42',
    state: 'failed',
    branch: 'main',
    pipelineSlug: 'web',
    pipelineUrl: 'https://buildkite.com/acme/web',
    commit: 'abc123',
    subject: 'Fix the thing',
  };
  const failed: BuildAlert = { kind: 'build.failed', build, failedJobs: [] };
  const anywhere: Destination = {
    name: 'ci-slack',
    service: 'slack',
    pipelines: [],
    branches: [],
    events: ['build.failed', 'agent.lost'],
  };
  const agentLost: Alert = { kind: 'agent.lost', agent: { name: 'agent-1' } };

  it('wants a subscribed build alert whose pipeline and branch pass', () => {
    expect(wantsAlert({ ...anywhere, pipelines: ['web*'], branches: ['main'] }, failed)).toBe(true);
  });

  it.each([
    ['the kind is not subscribed', { ...anywhere, events: ['build.fixed'] } as Destination],
    ['the pipeline does not match', { ...anywhere, pipelines: ['api'] }],
    ['the pipeline is excluded', { ...anywhere, pipelines: ['*', '!web'] }],
    ['the branch does not match', { ...anywhere, branches: ['release/*'] }],
    ['the build state is not listed', { ...anywhere, buildStates: ['canceled'] }],
  ])('does not want it when %s', (_case, destination) => {
    expect(wantsAlert(destination, failed)).toBe(false);
  });

  it('filters a blocked build on the state "blocked", whatever state the body carries', () => {
    const blocked: BuildAlert = {
      kind: 'build.blocked',
      build: { ...build, state: 'passed' },
      failedJobs: [],
    };
    const destination: Destination = { ...anywhere, events: ['build.blocked'] };
    expect(wantsAlert({ ...destination, buildStates: ['blocked'] }, blocked)).toBe(true);
    expect(wantsAlert({ ...destination, buildStates: ['passed'] }, blocked)).toBe(false);
  });

  it('matches a build without pipeline slug or state only against filters that allow any value', () => {
    const bare: BuildRef = { ...build, pipelineSlug: undefined, state: undefined };
    const alert: BuildAlert = { kind: 'build.failed', build: bare, failedJobs: [] };
    expect(wantsAlert(anywhere, alert)).toBe(true);
    expect(wantsAlert({ ...anywhere, pipelines: ['*'] }, alert)).toBe(true);
    expect(wantsAlert({ ...anywhere, pipelines: ['web'] }, alert)).toBe(false);
    expect(wantsAlert({ ...anywhere, buildStates: ['failed'] }, alert)).toBe(false);
  });

  it('routes alerts without a build by kind alone, ignoring build filters', () => {
    const narrow: Destination = {
      ...anywhere,
      pipelines: ['api'],
      branches: ['release/*'],
      buildStates: ['failed'],
    };
    expect(wantsAlert(narrow, agentLost)).toBe(true);
    expect(wantsAlert({ ...narrow, events: ['build.failed'] }, agentLost)).toBe(false);
  });

  it('sends failed-job follow-ups to destinations subscribed to either failure kind', () => {
    const followUp: Alert = { kind: 'build.failed_jobs', build, failedJobs: [] };
    expect(wantsAlert({ ...anywhere, events: ['build.failed'] }, followUp)).toBe(true);
    expect(wantsAlert({ ...anywhere, events: ['build.still_failing'] }, followUp)).toBe(true);
    expect(wantsAlert({ ...anywhere, events: ['build.fixed', 'agent.lost'] }, followUp)).toBe(false);
  });
});
