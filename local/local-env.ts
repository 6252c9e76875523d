import * as path from 'node:path';

/**
 * The environment variables `npm start` and `npm run send` share, read the same way by both, so
 * that a command printed by one works in the other.
 */

/** The project root: fixtures, cdk.json and the default data folder live under it. */
export const PROJECT_ROOT = path.join(__dirname, '..');
export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
/** The default data folder, relative to the project root. */
export const DEFAULT_DATA_DIR = '.local-data';

/** A variable set to something unusable: the message says what is wrong and what to do. */
export class LocalEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalEnvError';
  }
}

/**
 * `PORT`: unset → 8787; a whole number from 0 (any free port) to 65535; anything else, the empty
 * string included, is an error naming the `command` to run instead.
 */
export function readPort(env: NodeJS.ProcessEnv, command: string): number {
  const raw = env.PORT;
  if (raw === undefined) return DEFAULT_PORT;
  const fix = `Unset it for the default ${DEFAULT_PORT}, or choose one: PORT=${DEFAULT_PORT} ${command}`;
  if (raw.trim() === '') throw new LocalEnvError(`PORT is set but empty. ${fix}`);
  if (!/^\d{1,5}$/.test(raw.trim()) || Number(raw) > 65535) {
    throw new LocalEnvError(
      `PORT=${raw} is not a port number: use a whole number from 1 to 65535 (0 picks a free port). ${fix}`,
    );
  }
  return Number(raw);
}

/** `HOST`: unset → 127.0.0.1; empty is an error. */
export function readHost(env: NodeJS.ProcessEnv): string {
  const raw = env.HOST;
  if (raw === undefined) return DEFAULT_HOST;
  if (raw.trim() === '') {
    throw new LocalEnvError(
      `HOST is set but empty. Unset it to listen on ${DEFAULT_HOST}, or set HOST=0.0.0.0 for every interface.`,
    );
  }
  return raw.trim();
}

export interface DataDirContext {
  /** @default PROJECT_ROOT */
  readonly projectRoot?: string;
  /** Base of a relative `KITEBRIDGE_DATA_DIR`. @default env.INIT_CWD (where `npm …` was typed), else process.cwd() */
  readonly cwd?: string;
}

/**
 * The data folder, absolute: `KITEBRIDGE_DATA_DIR` (relative to the directory the command was
 * typed in), else `.local-data` in the project. Empty is an error.
 */
export function readDataDir(env: NodeJS.ProcessEnv, context: DataDirContext = {}): string {
  const raw = env.KITEBRIDGE_DATA_DIR;
  if (raw === undefined) return path.join(context.projectRoot ?? PROJECT_ROOT, DEFAULT_DATA_DIR);
  if (raw.trim() === '') {
    throw new LocalEnvError(
      `KITEBRIDGE_DATA_DIR is set but empty. Unset it for ${DEFAULT_DATA_DIR} in the project, or name a folder.`,
    );
  }
  return path.resolve(context.cwd ?? env.INIT_CWD ?? process.cwd(), raw);
}

/**
 * Where `npm start` writes the token it accepts, and `npm run send` reads it: the current token of
 * the local webhook secret (local/adapters/local-secret-store.ts), rewritten whenever a rotation
 * changes it.
 */
export function devTokenFile(dataDir: string): string {
  return path.join(dataDir, 'dev-token');
}

/**
 * How long `npm start`'s verify handler serves the webhook secret before reading its file again
 * (the deployed function caches it for 300 s). Shorter by default, so a local rotation (which
 * waits longer than this before giving Buildkite the new token) takes seconds, not minutes.
 */
export const DEFAULT_SECRET_CACHE_SECONDS = 10;

/** `KITEBRIDGE_SECRET_CACHE_SECONDS`: unset → 10; a whole number of seconds from 0 to 3600. */
export function readSecretCacheSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env.KITEBRIDGE_SECRET_CACHE_SECONDS;
  if (raw === undefined) return DEFAULT_SECRET_CACHE_SECONDS;
  if (!/^\d{1,4}$/.test(raw.trim()) || Number(raw) > 3600) {
    throw new LocalEnvError(
      `KITEBRIDGE_SECRET_CACHE_SECONDS=${raw} is not a number of seconds: use a whole number from 0 to 3600 ` +
        `(300 is the deployed verify function's), or unset it for ${DEFAULT_SECRET_CACHE_SECONDS}.`,
    );
  }
  return Number(raw);
}

/** `value` as one POSIX shell word (quoted only when it needs to be). */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `NAME=value ` prefix that gives a command typed in another terminal the same `PORT` (when
 * `port` is given) and data folder as this process: only the variables that are set here, with
 * the values in effect (the port actually listened on, the folder as an absolute path).
 */
export function envPrefix(env: NodeJS.ProcessEnv, values: { port?: number; dataDir: string }): string {
  const parts: string[] = [];
  if (env.PORT !== undefined && values.port !== undefined) parts.push(`PORT=${values.port}`);
  if (env.KITEBRIDGE_DATA_DIR !== undefined) parts.push(`KITEBRIDGE_DATA_DIR=${shellQuote(values.dataDir)}`);
  return parts.map((part) => `${part} `).join('');
}
