import { request } from 'node:http';
import { startBuildkiteStub, type BuildkiteStub } from '../../local/buildkite-stub';

let stub: BuildkiteStub;
beforeAll(async () => {
  stub = await startBuildkiteStub({ organization: 'acme', apiToken: 'stub-token', port: 0 });
  for (let n = 1; n <= 3; n++) {
    stub.state.builds.push({ id: `b-${n}`, number: n, state: 'passed', finished_at: '2026-12-06T11:00:00Z' });
  }
});
afterAll(() => stub.close());

/** A GET sent to the stub's address under another Host name (as `localhost` reaches 127.0.0.1). */
function getWithHost(path: string, host: string): Promise<{ status: number; link?: string }> {
  const target = new URL(stub.url);
  return new Promise((resolve, reject) => {
    request(
      {
        host: target.hostname,
        port: target.port,
        path,
        headers: { Host: host, Authorization: 'Bearer stub-token' },
      },
      (response) => {
        response.resume();
        const link = response.headers.link;
        resolve({ status: response.statusCode ?? 0, ...(typeof link === 'string' ? { link } : {}) });
      },
    )
      .on('error', reject)
      .end();
  });
}

describe('the Buildkite API stub', () => {
  it('names the host the client asked for in its next-page links, as a real server does', async () => {
    const port = new URL(stub.url).port;
    const answer = await getWithHost('/v2/organizations/acme/builds?per_page=2', `localhost:${port}`);
    expect(answer.status).toBe(200);
    expect(answer.link).toBe(
      `<http://localhost:${port}/v2/organizations/acme/builds?per_page=2&page=2>; rel="next"`,
    );
  });
});
