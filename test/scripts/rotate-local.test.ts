/**
 * `npm run rotate -- --local` and `npm run token -- --local`: the rotation function's four steps on
 * npm start's webhook secret (the end-to-end run over HTTP is test/e2e/local-rotation.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseSecretTokens } from '../../lambda/verify/tokens';
import { LocalSecretStore } from '../../local/adapters/local-secret-store';
import {
  defaultLocalGraceMs,
  describeLocalStatus,
  parseLocalGrace,
  RotateError,
  rotateLocal,
  rotateMain,
} from '../../scripts/rotate';
import { tokenMain } from '../../scripts/token';
import { FakeClock, MemoryWebhook } from '../lambda/webhook-rotation/support';

const T0 = Date.parse('2026-12-06T12:00:00Z');
let dataDir: string;
let clock: FakeClock;
let store: LocalSecretStore;
let said: string[];

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-rotate-local-'));
  clock = new FakeClock(T0);
  store = new LocalSecretStore(dataDir, { now: clock.now });
  store.reset('old-token', 10);
  said = [];
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs a command's main with console output captured. */
async function run(main: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  const error = jest.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
  try {
    return { code: await main(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('rotateLocal', () => {
  it('runs the four steps on the local secret: Buildkite gets the new token after the cache, the old one expires after the grace', async () => {
    const webhook = new MemoryWebhook(clock.now, 'old-token');
    await rotateLocal({
      store,
      webhook,
      clock,
      generateToken: () => 'new-token',
      say: (l) => void said.push(l),
    });

    expect(webhook.patches).toEqual([{ at: T0 + 15_000, token: 'new-token' }]); // 10 s cache + 5 s margin
    expect(store.currentToken()).toBe('new-token');
    expect(store.pendingVersion()).toBeUndefined();
    const grace = defaultLocalGraceMs(10_000);
    expect(parseSecretTokens(store.currentValue(), T0 + 15_000 + grace - 1)).toEqual([
      'new-token',
      'old-token',
    ]);
    expect(parseSecretTokens(store.currentValue(), T0 + 15_000 + grace)).toEqual(['new-token']);
    expect(said.filter((l) => l.startsWith('Step '))).toHaveLength(4);
    expect(said.join('\n')).not.toMatch(/old-token|new-token/);
  });

  it('a failed step names the fix and keeps the old token accepted; running it again resumes the same rotation', async () => {
    const webhook = new MemoryWebhook(clock.now, 'old-token');
    const failing = {
      ...webhook,
      find: () => webhook.find(),
      setToken: async () => Promise.reject(new Error('503')),
    };
    const error = await rotateLocal({
      store,
      webhook: failing,
      clock,
      generateToken: () => 'new-token',
      say: () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotateError);
    expect((error as Error).message).toMatch(
      /^setSecret failed: 503\n.*npm run rotate -- --local again to resume/,
    );
    const pending = store.pendingVersion();
    expect(pending).toBeDefined();
    expect(parseSecretTokens(store.currentValue(), clock.now())).toContain('old-token');
    expect(describeLocalStatus(store, clock.now())).toMatch(/^A rotation is in progress .*resumes it/);

    const version = await rotateLocal({
      store,
      webhook,
      clock,
      generateToken: () => 'other',
      say: (l) => void said.push(l),
    });
    expect(version).toBe(pending);
    expect(said[0]).toBe(`Resuming the rotation in progress (version ${pending}).`);
    expect(webhook.service.settings.token).toBe('new-token');
    expect(describeLocalStatus(store, clock.now())).toMatch(
      /^No rotation in progress; last rotated .*accepted until/,
    );
  });
});

describe('parseLocalGrace', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('%s is %i ms', (text, ms) => expect(parseLocalGrace(text, 10_000)).toBe(ms));

  it.each(['15s', '0m', '2 minutes', ''])('refuses %j, naming the least it takes', (text) =>
    expect(() => parseLocalGrace(text, 10_000)).toThrow(/longer than 15 s/),
  );
});

describe('the --local command lines', () => {
  it('rotate --local without a Buildkite API names the variable and the stub', async () => {
    const result = await run(() => rotateMain(['--local'], { KITEBRIDGE_DATA_DIR: dataDir }));
    expect(result).toMatchObject({
      code: 1,
      err: expect.stringMatching(/BUILDKITE_API_URL .*npm run buildkite-stub/),
    });
    expect(store.pendingVersion()).toBeUndefined();
  });

  it('rotate --local refuses the deployed flags, and --grace without --local', async () => {
    const env = { KITEBRIDGE_DATA_DIR: dataDir };
    expect(await run(() => rotateMain(['--local', '--wait'], env))).toMatchObject({
      code: 1,
      err: /--wait and --stack/,
    });
    expect(await run(() => rotateMain(['--grace', '5m'], env))).toMatchObject({
      code: 1,
      err: /--grace goes with --local/,
    });
  });

  it('rotate --local --status and token --local read the data folder', async () => {
    const env = { KITEBRIDGE_DATA_DIR: dataDir };
    expect(await run(() => rotateMain(['--local', '--status'], env))).toMatchObject({
      code: 0,
      out: 'No rotation in progress; not rotated since npm start; it accepts one token.',
    });
    expect(await run(() => tokenMain(['--local'], env))).toEqual({ code: 0, out: 'old-token', err: '' });
    expect(await run(() => tokenMain(['--local', '--new'], env))).toMatchObject({
      code: 2,
      err: /npm run rotate -- --local/,
    });
    const empty = { KITEBRIDGE_DATA_DIR: path.join(dataDir, 'nothing-here') };
    expect(await run(() => tokenMain(['--local'], empty))).toMatchObject({
      code: 1,
      err: /start kitebridge with npm start/,
    });
  });
});
