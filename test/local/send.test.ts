import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { computeSignature, verifySignature } from '../../lambda/verify/signature';
import { ConfigError } from '../../lib/config';
import {
  buildRequest,
  DEV_TOKEN_PATH,
  describeFailure,
  githubEventFor,
  hintForAnswer,
  parseArgs,
  PROJECT_ROOT,
  readEvent,
  send,
  type SendOptions,
  UsageError,
} from '../../local/send';

const FIXTURES = path.join(PROJECT_ROOT, 'fixtures', 'buildkite');
const fixture = (event: string) => path.join(FIXTURES, `${event}.json`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-send-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Parses with an empty project root (no dev token) unless the test provides one. */
function parse(argv: string[], env: NodeJS.ProcessEnv = {}, projectRoot = tmp): SendOptions {
  return parseArgs(argv, env, { projectRoot, fixturesDir: FIXTURES, cwd: tmp });
}

function options(overrides: Partial<SendOptions> = {}): SendOptions {
  return {
    file: 'body.json',
    url: 'http://127.0.0.1:8787/buildkite',
    mode: 'token',
    token: 'secret-token-123',
    tokenSource: '--token',
    timeoutMs: 10_000,
    ...overrides,
  };
}

describe('parseArgs', () => {
  it.each([
    [
      'an event name, default URL',
      ['build.finished', '--token', 't1'],
      {},
      { file: fixture('build.finished'), url: 'http://127.0.0.1:8787/buildkite', mode: 'token', token: 't1' },
    ],
    [
      'PORT moves the default URL',
      ['ping', '--token', 't1'],
      { PORT: '9999' },
      { url: 'http://127.0.0.1:9999/buildkite' },
    ],
    [
      '--url for a deployed endpoint',
      ['ping', '--url', 'https://abc.execute-api.us-east-1.amazonaws.com/v1/buildkite', '--token', 't1'],
      {},
      { url: 'https://abc.execute-api.us-east-1.amazonaws.com/v1/buildkite' },
    ],
    ['--token', ['ping', '--token', 't1'], {}, { mode: 'token', token: 't1', tokenSource: '--token' }],
    [
      '--signature with --flag=value',
      ['ping', '--signature=s1'],
      {},
      { mode: 'signature', token: 's1', tokenSource: '--signature' },
    ],
    [
      '--signature with --timestamp',
      ['ping', '--signature', 's1', '--timestamp', '1619071700'],
      {},
      { mode: 'signature', timestamp: '1619071700' },
    ],
    [
      '--path-token',
      ['--path-token', 'p1', 'ping'],
      {},
      { mode: 'path-token', token: 'p1', tokenSource: '--path-token' },
    ],
    [
      'KITEBRIDGE_TOKEN when no flag',
      ['ping'],
      { KITEBRIDGE_TOKEN: 'env-token' },
      { mode: 'token', token: 'env-token', tokenSource: 'KITEBRIDGE_TOKEN' },
    ],
    [
      'a flag over KITEBRIDGE_TOKEN',
      ['ping', '--signature', 's1'],
      { KITEBRIDGE_TOKEN: 'env-token' },
      { mode: 'signature', token: 's1' },
    ],
  ])('%s', (_name, argv, env, expected) => {
    const parsed = parse(argv, env);
    expect(parsed).toMatchObject(expected);
    expect(parsed.timeoutMs).toBe(10_000);
  });

  it('takes a JSON file path relative to the working directory', () => {
    writeFileSync(path.join(tmp, 'mine.json'), '{"event":"ping"}');
    mkdirSync(path.join(tmp, 'bodies'));
    writeFileSync(path.join(tmp, 'bodies', 'other'), '{"event":"ping"}');

    expect(parse(['mine.json', '--token', 't']).file).toBe(path.join(tmp, 'mine.json'));
    expect(parse(['./bodies/other', '--token', 't']).file).toBe(path.join(tmp, 'bodies', 'other'));
    expect(parse([fixture('ping'), '--token', 't']).file).toBe(fixture('ping'));
  });

  it('falls back to the dev-token file the local gateway writes', () => {
    mkdirSync(path.join(tmp, '.local-data'));
    writeFileSync(path.join(tmp, DEV_TOKEN_PATH), 'dev-token-from-file\n');

    const parsed = parse(['ping']);

    expect(parsed).toMatchObject({
      mode: 'token',
      token: 'dev-token-from-file',
      tokenSource: path.join(tmp, '.local-data', 'dev-token'),
    });
    expect(parse(['ping'], { KITEBRIDGE_TOKEN: 'env-token' }).token).toBe('env-token');
  });

  it('reads the dev token from KITEBRIDGE_DATA_DIR, as npm start writes it there', () => {
    mkdirSync(path.join(tmp, 'kb-data'));
    writeFileSync(path.join(tmp, 'kb-data', 'dev-token'), 'token-in-custom-dir\n');
    mkdirSync(path.join(tmp, '.local-data'));
    writeFileSync(path.join(tmp, DEV_TOKEN_PATH), 'token-in-default-dir\n');

    // Relative to where the command was typed, like npm start; absolute as printed by its banner.
    for (const dir of ['kb-data', path.join(tmp, 'kb-data')]) {
      expect(parse(['ping'], { KITEBRIDGE_DATA_DIR: dir })).toMatchObject({
        token: 'token-in-custom-dir',
        tokenSource: path.join(tmp, 'kb-data', 'dev-token'),
      });
    }
    expect(() => parse(['ping'], { KITEBRIDGE_DATA_DIR: path.join(tmp, 'elsewhere') })).toThrow(
      new RegExp(`No token in ${path.join(tmp, 'elsewhere', 'dev-token')}.*KITEBRIDGE_DATA_DIR`, 's'),
    );
  });

  it.each([
    ['', /PORT is set but empty/],
    ['abc', /PORT=abc is not a port number.*PORT=8787 npm run send/],
    ['70000', /PORT=70000 is not a port number/],
  ])('refuses PORT=%j with what to do instead (no URL is guessed)', (port, message) => {
    const error = catchError(() => parse(['ping', '--token', 't'], { PORT: port }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(message);
  });

  it('ignores PORT when --url says where to send', () => {
    expect(
      parse(['ping', '--token', 't', '--url', 'http://127.0.0.1:1/buildkite'], { PORT: 'abc' }).url,
    ).toBe('http://127.0.0.1:1/buildkite');
  });

  it('says to start the gateway or pass --token when there is no token anywhere', () => {
    mkdirSync(path.join(tmp, '.local-data'));
    writeFileSync(path.join(tmp, DEV_TOKEN_PATH), '  \n');

    expect(() => parse(['ping'], { KITEBRIDGE_TOKEN: '' })).toThrow(/npm start.*--token/s);
  });

  it('lists the available events for an unknown event name', () => {
    const error = catchError(() => parse(['build.exploded', '--token', 't']));

    expect(error.message).toContain('Unknown event "build.exploded"');
    for (const event of ['build.finished', 'ping', 'job.started', 'agent.connected']) {
      expect(error.message).toContain(`\n  ${event}`);
    }
  });

  it.each([
    ['no argument', [], /Missing the event name.*Usage:/s],
    ['only options', ['--token', 't'], /Missing the event name.*Usage:/s],
    [
      '--token and --signature',
      ['ping', '--token', 'a', '--signature', 'b'],
      /only one of --token, --signature/,
    ],
    ['--token and --path-token', ['ping', '--path-token', 'a', '--token', 'b'], /only one of/],
    ['all three', ['ping', '--token', 'a', '--signature', 'b', '--path-token', 'c'], /only one of/],
    ['a repeated flag', ['ping', '--token', 'a', '--token', 'b'], /--token given more than once/],
    ['a flag without value', ['ping', '--token'], /--token needs a value/],
    ['a flag followed by a flag', ['ping', '--url', '--token', 't'], /--url needs a value/],
    ['an empty value', ['ping', '--token='], /--token needs a value/],
    ['an unknown option', ['ping', '--tokn', 't'], /Unknown option --tokn.*Usage:/s],
    ['two positionals', ['ping', 'build.finished', '--token', 't'], /Unexpected argument build.finished/],
    ['a bad URL', ['ping', '--token', 't', '--url', 'not a url'], /--url is not a URL/],
    ['a non-http URL', ['ping', '--token', 't', '--url', 'ftp://x/buildkite'], /--url must be http or https/],
    [
      '--timestamp without --signature',
      ['ping', '--token', 't', '--timestamp', '1'],
      /only with --signature/,
    ],
    ['a non-numeric --timestamp', ['ping', '--signature', 't', '--timestamp', 'soon'], /unix seconds/],
    ['a missing file', ['nowhere.json', '--token', 't'], /No such file: .*nowhere\.json/],
  ])('rejects %s', (_name, argv, message) => {
    const error = catchError(() => parse(argv, { KITEBRIDGE_TOKEN: 'env-token' }));

    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(message);
  });

  it('answers --help with the usage, marked as help', () => {
    const error = catchError(() => parse(['ping', '--help']));

    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).help).toBe(true);
    expect(error.message).toMatch(/^Usage: npm run send -- <event-name\|path\/to\/body.json>/);
  });
});

describe('buildRequest', () => {
  // Odd spacing, key order, unicode and a trailing newline: any re-serialisation would change the bytes.
  const body = Buffer.from('{ "zeta": 1,\n  "event" : "build.finished", "msg": "caf\u00e9 \u2713" }\n');
  const now = new Date('2026-11-23T12:00:00.750Z');

  it('signs the exact bytes with the send time, verifiable with computeSignature', () => {
    const request = buildRequest(options({ mode: 'signature', token: 'sig-token' }), body, now);

    const header = request.headers['X-Buildkite-Signature'] ?? '';
    const match = /^timestamp=(\d+),signature=([0-9a-f]{64})$/.exec(header);
    expect(match).not.toBeNull();
    expect(match?.[1]).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(match?.[2]).toBe(computeSignature('sig-token', match?.[1] ?? '', body));
    expect(verifySignature(header, request.body, ['sig-token'], now, 300)).toMatchObject({ ok: true });
    expect(request.body).toBe(body);
    expect(request.headers['X-Buildkite-Token']).toBeUndefined();
    expect(request.url).toBe('http://127.0.0.1:8787/buildkite');
  });

  it('uses a fixed --timestamp and matches the reference test vector', () => {
    const request = buildRequest(
      options({ mode: 'signature', token: 'my-webhook-token', timestamp: '1619071700' }),
      Buffer.from('{"event":"ping"}'),
      now,
    );

    expect(request.headers['X-Buildkite-Signature']).toBe(
      'timestamp=1619071700,signature=db7dd8a446d9035de73a55191643c0808f30df22970089f2e14f826658a97198',
    );
  });

  it('sends the token in X-Buildkite-Token in token mode', () => {
    const request = buildRequest(options({ mode: 'token', token: 'tok-1' }), body, now);

    expect(request.url).toBe('http://127.0.0.1:8787/buildkite');
    expect(request.headers['X-Buildkite-Token']).toBe('tok-1');
    expect(request.headers['X-Buildkite-Signature']).toBeUndefined();
  });

  it.each([
    ['http://127.0.0.1:8787/buildkite', 'a/b c?d', 'http://127.0.0.1:8787/buildkite/a%2Fb%20c%3Fd'],
    ['https://abc.example/v1/buildkite/', 'tok', 'https://abc.example/v1/buildkite/tok'],
    ['https://abc.example/v1/buildkite?x=1', 'tok', 'https://abc.example/v1/buildkite/tok?x=1'],
  ])('puts the token in the path of %s with no auth header', (url, token, expected) => {
    const request = buildRequest(options({ mode: 'path-token', url, token }), body, now);

    expect(request.url).toBe(expected);
    const names = Object.keys(request.headers).map((name) => name.toLowerCase());
    expect(names).not.toContain('x-buildkite-token');
    expect(names).not.toContain('x-buildkite-signature');
    expect(JSON.stringify(request.headers)).not.toContain(token);
  });

  it("sends Buildkite's other headers, with a fresh request id each time", () => {
    const first = buildRequest(options(), body, now);
    const second = buildRequest(options(), body, now);

    expect(first.headers).toMatchObject({
      'Content-Type': 'application/json',
      'User-Agent': 'Buildkite-Request',
      'X-Buildkite-Event': 'build.finished',
    });
    expect(first.headers['X-Buildkite-Request']).toMatch(UUID);
    expect(second.headers['X-Buildkite-Request']).not.toBe(first.headers['X-Buildkite-Request']);
  });

  it.each([
    ['not JSON', '{"event":', /not valid JSON/],
    ['an array', '[{"event":"ping"}]', /must hold a JSON object/],
    ['null', 'null', /must hold a JSON object/],
    ['no event', '{"build":{}}', /no string "event" field/],
    ['a numeric event', '{"event":42}', /no string "event" field/],
    ['an empty event', '{"event":""}', /no string "event" field/],
  ])('refuses a body that is %s', (_name, text, message) => {
    expect(() => buildRequest(options({ file: 'x.json' }), Buffer.from(text), now)).toThrow(message);
    expect(() => readEvent(Buffer.from(text), 'x.json')).toThrow(/^x\.json /);
  });

  it('accepts every fixture', () => {
    for (const event of ['build.finished', 'ping', 'job.started', 'package.created']) {
      expect(readEvent(readFileSync(fixture(event)))).toBe(event);
    }
  });
});

describe('hints', () => {
  it('points a 401 at the token source without showing the token', () => {
    const opts = options({ token: 'do-not-print-me', tokenSource: 'KITEBRIDGE_TOKEN' });
    const hint = hintForAnswer(401, '{"error":"invalid_token","message":"x"}', opts) ?? '';

    expect(hint).toContain('check the token');
    expect(hint).toContain('KITEBRIDGE_TOKEN');
    expect(hint).toContain(DEV_TOKEN_PATH);
    expect(hint).not.toContain('do-not-print-me');
  });

  it.each([
    [401, '{"error":"signature_expired"}', /timestamp is outside the replay window/],
    [403, '{"error":"forbidden_source_ip","message":"x"}', /your IP isn't in the endpoint's allowlist/],
    [404, '{"error":"not_found"}', /should end in \/buildkite/],
  ])('explains %d %s', (status, body, hint) => {
    expect(hintForAnswer(status, body, options())).toMatch(hint);
  });

  it.each([
    [202, '{"id":"x","status":"published"}'],
    [403, '{"message":"Forbidden"}'],
    [503, 'not json'],
  ])('gives no hint for %d %s', (status, body) => {
    expect(hintForAnswer(status, body, options())).toBeUndefined();
  });
});

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  rawHeaderNames: string[];
  body: Buffer;
}

/** A real HTTP server on 127.0.0.1: records each request and answers 202 for `good-token`, else 401. */
async function startServer(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        rawHeaderNames: request.rawHeaders.filter((_value, i) => i % 2 === 0),
        body,
      });
      const signature = request.headers['x-buildkite-signature'];
      const ok =
        request.headers['x-buildkite-token'] === 'good-token' ||
        request.url === '/buildkite/good%2Ftoken' ||
        (typeof signature === 'string' &&
          verifySignature(signature, body, ['good-token'], new Date(), 300).ok);
      const answer = ok
        ? { status: 202, body: { id: 'evt-1', status: 'published' } }
        : { status: 401, body: { error: 'invalid_token', message: 'The token does not match.' } };
      response.writeHead(answer.status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/buildkite`,
    received,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

describe('send against a local HTTP server', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeEach(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('delivers the fixture byte for byte with token-mode headers and returns the answer', async () => {
    const opts = parse(['build.finished', '--url', server.url, '--token', 'good-token']);

    const answer = await send(opts);

    expect(answer).toEqual({ status: 202, body: '{"id":"evt-1","status":"published"}' });
    expect(server.received).toHaveLength(1);
    const [request] = server.received as [Received];
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/buildkite');
    expect(request.body.equals(readFileSync(fixture('build.finished')))).toBe(true);
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Buildkite-Request',
      'x-buildkite-event': 'build.finished',
      'x-buildkite-token': 'good-token',
      'content-length': String(request.body.length),
    });
    expect(request.headers['x-buildkite-request']).toMatch(UUID);
    expect(request.headers['x-buildkite-signature']).toBeUndefined();
  });

  it('sends a signature the server verifies over the bytes it received', async () => {
    const file = path.join(tmp, 'odd.json');
    const bytes = Buffer.from('{"event" :"ping",   "note":"\u00fcnicode \\u00e9"}\r\n');
    writeFileSync(file, bytes);

    const answer = await send(parse([file, '--url', server.url, '--signature', 'good-token']));

    expect(answer.status).toBe(202);
    const [request] = server.received as [Received];
    expect(request.body.equals(bytes)).toBe(true);
    expect(request.headers['x-buildkite-signature']).toMatch(/^timestamp=\d+,signature=[0-9a-f]{64}$/);
    expect(request.headers['x-buildkite-token']).toBeUndefined();
    expect(request.headers['x-buildkite-event']).toBe('ping');
  });

  it('puts a path token in the URL and sends no auth header', async () => {
    const answer = await send(parse(['ping', '--url', server.url, '--path-token', 'good/token']));

    expect(answer.status).toBe(202);
    const [request] = server.received as [Received];
    expect(request.url).toBe('/buildkite/good%2Ftoken');
    const names = request.rawHeaderNames.map((name) => name.toLowerCase());
    expect(names).not.toContain('x-buildkite-token');
    expect(names).not.toContain('x-buildkite-signature');
  });

  it('returns a 401 answer as status and body', async () => {
    const answer = await send(parse(['ping', '--url', server.url, '--token', 'wrong-token']));

    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toEqual({ error: 'invalid_token', message: 'The token does not match.' });
  });
});

describe('send failures', () => {
  it('reports a refused connection with a hint to start the gateway', async () => {
    const { url, close } = await startServer();
    await close();
    const opts = options({ url, file: fixture('ping') });

    const error = await send(opts).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(describeFailure(error, opts)).toMatch(
      /Connection refused by http:\/\/127\.0\.0\.1:\d+\. .*npm start/,
    );
  });

  it('gives up after the timeout', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent = http.createServer(() => undefined);
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const opts = options({
      url: `http://127.0.0.1:${port}/buildkite`,
      file: fixture('ping'),
      timeoutMs: 200,
    });

    try {
      const error = await send(opts).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(describeFailure(error, opts)).toMatch(/No answer from http:\/\/127\.0\.0\.1:\d+ within 0\.2 s/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('the command line', () => {
  const run = promisify(execFile);
  const cli = async (args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, INIT_CWD: PROJECT_ROOT };
    delete env.KITEBRIDGE_TOKEN;
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'local/send.ts', ...args], {
        cwd: PROJECT_ROOT,
        env,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('prints the status and pretty JSON and exits 0 on 2xx, never showing the token', async () => {
    const result = await cli(['ping', '--url', server.url, '--signature', 'good-token']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('HTTP 202');
    expect(result.stdout).toContain('{\n  "id": "evt-1",\n  "status": "published"\n}');
    expect(result.stdout + result.stderr).not.toContain('good-token');
    expect(result.stdout + result.stderr).not.toMatch(/[0-9a-f]{64}/);
  });

  it('exits 1 with a hint on 401, never showing the token', async () => {
    const result = await cli(['ping', '--url', server.url, '--path-token', 'wrong-token-value']);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('HTTP 401');
    expect(result.stderr).toMatch(/Hint: check the token \(this one came from --path-token\)/);
    expect(result.stdout + result.stderr).not.toContain('wrong-token-value');
  });

  it('exits 1 with a clear message for a body without an event', async () => {
    const file = path.join(tmp, 'no-event.json');
    writeFileSync(file, '{"build":{}}');

    const result = await cli([file, '--url', server.url, '--token', 'good-token']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has no string "event" field');
  });

  it('prints the usage on --help and exits 0', async () => {
    const result = await cli(['--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: npm run send --/);
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('--trigger', () => {
  const TRIGGERS = [
    { name: 'github-deploy', kind: 'github' as const },
    { name: 'svix-app', kind: 'standard-webhooks' as const },
  ];
  const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const NOW = new Date('2026-11-23T12:00:00.000Z');
  const parseTrigger = (argv: string[]) =>
    parseArgs(argv, {}, { projectRoot: PROJECT_ROOT, cwd: tmp, triggers: TRIGGERS });

  it('signs a standard-webhooks request as the Standard Webhooks reference library would', () => {
    const opts = parseTrigger(['standard-webhooks-deployment', '--trigger', 'svix-app', '--token', WHSEC]);
    const body = readFileSync(opts.file);
    const request = buildRequest(opts, body, NOW);
    const id = request.headers['webhook-id'] as string;
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(request.headers['webhook-timestamp']).toBe(String(NOW.getTime() / 1000));
    // The independent implementation, at the same id and time, produces the same header.
    expect(request.headers['webhook-signature']).toBe(new Webhook(WHSEC).sign(id, NOW, body));
    expect(request.body).toBe(body);
    expect(request.url).toBe('http://127.0.0.1:8787/triggers/svix-app');
  });

  it('refuses a standard-webhooks secret that is not whsec_<base64> or base64, before sending', () => {
    expect(() =>
      parseTrigger(['standard-webhooks-deployment', '--trigger', 'svix-app', '--token', 'not base64!']),
    ).toThrow(/svix-app is standard-webhooks: its secret \(from --token\) must be whsec_<base64> or base64/);
  });

  it.each([
    ['github-ping', 'ping'],
    ['github-pull_request', 'pull_request'],
  ])('sends the %s fixture with X-GitHub-Event: %s', (fixtureName, event) => {
    const opts = parseTrigger([fixtureName, '--trigger', 'github-deploy', '--token', 'gh-secret']);
    expect(buildRequest(opts, readFileSync(opts.file), NOW).headers['X-GitHub-Event']).toBe(event);
  });

  it.each([
    ['/tmp/github-ping.json', 'ping'],
    ['/tmp/merged.json', 'pull_request'],
    ['/tmp/github-ping.json.bak', 'pull_request'],
  ])('githubEventFor(%s) is %s', (file, event) => {
    expect(githubEventFor(file)).toBe(event);
  });

  it('hints at the trigger secret, not the Buildkite webhook secret, on 401 and 404', () => {
    const opts = parseTrigger(['github-ping', '--trigger', 'github-deploy', '--token', 'gh-secret']);
    expect(hintForAnswer(401, '{"error":"invalid_signature"}', opts)).toMatch(/Trigger<Name>SecretArn/);
    expect(hintForAnswer(401, '{"error":"invalid_signature"}', opts)).not.toMatch(/WebhookSecretArn/);
    expect(hintForAnswer(404, '{"error":"unknown_trigger"}', opts)).toMatch(/no trigger named github-deploy/);
  });

  describe('without triggers given: those of <projectRoot>/cdk.json, through the local config loader', () => {
    const parseWithCdkJson = (context: unknown, triggerName: string) => {
      writeFileSync(
        path.join(tmp, 'cdk.json'),
        JSON.stringify({ app: 'npx tsx bin/kitebridge.ts', context }),
      );
      const body = path.join(tmp, 'body.json');
      writeFileSync(body, '{"zen":"Keep it logically awesome."}');
      return parseArgs(
        [body, '--trigger', triggerName, '--token', 'gh-secret'],
        {},
        { projectRoot: tmp, cwd: tmp },
      );
    };

    it('finds a configured trigger', () => {
      const opts = parseWithCdkJson(
        { triggers: [{ name: 'github-deploy', kind: 'github' }] },
        'github-deploy',
      );
      expect(opts.url).toBe('http://127.0.0.1:8787/triggers/github-deploy');
      expect(opts.trigger).toMatchObject({ name: 'github-deploy', kind: 'github' });
    });

    it('names the configured triggers when the one asked for is not there', () => {
      expect(() =>
        parseWithCdkJson({ triggers: [{ name: 'github-deploy', kind: 'github' }] }, 'svix-app'),
      ).toThrow(/No trigger named svix-app in cdk.json's "triggers" \(configured: github-deploy\)/);
    });

    it('fails with the ConfigError the local gateway would give for a cdk.json it refuses', () => {
      const error = catchError(() =>
        parseWithCdkJson({ triggers: [{ name: 'github-deploy', kind: 'gitlab' }] }, 'github-deploy'),
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/Invalid kitebridge configuration:[\s\S]*triggers\[0\]/);
      expect(error.message).toContain(path.join(tmp, 'cdk.json'));
    });
  });
});
