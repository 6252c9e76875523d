// Runs before `npm start` and `npm test` (npm's prestart/pretest): installs exactly what the
// lockfile pins when node_modules is missing or older than package-lock.json, so both commands
// work on a fresh clone with nothing before them. Silent when dependencies are current. Plain
// Node with no dependencies: it must run before any are installed.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mtime = (file) => {
  try {
    return statSync(join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
};

// npm writes node_modules/.package-lock.json at the end of every install: it dates the install.
// `npm install <pkg>` writes both lockfiles in one go, in either order: a few seconds apart is
// the same install, not a stale one.
const SAME_INSTALL_MS = 5_000;
const installed = mtime('node_modules/.package-lock.json');
const locked = mtime('package-lock.json');
const reason =
  installed === undefined
    ? 'node_modules is missing'
    : locked !== undefined && locked > installed + SAME_INSTALL_MS
      ? 'package-lock.json is newer than node_modules'
      : undefined;

if (reason) {
  console.error(`kitebridge: ${reason}; installing dependencies with npm ci (about half a minute)…`);
  const npm = process.env.npm_execpath
    ? [process.execPath, process.env.npm_execpath]
    : [process.platform === 'win32' ? 'npm.cmd' : 'npm'];
  const result = spawnSync(npm[0], [...npm.slice(1), 'ci', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('kitebridge: npm ci failed (see above); fix it, then run the command again.');
    process.exit(result.status ?? 1);
  }
}
