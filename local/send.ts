import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { computeSignature } from '../lambda/verify/signature';
import {
  bodyHmac,
  STANDARD_WEBHOOKS_HEADERS,
  standardWebhooksKey,
  standardWebhooksSignature,
} from '../lambda/verify/trigger-auth';
import { DEFAULT_TRIGGER_HEADERS, type TriggerDefinition } from '../lambda/shared/triggers';
import {
  DEFAULT_DATA_DIR,
  devTokenFile,
  LocalEnvError,
  PROJECT_ROOT as LOCAL_PROJECT_ROOT,
  readDataDir,
  readPort,
} from './local-env';
import { loadLocalConfig } from './local-config';

/**
 * `npm run send -- <event|fixture.json> [...]`: sends one Buildkite-shaped delivery (the same
 * headers Buildkite sends, body bytes untouched) to the local gateway or a deployed endpoint.
 */

/** The project root: fixtures and the local gateway's default data folder live under it. */
export const PROJECT_ROOT = LOCAL_PROJECT_ROOT;
/** Where the local gateway writes its development token by default, relative to the project root. */
export const DEV_TOKEN_PATH = path.relative(
  LOCAL_PROJECT_ROOT,
  devTokenFile(path.join(LOCAL_PROJECT_ROOT, DEFAULT_DATA_DIR)),
);
export const DEFAULT_TIMEOUT_MS = 10_000;

export const USAGE = `Usage: npm run send -- <event-name|path/to/body.json> [options]

Sends a Buildkite webhook delivery (body bytes unchanged) and prints the answer.

  <event-name>          a fixture from fixtures/buildkite, e.g. build.finished or ping
  <path/to/body.json>   any JSON object with a string "event" field

Options:
  --url URL             endpoint (default http://127.0.0.1:$PORT/buildkite, PORT defaults to 8787),
                        e.g. https://abc.execute-api.us-east-1.amazonaws.com/v1/buildkite
  --token T             send X-Buildkite-Token: T (token mode)
  --signature T         sign with T and send X-Buildkite-Signature (signature mode)
  --path-token T        post to <url>/T with no auth header (for senders without headers)
  --trigger NAME        send a third-party request to /triggers/NAME, signed as that trigger's kind
                        (from cdk.json) with --token T, $KITEBRIDGE_TOKEN or the dev token as the
                        shared secret (for standard-webhooks: whsec_<base64> or base64); the file
                        argument may name a fixture in fixtures/triggers/. A github-<event>.json
                        file is sent with X-GitHub-Event: <event> (github-ping sends GitHub's ping)
  --timestamp SECONDS   signature timestamp (unix seconds; default now; --signature only)
  --help                show this help

Without --token, --signature or --path-token the token comes from $KITEBRIDGE_TOKEN, then from
the dev-token file \`npm start\` writes in its data folder ($KITEBRIDGE_DATA_DIR, default
${DEV_TOKEN_PATH}), in token mode. Give this command the same PORT and KITEBRIDGE_DATA_DIR as
\`npm start\` (its banner prints the exact commands).
Exit code 0 when the endpoint answers 2xx, 1 otherwise.`;

export type AuthMode = 'token' | 'signature' | 'path-token' | 'trigger';

/** A configured pipeline trigger, as `--trigger NAME` signs for it. */
export type SendTrigger = Pick<TriggerDefinition, 'name' | 'kind' | 'header' | 'encoding'>;

export interface SendOptions {
  /** Absolute path of the JSON file whose bytes are sent. */
  readonly file: string;
  /** The endpoint, without any path token. */
  readonly url: string;
  readonly mode: AuthMode;
  /** The webhook token (never printed). */
  readonly token: string;
  /** Where the token came from, for hints: `--token`, `KITEBRIDGE_TOKEN` or the dev-token file path. */
  readonly tokenSource: string;
  /** Where `npm start` writes its dev token for this environment, for hints. @default DEV_TOKEN_PATH */
  readonly devTokenFile?: string;
  /** A fixed signature timestamp (unix seconds); when absent the send time is used. */
  readonly timestamp?: string;
  readonly timeoutMs: number;
  /** Set with `--trigger NAME`: sign as that trigger's kind, with `token` as its shared secret. */
  readonly trigger?: SendTrigger;
}

export interface ParseContext {
  /** @default the directory above local/ */
  readonly projectRoot?: string;
  /** @default `<projectRoot>/fixtures/buildkite` */
  readonly fixturesDir?: string;
  /** Base for a relative file argument. @default env.INIT_CWD (set by npm run), else process.cwd() */
  readonly cwd?: string;
  /**
   * The configured triggers. @default those of `<projectRoot>/cdk.json` (validated as the local
   * gateway validates it) when `--trigger` is given
   */
  readonly triggers?: readonly SendTrigger[];
}

/** A bad command line or missing input; `help` marks an explicit `--help`. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly help = false,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Prints what reading the command line threw and returns the exit code: the help asked for (0),
 * or the usage error or bad option (1).
 */
export function reportUsage(error: unknown): number {
  if (error instanceof UsageError && error.help) {
    console.log(error.message);
    return 0;
  }
  console.error(error instanceof Error ? error.message : String(error));
  return 1;
}

const AUTH_FLAGS = { '--token': 'token', '--signature': 'signature', '--path-token': 'path-token' } as const;
const VALUE_FLAGS = new Set(['--url', '--timestamp', '--trigger', ...Object.keys(AUTH_FLAGS)]);

/**
 * The triggers of `<projectRoot>/cdk.json`, read through the local config loader: send sees the
 * configuration the local gateway serves, and a cdk.json it would refuse fails here with the same
 * ConfigError.
 */
function configuredTriggers(projectRoot: string): readonly SendTrigger[] {
  return loadLocalConfig(path.join(projectRoot, 'cdk.json')).triggers;
}

function usageError(message: string): UsageError {
  return new UsageError(`${message}\n\n${USAGE}`);
}

/** Fixture names (file names without `.json`), sorted. */
export function availableEvents(fixturesDir: string): string[] {
  if (!existsSync(fixturesDir)) return [];
  return readdirSync(fixturesDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.slice(0, -'.json'.length))
    .sort();
}

function resolveBodyFile(arg: string, fixturesDir: string, cwd: string): string {
  const looksLikePath = arg.endsWith('.json') || arg.includes('/') || arg.includes(path.sep);
  if (looksLikePath) {
    const file = path.resolve(cwd, arg);
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`No such file: ${file}`);
    return file;
  }
  const events = availableEvents(fixturesDir);
  if (!events.includes(arg)) {
    throw new UsageError(
      `Unknown event "${arg}". Available events (${fixturesDir}):\n  ${events.join('\n  ')}\n` +
        'Or pass a path to a JSON file.',
    );
  }
  return path.join(fixturesDir, `${arg}.json`);
}

/** A value read from PORT or KITEBRIDGE_DATA_DIR; a bad one is a usage error. */
function fromEnv<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof LocalEnvError) throw new UsageError(error.message);
    throw error;
  }
}

function readDevToken(file: string): string | undefined {
  try {
    const token = readFileSync(file, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

/**
 * Parses the command line (without `node` and the script). Resolves the body file and the
 * token, so the options are ready to send. Throws a UsageError with a message for a person.
 */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv, context: ParseContext = {}): SendOptions {
  const projectRoot = context.projectRoot ?? PROJECT_ROOT;
  const fixturesDir = context.fixturesDir ?? path.join(projectRoot, 'fixtures', 'buildkite');
  const cwd = context.cwd ?? env.INIT_CWD ?? process.cwd();

  const values = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') throw new UsageError(USAGE, true);
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (!VALUE_FLAGS.has(name)) throw usageError(`Unknown option ${name}.`);
    let value: string | undefined;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      if (value !== undefined && !value.startsWith('--')) i++;
      else value = undefined;
    }
    if (value === undefined || value === '') throw usageError(`${name} needs a value.`);
    if (values.has(name)) throw usageError(`${name} given more than once.`);
    values.set(name, value);
  }

  if (positionals.length === 0) throw usageError('Missing the event name or JSON file to send.');
  if (positionals.length > 1) throw usageError(`Unexpected argument ${positionals[1]}.`);

  const authFlags = Object.keys(AUTH_FLAGS).filter((flag) => values.has(flag)) as (keyof typeof AUTH_FLAGS)[];
  if (authFlags.length > 1) throw usageError(`Pass only one of ${authFlags.join(', ')}.`);

  const timestamp = values.get('--timestamp');
  if (timestamp !== undefined) {
    if (!/^\d{1,15}$/.test(timestamp)) throw usageError('--timestamp must be unix seconds (digits only).');
    if (!values.has('--signature')) throw usageError('--timestamp applies only with --signature.');
  }

  const triggerName = values.get('--trigger');
  let trigger: SendTrigger | undefined;
  if (triggerName !== undefined) {
    const triggers = context.triggers ?? configuredTriggers(projectRoot);
    trigger = triggers.find((t) => t.name === triggerName);
    if (!trigger) {
      throw usageError(
        `No trigger named ${triggerName} in cdk.json's "triggers"${triggers.length ? ` (configured: ${triggers.map((t) => t.name).join(', ')})` : ''}.`,
      );
    }
    if (values.has('--signature') || values.has('--path-token') || timestamp !== undefined) {
      throw usageError(
        'With --trigger, pass the shared secret with --token T (or nothing, for the local dev token).',
      );
    }
  }

  const url =
    values.get('--url') ??
    `http://127.0.0.1:${fromEnv(() => readPort(env, 'npm run send -- …'))}${trigger ? `/triggers/${encodeURIComponent(trigger.name)}` : '/buildkite'}`;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw usageError(`--url is not a URL: ${url}`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
    throw usageError(`--url must be http or https: ${url}`);
  }

  const file = resolveBodyFile(
    positionals[0] as string,
    trigger ? path.join(projectRoot, 'fixtures', 'triggers') : fixturesDir,
    cwd,
  );

  const tokenFile = devTokenFile(fromEnv(() => readDataDir(env, { projectRoot, cwd })));
  let mode: AuthMode = 'token';
  let token: string | undefined;
  let tokenSource: string;
  const flag = authFlags[0];
  if (flag !== undefined) {
    mode = AUTH_FLAGS[flag];
    token = values.get(flag);
    tokenSource = flag;
  } else if (env.KITEBRIDGE_TOKEN) {
    token = env.KITEBRIDGE_TOKEN;
    tokenSource = 'KITEBRIDGE_TOKEN';
  } else {
    tokenSource = tokenFile;
    token = readDevToken(tokenSource);
  }
  if (token === undefined) {
    throw new UsageError(
      `No token in ${tokenFile}: start the local gateway with \`npm start\` (it writes that file; when it runs ` +
        'with KITEBRIDGE_DATA_DIR, set the same here), or pass --token T (or --signature T / --path-token T), ' +
        'or set KITEBRIDGE_TOKEN.',
    );
  }
  if (trigger?.kind === 'standard-webhooks' && standardWebhooksKey(token) === undefined) {
    throw usageError(
      `Trigger ${trigger.name} is standard-webhooks: its secret (from ${tokenSource}) must be whsec_<base64> or base64.`,
    );
  }

  return {
    file,
    url,
    mode,
    token,
    tokenSource,
    devTokenFile: tokenFile,
    ...(timestamp === undefined ? {} : { timestamp }),
    timeoutMs: DEFAULT_TIMEOUT_MS,
    ...(trigger ? { mode: 'trigger' as const, trigger } : {}),
  };
}

/**
 * The body's `event` field, or undefined for a Test Engine monitor body (no `event`, a `type` and
 * a `timestamp`: Test Engine sends no event header); throws for anything Buildkite would not send.
 */
export function readEvent(body: Buffer, file = 'the body'): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} must hold a JSON object, as Buildkite sends.`);
  }
  const { event, type, timestamp } = parsed as Record<string, unknown>;
  if (event === undefined && typeof type === 'string' && type !== '' && typeof timestamp === 'string') {
    return undefined;
  }
  if (typeof event !== 'string' || event === '') {
    throw new Error(
      `${file} has no string "event" field (e.g. "build.finished"), nor the "type" and "timestamp" of a Test Engine monitor body.`,
    );
  }
  return event;
}

/** `<url>/<token>`, the token URL-encoded as one path segment; query string kept. */
export function withPathToken(url: string, token: string): string {
  const target = new URL(url);
  target.pathname = `${target.pathname.replace(/\/+$/, '')}/${encodeURIComponent(token)}`;
  return target.toString();
}

/** The request Buildkite would send for this body: the body bytes are passed through untouched. */
export function buildRequest(
  options: SendOptions,
  body: Buffer,
  now: Date,
): { url: string; headers: Record<string, string>; body: Buffer } {
  if (options.trigger) return buildTriggerRequest(options, options.trigger, body, now);
  const event = readEvent(body, options.file);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'Buildkite-Request',
    ...(event !== undefined ? { 'X-Buildkite-Event': event } : {}),
    'X-Buildkite-Request': randomUUID(),
  };
  let url = options.url;
  switch (options.mode) {
    case 'token':
      headers['X-Buildkite-Token'] = options.token;
      break;
    case 'signature': {
      const timestamp = options.timestamp ?? String(Math.floor(now.getTime() / 1000));
      const signature = computeSignature(options.token, timestamp, body);
      headers['X-Buildkite-Signature'] = `timestamp=${timestamp},signature=${signature}`;
      break;
    }
    case 'path-token':
      url = withPathToken(options.url, options.token);
      break;
    case 'trigger':
      throw new Error('A trigger request needs its trigger definition.');
  }
  return { url, headers, body };
}

/**
 * The request a third party would send to `/triggers/{name}`, signed as the trigger's kind with
 * `options.token` as the shared secret. For `linear`, the body's `webhookTimestamp` is set to now
 * (Linear's replay protection), so that body is re-serialised; every other body is sent as is.
 */
export function buildTriggerRequest(
  options: SendOptions,
  trigger: SendTrigger,
  fileBody: Buffer,
  now: Date,
): { url: string; headers: Record<string, string>; body: Buffer } {
  let payload: unknown;
  try {
    payload = JSON.parse(fileBody.toString('utf8'));
  } catch (error) {
    throw new Error(`${options.file} is not valid JSON: ${(error as Error).message}`);
  }
  const body =
    trigger.kind === 'linear' && payload !== null && typeof payload === 'object' && !Array.isArray(payload)
      ? Buffer.from(JSON.stringify({ ...payload, webhookTimestamp: now.getTime() }))
      : fileBody;
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'kitebridge-send',
  };
  switch (trigger.kind) {
    case 'github':
      headers['X-GitHub-Event'] = githubEventFor(options.file);
      headers['X-GitHub-Delivery'] = randomUUID();
      headers['X-Hub-Signature-256'] = `sha256=${bodyHmac(options.token, body, 'hex')}`;
      break;
    case 'linear':
      headers['Linear-Delivery'] = randomUUID();
      headers['Linear-Signature'] = bodyHmac(options.token, body, 'hex');
      break;
    case 'hmac-sha256':
      headers[trigger.header ?? DEFAULT_TRIGGER_HEADERS['hmac-sha256']] = bodyHmac(
        options.token,
        body,
        trigger.encoding ?? 'hex',
      );
      break;
    case 'token':
      headers[trigger.header ?? DEFAULT_TRIGGER_HEADERS.token] = options.token;
      break;
    case 'standard-webhooks': {
      const key = standardWebhooksKey(options.token);
      if (!key) throw new Error(`The secret of trigger ${trigger.name} must be whsec_<base64> or base64.`);
      const id = `msg_${randomUUID().replaceAll('-', '')}`;
      const timestamp = String(Math.floor(now.getTime() / 1000));
      headers[STANDARD_WEBHOOKS_HEADERS.id] = id;
      headers[STANDARD_WEBHOOKS_HEADERS.timestamp] = timestamp;
      headers[STANDARD_WEBHOOKS_HEADERS.signature] =
        `v1,${standardWebhooksSignature(key, id, timestamp, body)}`;
      break;
    }
  }
  return { url: options.url, headers, body };
}

/** The `X-GitHub-Event` for a body file: `<event>` of a `github-<event>.json` name, else `pull_request`. */
export function githubEventFor(file: string): string {
  return /^github-([a-z_]+)\.json$/.exec(path.basename(file))?.[1] ?? 'pull_request';
}

/** Reads the file, sends it once (10 s timeout, redirects not followed) and returns the answer. */
export async function send(options: SendOptions): Promise<{ status: number; body: string }> {
  return sendBody(options, readFileSync(options.file));
}

/** Sends `body` as `options` say (signed now), and returns the answer. */
export async function sendBody(
  options: SendOptions,
  body: Buffer,
): Promise<{ status: number; body: string }> {
  const request = buildRequest(options, body, new Date());
  const response = await fetch(request.url, {
    method: 'POST',
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  return { status: response.status, body: await response.text() };
}

/** The `error` code of a `{error, message}` answer, if the body is one. */
function errorCode(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const code = (parsed as { error: unknown }).error;
      return typeof code === 'string' ? code : undefined;
    }
  } catch {
    // not JSON: no code
  }
  return undefined;
}

/** A one-line suggestion for the common failures, or undefined. */
export function hintForAnswer(status: number, body: string, options: SendOptions): string | undefined {
  const code = errorCode(body);
  if (options.trigger) return triggerHint(status, options.trigger, options);
  if (status === 401) {
    if (code === 'signature_expired') {
      return 'Hint: the signature timestamp is outside the replay window: drop --timestamp or check your clock.';
    }
    return (
      `Hint: check the token (this one came from ${options.tokenSource}). The local gateway's is in ` +
      `${options.devTokenFile ?? DEV_TOKEN_PATH} (printed by \`npm start\`; when it runs with PORT or ` +
      'KITEBRIDGE_DATA_DIR, run this with the same: its banner prints the command); a deployed ' +
      `stack's is the "token" field of the secret named by its WebhookSecretArn output.`
    );
  }
  if (status === 403 && code === 'forbidden_source_ip') {
    return "Hint: your IP isn't in the endpoint's allowlist (webhook IPs in the kitebridge configuration).";
  }
  if (status === 404) return 'Hint: the URL should end in /buildkite (e.g. https://…/v1/buildkite).';
  return undefined;
}

/** Hints for a trigger request: the answer's message already speaks the trigger kind's language. */
function triggerHint(status: number, trigger: SendTrigger, options: SendOptions): string | undefined {
  if (status === 401) {
    return (
      `Hint: the secret came from ${options.tokenSource}. Locally every trigger's secret is the dev token ` +
      `(${options.devTokenFile ?? DEV_TOKEN_PATH}); a deployed trigger's is the "token" field of the secret in its ` +
      `Trigger<Name>SecretArn output.`
    );
  }
  if (status === 404)
    return `Hint: this endpoint has no trigger named ${trigger.name}; the URL ends in /triggers/<name>.`;
  return undefined;
}

function causeCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const candidate = current as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof candidate.code === 'string') return candidate.code;
    current = candidate.cause ?? candidate.errors?.[0];
  }
  return undefined;
}

/** A one-line explanation (with a hint) for a request that got no answer. */
export function describeFailure(error: unknown, options: SendOptions): string {
  const origin = new URL(options.url).origin;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return `No answer from ${origin} within ${options.timeoutMs / 1000} s.`;
  }
  const code = causeCode(error);
  if (code === 'ECONNREFUSED') {
    return (
      `Connection refused by ${origin}. Hint: start the local gateway with \`npm start\` first ` +
      '(when it runs with PORT, set the same PORT here), or pass --url.'
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `Cannot resolve ${new URL(options.url).host}: check --url.`;
  let message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause instanceof Error && !code) message += `: ${cause.message}`;
  return `Request to ${origin} failed: ${code ? `${code} ` : ''}${message}`;
}

/** The URL as printed: a path token is never shown. */
function displayUrl(options: SendOptions): string {
  return options.mode === 'path-token' ? `${options.url.replace(/\/+$/, '')}/<token>` : options.url;
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** Defence in depth (answers never echo credentials); tokens under 8 characters are test values, left alone. */
function redact(text: string, options: SendOptions): string {
  const secrets = [options.token, encodeURIComponent(options.token)].filter((secret) => secret.length >= 8);
  return secrets.reduce((out, secret) => out.split(secret).join('<redacted>'), text);
}

async function main(): Promise<number> {
  let options: SendOptions;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
    if (!options.trigger) readEvent(readFileSync(options.file), options.file);
  } catch (error) {
    return reportUsage(error);
  }

  const label = path.relative(process.cwd(), options.file) || options.file;
  console.log(
    `POST ${displayUrl(options)}  (${label}, ${options.mode} mode, token from ${options.tokenSource})`,
  );
  let answer: { status: number; body: string };
  try {
    answer = await send(options);
  } catch (error) {
    console.error(redact(describeFailure(error, options), options));
    return 1;
  }
  console.log(`HTTP ${answer.status}`);
  if (answer.body !== '') console.log(redact(pretty(answer.body), options));
  const hint = hintForAnswer(answer.status, answer.body, options);
  if (hint) console.error(hint);
  return answer.status >= 200 && answer.status < 300 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
