/**
 * `npm start` and `npm test` run scripts/ensure-deps.mjs first (prestart/pretest): it installs
 * with `npm ci` when node_modules is missing or older than the lockfile, and is silent otherwise.
 * Each case runs the real script in a scratch project with a stand-in npm that records its call.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import packageJson from '../../package.json';

const SCRIPT = path.join(__dirname, '../../scripts/ensure-deps.mjs');

/** A stand-in for npm: records its arguments and, like `npm ci`, writes node_modules/.package-lock.json. */
const FAKE_NPM = `
const { writeFileSync, mkdirSync, appendFileSync } = require('node:fs');
const path = require('node:path');
appendFileSync(path.join(process.cwd(), 'npm-calls.txt'), process.argv.slice(2).join(' ') + '\\n');
if (process.env.FAKE_NPM_FAIL) process.exit(3);
mkdirSync(path.join(process.cwd(), 'node_modules'), { recursive: true });
writeFileSync(path.join(process.cwd(), 'node_modules', '.package-lock.json'), '{}');
`;

let project: string;
beforeEach(() => {
  project = mkdtempSync(path.join(tmpdir(), 'ensure-deps-'));
  mkdirSync(path.join(project, 'scripts'));
  copyFileSync(SCRIPT, path.join(project, 'scripts', 'ensure-deps.mjs'));
  writeFileSync(path.join(project, 'package-lock.json'), '{}');
  writeFileSync(path.join(project, 'fake-npm.cjs'), FAKE_NPM);
});
afterEach(() => rmSync(project, { recursive: true, force: true }));

function run(env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(project, 'scripts', 'ensure-deps.mjs')], {
    cwd: project,
    env: { PATH: process.env.PATH ?? '', npm_execpath: path.join(project, 'fake-npm.cjs'), ...env },
    encoding: 'utf8',
  });
}
const calls = () =>
  existsSync(path.join(project, 'npm-calls.txt'))
    ? readFileSync(path.join(project, 'npm-calls.txt'), 'utf8')
    : '';
const installedAt = (seconds: number) => {
  mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  const marker = path.join(project, 'node_modules', '.package-lock.json');
  writeFileSync(marker, '{}');
  utimesSync(marker, seconds, seconds);
};
const lockedAt = (seconds: number) => utimesSync(path.join(project, 'package-lock.json'), seconds, seconds);

describe('ensure-deps (prestart / pretest)', () => {
  it('is wired before npm start and npm test', () => {
    expect(packageJson.scripts.prestart).toBe('node scripts/ensure-deps.mjs');
    expect(packageJson.scripts.pretest).toBe('node scripts/ensure-deps.mjs');
  });

  it('runs npm ci when node_modules is missing, and says why', () => {
    const result = run();
    expect(result.status).toBe(0);
    expect(calls()).toBe('ci --no-audit --no-fund\n');
    expect(result.stderr).toContain('node_modules is missing');
  });

  it('runs npm ci when package-lock.json is newer than the last install', () => {
    installedAt(1_000_000);
    lockedAt(2_000_000);
    const result = run();
    expect(calls()).toBe('ci --no-audit --no-fund\n');
    expect(result.stderr).toContain('package-lock.json is newer than node_modules');
  });

  it('does nothing, silently, when the install is current', () => {
    lockedAt(1_000_000);
    installedAt(2_000_000);
    const result = run();
    expect(result.status).toBe(0);
    expect(calls()).toBe('');
    expect(result.stdout + result.stderr).toBe('');
  });

  it('treats lockfiles written seconds apart by one npm install as current', () => {
    installedAt(2_000_000);
    lockedAt(2_000_003);
    expect(run().status).toBe(0);
    expect(calls()).toBe('');
  });

  it('fails with npm ci when npm ci fails, and says so', () => {
    const result = run({ FAKE_NPM_FAIL: '1' });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('npm ci failed');
  });
});
