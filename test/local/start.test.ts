import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../lib/config';
import { relayQueueFolder } from '../../local/consumers/trigger-relay';
import { PROJECT_ROOT } from '../../local/local-env';
import { lockFile } from '../../local/server';
import {
  banner,
  describeListenError,
  runLocal,
  START_USAGE,
  StartError,
  type RunningLocal,
} from '../../local/start';

/** A valid config (the allowlist is what a local start adds to cdk.json's) plus `context`. */
const config = (context: Record<string, unknown>) =>
  parseConfig({ webhookIps: ['127.0.0.1/32'], ...context });
const fixture = (name: string) =>
  readFileSync(path.join(PROJECT_ROOT, 'fixtures', 'buildkite', `${name}.json`));

let tmp: string;
const running: RunningLocal[] = [];
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-start-'));
});
afterEach(async () => {
  for (const local of running.splice(0)) await local.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A cdk.json in the temporary folder with this context. */
function cdkJson(context: Record<string, unknown>): string {
  const file = path.join(tmp, 'cdk.json');
  writeFileSync(file, JSON.stringify({ app: 'x', context: { webhookIps: [], ...context } }));
  return file;
}

/** Runs `npm start` in this process; its terminal lines are collected, and waited on by pattern. */
async function start(env: NodeJS.ProcessEnv, cdkJsonPath?: string) {
  const lines: string[] = [];
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  const local = await runLocal({
    argv: [],
    env: { PORT: '0', ...env },
    ...(cdkJsonPath ? { cdkJsonPath } : {}),
    print: (line) => {
      lines.push(line);
      for (const watcher of watchers.filter((w) => w.pattern.test(line))) watcher.resolve();
    },
  });
  if (!local) throw new Error('runLocal printed the usage');
  running.push(local);
  const printed = (pattern: RegExp) =>
    lines.some((line) => pattern.test(line))
      ? Promise.resolve()
      : new Promise<void>((resolve) => watchers.push({ pattern, resolve }));
  /** Stops it as Ctrl+C does. */
  const stop = async () => {
    running.splice(running.indexOf(local), 1);
    await local.stop();
  };
  return { local, lines, printed, stop };
}

function post(url: string, body: Buffer, headers: Record<string, string>) {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
}

/** The StartError `fn` rejects with; fails the test when it resolves or rejects with something else. */
async function startError(fn: () => Promise<unknown>): Promise<StartError> {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StartError);
  return error as StartError;
}

describe('the banner', () => {
  const local = { url: 'http://127.0.0.1:9000', token: 'tok' };
  const examples = (text: string) => text.split('\n').filter((line) => line.includes('npm run send'));

  it('prints send commands without variables when none is set', () => {
    const text = banner({
      config: config({}),
      local,
      dataDir: '/p/.local-data',
      env: {},
      chatUrl: false,
    });
    expect(examples(text)).toEqual([
      '  npm run send -- build.finished',
      '  npm run send -- job.finished --signature tok',
    ]);
  });

  it('carries PORT and KITEBRIDGE_DATA_DIR into every printed command when they are set', () => {
    const text = banner({
      config: config({ triggers: [{ name: 'gh', kind: 'github' }] }),
      local,
      dataDir: '/tmp/kb data',
      env: { PORT: '9000', KITEBRIDGE_DATA_DIR: 'kb data' },
      chatUrl: false,
    });
    expect(examples(text)).toEqual([
      "  PORT=9000 KITEBRIDGE_DATA_DIR='/tmp/kb data' npm run send -- build.finished",
      "  PORT=9000 KITEBRIDGE_DATA_DIR='/tmp/kb data' npm run send -- job.finished --signature tok",
      "  PORT=9000 KITEBRIDGE_DATA_DIR='/tmp/kb data' npm run send -- github-pull_request --trigger gh",
    ]);
    expect(text).toContain(
      "records in /tmp/kb data/analytics/records.jsonl (KITEBRIDGE_DATA_DIR='/tmp/kb data' npm run report)",
    );
  });

  it('adds --url when the gateway listens where 127.0.0.1 does not reach it', () => {
    const text = banner({
      config: config({}),
      local: { url: 'http://[::1]:9000', token: 'tok' },
      dataDir: '/d',
      env: { HOST: '::1' },
      chatUrl: false,
    });
    expect(examples(text)[0]).toBe('  npm run send -- build.finished --url http://[::1]:9000/buildkite');
    const wildcard = banner({
      config: config({}),
      local: { url: 'http://0.0.0.0:9000', token: 'tok' },
      dataDir: '/d',
      env: { HOST: '0.0.0.0' },
      chatUrl: false,
    });
    expect(examples(wildcard)[0]).toBe('  npm run send -- build.finished');
    expect(wildcard).toContain('Webhook URL      http://127.0.0.1:9000/buildkite');
  });

  it('lists one URL per trigger and which consumers are on', () => {
    const text = banner({
      config: config({
        triggers: [
          { name: 'github-deploy', kind: 'github' },
          { name: 'pagerduty', kind: 'token' },
        ],
        autoscaler: { org: 'acme', queues: [{ queue: 'linux', max: 2 }] },
        chatAlerts: { destinations: [{ name: 'ci', service: 'slack' }] },
      }),
      local,
      dataDir: '/d',
      env: { KITEBRIDGE_TRIGGER_URL_PAGERDUTY: 'https://example.test/x' },
      chatUrl: true,
    });
    expect(text).toMatch(
      /Trigger URLs +http:\/\/127\.0\.0\.1:9000\/triggers\/github-deploy +\(github; dry run: set KITEBRIDGE_TRIGGER_URL_GITHUB_DEPLOY to relay\)\n +http:\/\/127\.0\.0\.1:9000\/triggers\/pagerduty +\(token; relays to \$KITEBRIDGE_TRIGGER_URL_PAGERDUTY\)/,
    );
    expect(text).not.toContain('https://example.test/x');
    expect(text).toMatch(/^ {2}chat alerts +on +posted to the webhook in KITEBRIDGE_CHAT_URL$/m);
    expect(text).toMatch(/1 destination\(s\) from "chatAlerts" in cdk\.json/);
    expect(text).toMatch(/^ {2}analytics +on +records in \/d\/analytics\/records\.jsonl/m);
    expect(text).toMatch(/^ {2}autoscaler +on +dry run .* for linux$/m);
    expect(text).toMatch(/^ {2}trigger relay +on +paced at 300\/h \(burst 1\)/m);
    expect(text).toContain('npm run send -- pagerduty-incident --trigger pagerduty');
  });

  it('says how to turn on what is off: the cdk.json key', () => {
    const text = banner({ config: config({}), local, dataDir: '/d', env: {}, chatUrl: false });
    expect(text).toMatch(/Trigger URLs +none: add "triggers" to the context of cdk\.json/);
    expect(text).toMatch(
      /^ {2}autoscaler +off +add "autoscaler" to the context of cdk\.json to turn it on$/m,
    );
    expect(text).toMatch(
      /^ {2}trigger relay +off +add "triggers" to the context of cdk\.json to turn it on$/m,
    );
    expect(text).toMatch(/^ {2}chat alerts +on +printed here \(set KITEBRIDGE_CHAT_URL to post them/m);
  });

  it('shows analytics off, and how to turn it on, with "analytics": false', () => {
    const text = banner({
      config: config({ analytics: false }),
      local,
      dataDir: '/d',
      env: {},
      chatUrl: false,
    });
    expect(text).toMatch(/^ {2}analytics +off +remove "analytics": false from cdk\.json to record events$/m);
    expect(text).not.toContain('records.jsonl');
  });
});

describe('describeListenError', () => {
  const at = { host: '127.0.0.1', port: 8787, env: {}, dataDir: '/d' };
  const error = (code: string) => Object.assign(new Error(`listen ${code}`), { code, syscall: 'listen' });

  it.each([
    [
      'EADDRINUSE',
      /^Port 8787 on 127\.0\.0\.1 is already in use: another kitebridge may be running on that port.*\nTo run this one on another port: PORT=8788 npm start$/s,
    ],
    ['EACCES', /^Not allowed to listen on port 8787 .*PORT=8788 npm start$/],
    ['EADDRNOTAVAIL', /^Cannot listen on HOST=127\.0\.0\.1: it is not an address of this machine/],
    ['ENOTFOUND', /^Cannot listen on HOST=127\.0\.0\.1/],
  ])('%s says what is wrong and what to do', (code, message) => {
    expect(describeListenError(error(code), at)).toMatch(message);
  });

  it('keeps the data folder in the suggested command, and leaves other errors alone', () => {
    expect(
      describeListenError(error('EADDRINUSE'), {
        ...at,
        env: { KITEBRIDGE_DATA_DIR: 'x' },
        dataDir: '/abs/x',
      }),
    ).toMatch(/PORT=8788 KITEBRIDGE_DATA_DIR=\/abs\/x npm start$/);
    expect(describeListenError(error('EMFILE'), at)).toBeUndefined();
    const fsError = Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'mkdir', path: '/d' });
    expect(describeListenError(fsError, at)).toBeUndefined();
  });
});

describe('npm start (in process)', () => {
  it('prints the usage for --help and refuses other arguments', async () => {
    const lines: string[] = [];
    await expect(
      runLocal({ argv: ['--help'], env: {}, print: (l) => lines.push(l) }),
    ).resolves.toBeUndefined();
    expect(lines).toEqual([START_USAGE]);
    for (const name of ['PORT', 'HOST', 'KITEBRIDGE_TOKEN', 'KITEBRIDGE_DATA_DIR', 'KITEBRIDGE_CHAT_URL']) {
      expect(START_USAGE).toMatch(new RegExp(`^ {2}${name} `, 'm'));
    }
    const error = await startError(() =>
      runLocal({ argv: ['--port', '9000'], env: {}, print: () => undefined }),
    );
    expect(error.message).toMatch(/^npm start takes no arguments \(got --port\).*PORT=9000 npm start/);
  });

  it('writes nothing when the port is taken: the running kitebridge keeps its token', async () => {
    const dataDir = path.join(tmp, 'data');
    const first = await start({ KITEBRIDGE_DATA_DIR: dataDir });
    const token = readFileSync(path.join(dataDir, 'dev-token'), 'utf8');
    const { port } = new URL(first.local.url);
    const otherDir = path.join(tmp, 'other');

    const error = await startError(() =>
      runLocal({ argv: [], env: { PORT: port, KITEBRIDGE_DATA_DIR: otherDir }, print: () => undefined }),
    );
    expect(error.message).toMatch(new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 is already in use`));
    expect(existsSync(otherDir)).toBe(false);

    // The same port and the same folder: refused before anything is written, too.
    await startError(() =>
      runLocal({ argv: [], env: { PORT: port, KITEBRIDGE_DATA_DIR: dataDir }, print: () => undefined }),
    );
    expect(readFileSync(path.join(dataDir, 'dev-token'), 'utf8')).toBe(token);
    const answer = await post(`${first.local.url}/buildkite`, fixture('ping'), {
      'X-Buildkite-Event': 'ping',
      'X-Buildkite-Token': token.trim(),
    });
    expect(answer.status).toBe(202);
  });

  it('refuses a second kitebridge on the same data folder, on another port, leaving the first one its token', async () => {
    const dataDir = path.join(tmp, 'data');
    await start({ KITEBRIDGE_DATA_DIR: dataDir });
    const before = readdirSync(dataDir).map((name) => [name, readFileSync(path.join(dataDir, name), 'utf8')]);

    const error = await startError(() => start({ KITEBRIDGE_DATA_DIR: dataDir }));
    expect(error.message).toMatch(
      new RegExp(
        `^Another kitebridge \\(pid ${process.pid}, http://127\\.0\\.0\\.1:\\d+\\) is running with the data folder ${dataDir}`,
      ),
    );
    expect(error.message).toContain(
      `run this one with its own folder: PORT=0 KITEBRIDGE_DATA_DIR=${dataDir}-2 npm start`,
    );
    expect(
      readdirSync(dataDir).map((name) => [name, readFileSync(path.join(dataDir, name), 'utf8')]),
    ).toEqual(before);
  });

  it('says which data folder it cannot write, without a stack trace', async () => {
    writeFileSync(path.join(tmp, 'a-file'), '');
    const dataDir = path.join(tmp, 'a-file', 'data');
    const error = await startError(() => start({ KITEBRIDGE_DATA_DIR: dataDir }));
    expect(error.message).toBe(
      `Cannot write the data folder ${dataDir} (ENOTDIR on ${dataDir}). Set KITEBRIDGE_DATA_DIR to a folder you can write.`,
    );
  });

  it('takes over a lock left by a kitebridge that did not stop cleanly', async () => {
    const dataDir = path.join(tmp, 'data');
    mkdirSync(dataDir);
    // A pid no process has: the kernel's pid_max is at most 2^22.
    writeFileSync(lockFile(dataDir), JSON.stringify({ pid: 2 ** 22 + 1, url: 'http://x', startedAt: '' }));
    const { stop } = await start({ KITEBRIDGE_DATA_DIR: dataDir });
    expect(JSON.parse(readFileSync(lockFile(dataDir), 'utf8'))).toMatchObject({ pid: process.pid });
    await stop();
    expect(existsSync(lockFile(dataDir))).toBe(false);
  });

  it('keeps trigger requests still waiting for pacing at a stop, and resumes them at the next start', async () => {
    const dataDir = path.join(tmp, 'data');
    const config = cdkJson({
      triggers: [{ name: 'pagerduty', kind: 'token' }],
      triggerRatePerHour: 1,
      triggerBurst: 1,
    });
    const first = await start({ KITEBRIDGE_DATA_DIR: dataDir }, config);
    for (const n of [1, 2]) {
      const answer = await post(`${first.local.url}/triggers/pagerduty`, Buffer.from(JSON.stringify({ n })), {
        'X-Trigger-Token': first.local.token,
      });
      expect(answer.status).toBe(202);
    }
    await first.printed(/dry run: nothing sent to Buildkite/);
    await first.printed(/Over the trigger rate; waiting in the queue/);
    await first.stop();
    expect(first.lines).toContainEqual(
      `[trigger-relay] kept 1 request(s) still waiting to be relayed in ${relayQueueFolder(dataDir)}; the next start relays them`,
    );
    expect(readFileSync(path.join(relayQueueFolder(dataDir), 'queue.json'), 'utf8')).toContain('\\"n\\":2');

    const second = await start({ KITEBRIDGE_DATA_DIR: dataDir }, config);
    expect(second.lines).toContainEqual(
      expect.stringMatching(/^\[trigger-relay\] resumed 1 request\(s\) accepted before the last stop/),
    );
    await second.stop();
    expect(second.lines).toContainEqual(expect.stringMatching(/kept 1 request\(s\) still waiting/));
  });

  it('says so in the terminal when dedupe holds back a chat alert already posted', async () => {
    const { local, lines, stop } = await start({ KITEBRIDGE_DATA_DIR: path.join(tmp, 'data') });
    const body = fixture('build.finished');
    for (let i = 0; i < 2; i++) {
      const answer = await post(`${local.url}/buildkite`, body, {
        'X-Buildkite-Event': 'build.finished',
        'X-Buildkite-Token': local.token,
      });
      expect(answer.status).toBe(202);
    }
    await stop(); // drains the bus: both deliveries have been handled
    expect(lines.filter((line) => line.startsWith('[chat-alerts → local (slack)]'))).toHaveLength(1);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\[chat-alerts\] Duplicate: alert already posted, not sent again \{"kind":"build\.failed"/,
      ),
    );
  });

  it('logs each alert posted to KITEBRIDGE_CHAT_URL with the status the webhook answered', async () => {
    const received: string[] = [];
    const chat: Server = createServer((request, response) => {
      request.on('data', (chunk: Buffer) => received.push(chunk.toString()));
      request.on('end', () => response.writeHead(200).end('ok'));
    });
    await new Promise<void>((resolve) => chat.listen(0, '127.0.0.1', resolve));
    try {
      const chatUrl = `http://127.0.0.1:${(chat.address() as AddressInfo).port}/hook`;
      const { local, lines, stop } = await start({
        KITEBRIDGE_DATA_DIR: path.join(tmp, 'data'),
        KITEBRIDGE_CHAT_URL: chatUrl,
      });
      await post(`${local.url}/buildkite`, fixture('build.finished'), {
        'X-Buildkite-Event': 'build.finished',
        'X-Buildkite-Token': local.token,
      });
      await stop();
      expect(received).not.toEqual([]);
      expect(lines).toContainEqual('[chat-alerts] POST to KITEBRIDGE_CHAT_URL: 200 OK');
      expect(lines).toContainEqual(
        expect.stringMatching(/^\[chat-alerts\] Posted to the chat webhook \{"kind":"build\.failed"/),
      );
      expect(lines.join('\n')).not.toContain(chatUrl);
    } finally {
      chat.closeAllConnections();
      await new Promise((resolve) => chat.close(resolve));
    }
  });
});
