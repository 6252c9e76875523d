import { BuildkiteAgentChecker } from '../../../lambda/autoscaler/agent-checks';
import { BuildkiteRestClient } from '../../../lambda/shared/buildkite-rest';
import { jsonAnswer, restStandIn } from '../../support/http-server';

const stub = restStandIn();
const json = jsonAnswer;
// A generous timeout: every answer here arrives, so the timeout never races it.
const checker = () =>
  new BuildkiteAgentChecker(
    new BuildkiteRestClient({ token: 'tok-123', baseUrl: stub.baseUrl, timeoutMs: 30_000 }),
    'acme',
  );

describe('BuildkiteAgentChecker against a local HTTP server', () => {
  it('asks for the agent of the organization with the bearer token', async () => {
    stub.answer = json(200, { id: 'agent-1', connection_state: 'connected', job: null });
    expect(await checker().check('agent-1')).toEqual({ kind: 'idle' });
    expect(stub.requests).toEqual([
      { url: '/v2/organizations/acme/agents/agent-1', authorization: 'Bearer tok-123' },
    ]);
  });

  it.each([
    ['connected, no job: idle', 200, { connection_state: 'connected', job: null }, { kind: 'idle' }],
    ['connected, no job field: idle', 200, { connection_state: 'connected' }, { kind: 'idle' }],
    [
      'running a job: busy',
      200,
      { connection_state: 'connected', job: { id: 'job-9', state: 'running' } },
      { kind: 'busy', jobId: 'job-9' },
    ],
    [
      'disconnected: doubt',
      200,
      { connection_state: 'disconnected', job: null },
      { kind: 'doubt', reason: 'agent is disconnected' },
    ],
    ['lost: doubt', 200, { connection_state: 'lost', job: null }, { kind: 'doubt', reason: 'agent is lost' }],
    [
      'an unreadable job: doubt',
      200,
      { connection_state: 'connected', job: 'x' },
      { kind: 'doubt', reason: 'agent lookup gave an unreadable job' },
    ],
    ['not an object: doubt', 200, [], { kind: 'doubt', reason: 'agent lookup answered no agent object' }],
    [
      'unknown agent (404): doubt',
      404,
      { message: 'Not Found' },
      { kind: 'doubt', reason: 'agent lookup failed (not-found)' },
    ],
    [
      'token refused (401): doubt',
      401,
      { message: 'Unauthorized' },
      { kind: 'doubt', reason: 'agent lookup failed (unauthorized)' },
    ],
    [
      'missing read_agents scope (403): doubt',
      403,
      { message: 'Forbidden' },
      { kind: 'doubt', reason: 'agent lookup failed (forbidden)' },
    ],
    [
      'rate limited (429): doubt',
      429,
      { message: 'slow down' },
      { kind: 'doubt', reason: 'agent lookup failed (rate-limited)' },
    ],
    ['Buildkite down (503): doubt', 503, {}, { kind: 'doubt', reason: 'agent lookup failed (server)' }],
  ])('%s', async (_name, status, body, expected) => {
    stub.answer = json(status, body);
    expect(await checker().check('agent-1')).toEqual(expected);
  });

  it('a body that is not JSON: doubt', async () => {
    stub.answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    };
    expect(await checker().check('agent-1')).toEqual({
      kind: 'doubt',
      reason: 'agent lookup failed (unexpected)',
    });
  });

  it('a token that cannot be read (placeholder secret): doubt, and the token never reaches the server', async () => {
    stub.answer = json(200, { connection_state: 'connected', job: null });
    const failing = new BuildkiteAgentChecker(
      new BuildkiteRestClient({
        token: async () => Promise.reject(new Error('placeholder')),
        baseUrl: stub.baseUrl,
      }),
      'acme',
    );
    expect(await failing.check('agent-1')).toEqual({ kind: 'doubt', reason: 'agent lookup failed (error)' });
    expect(stub.requests).toEqual([]);
  });

  it('escapes the agent id in the path', async () => {
    stub.answer = json(200, { connection_state: 'connected', job: null });
    await checker().check('../x?y');
    expect(stub.requests[0]?.url).toBe('/v2/organizations/acme/agents/..%2Fx%3Fy');
  });
});
