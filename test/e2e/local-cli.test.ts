/**
 * `npm start` and `npm run send` as a person runs them: separate processes, configured by
 * environment variables, talking over real HTTP. Every wait is on output or exit, never a timer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../local/local-env';

/** The environment of a fresh terminal: none of the variables npm start or npm run send read. */
function terminalEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(PORT|HOST|INIT_CWD|KITEBRIDGE_.*)$/.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

interface Run {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly err: () => string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Resolves once stdout matches; rejects if the process exits first. */
  readonly printed: (pattern: RegExp) => Promise<RegExpMatchArray>;
}

const children: ChildProcess[] = [];

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  const watchers: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const watcher of watchers) watcher();
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const printed = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(out);
        if (match) resolve(match);
      };
      watchers.push(check);
      check();
      void exited.then((code) =>
        reject(new Error(`exited with ${code} before printing ${pattern}:\n${out}\n${err}`)),
      );
    });
  return { child, out: () => out, err: () => err, exited, printed };
}

const npmStart = (env: NodeJS.ProcessEnv, args: string[] = []) =>
  run(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], terminalEnv(env));

/** A Node stack frame: none may reach the person at the terminal for these errors. */
const STACK_FRAME = /^\s+at .+[:(]\d+/m;

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-cli-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

describe('npm start and npm run send, from two terminals', () => {
  it('prints a send command that, run as printed in another terminal, reaches this server', async () => {
    const dataDir = path.join(tmp, 'kb data');
    const server = npmStart({ PORT: '0', KITEBRIDGE_DATA_DIR: dataDir });
    await server.printed(/Press Ctrl\+C to stop\./);
    const [, command] = (await server.printed(/^ {2}(.*npm run send -- build\.finished)$/m)) as string[];
    expect(command).toMatch(/^PORT=\d+ KITEBRIDGE_DATA_DIR='.+\/kb data' npm run send -- build\.finished$/);

    const send = run('sh', ['-c', command as string], terminalEnv());
    expect(await send.exited).toBe(0);
    expect(send.out()).toContain('HTTP 202');
    await server.printed(/^\[bus\] \S+ buildkite build\.finished pipeline=deploy-api/m);

    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(existsSync(path.join(dataDir, 'kitebridge.lock'))).toBe(false);
    expect(readFileSync(path.join(dataDir, 'events.jsonl'), 'utf8')).toContain(
      '"detail-type":"build.finished"',
    );
  });

  it('a second npm start on the same data folder stops, and the first keeps its token', async () => {
    const dataDir = path.join(tmp, 'data');
    const first = npmStart({ PORT: '0', KITEBRIDGE_DATA_DIR: dataDir });
    const [, port] = (await first.printed(/Webhook URL +http:\/\/127\.0\.0\.1:(\d+)\/buildkite/)) as string[];
    const token = readFileSync(path.join(dataDir, 'dev-token'), 'utf8');

    const second = npmStart({ PORT: '0', KITEBRIDGE_DATA_DIR: dataDir });
    expect(await second.exited).toBe(1);
    expect(second.err()).toMatch(/^Another kitebridge \(pid \d+, http:\/\/127\.0\.0\.1:\d+\) is running/);
    expect(second.err()).not.toMatch(STACK_FRAME);
    expect(readFileSync(path.join(dataDir, 'dev-token'), 'utf8')).toBe(token);

    const send = run(
      process.execPath,
      ['--import', 'tsx', 'local/send.ts', 'ping'],
      terminalEnv({ PORT: port, KITEBRIDGE_DATA_DIR: dataDir }),
    );
    expect(await send.exited).toBe(0);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });
});

describe('npm start refuses a bad setup clearly, writing nothing', () => {
  it('a port in use: says another kitebridge may run there and how to choose a port', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as { port: number };
      const dataDir = path.join(tmp, 'data');
      const start = npmStart({ PORT: String(port), KITEBRIDGE_DATA_DIR: dataDir });
      expect(await start.exited).toBe(1);
      expect(start.err()).toMatch(
        new RegExp(
          `^Port ${port} on 127\\.0\\.0\\.1 is already in use: another kitebridge may be running on that port`,
        ),
      );
      expect(start.err()).toMatch(
        new RegExp(`PORT=${port + 1} KITEBRIDGE_DATA_DIR=${dataDir} npm start\\n$`),
      );
      expect(start.err()).not.toMatch(/EADDRINUSE|listen /);
      expect(start.err()).not.toMatch(STACK_FRAME);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it.each([
    ['abc', /^PORT=abc is not a port number/],
    ['70000', /^PORT=70000 is not a port number/],
    ['', /^PORT is set but empty/],
  ])('PORT=%j', async (port, message) => {
    const dataDir = path.join(tmp, 'data');
    const start = npmStart({ PORT: port, KITEBRIDGE_DATA_DIR: dataDir });
    expect(await start.exited).toBe(1);
    expect(start.err()).toMatch(message);
    expect(start.err()).not.toMatch(STACK_FRAME);
    expect(start.out()).toBe('');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('--help prints the usage and exits 0', async () => {
    const start = npmStart({ KITEBRIDGE_DATA_DIR: path.join(tmp, 'data') }, ['--help']);
    expect(await start.exited).toBe(0);
    expect(start.out()).toMatch(/^Usage: npm start/);
    expect(start.out()).toContain('KITEBRIDGE_CHAT_URL');
    expect(existsSync(path.join(tmp, 'data'))).toBe(false);
  });
});
