/**
 * `npm run refresh-ips`: fetches the addresses Buildkite sends webhooks from and writes them,
 * normalised, into the committed config (`cdk.json` → `context.webhookIps`).
 *
 *   npm run refresh-ips [-- --url URL] [--config PATH]
 *
 * The URL defaults to `BUILDKITE_META_URL`, else https://api.buildkite.com/v2/meta (no auth).
 * Only the `webhookIps` value changes: every other byte of the file stays as it was, and the
 * list is laid out as prettier lays it out, so `npm run lint` stays clean. When the list is
 * already there the file is not rewritten at all. On any failure it prints one line saying what
 * was wrong, exits 1 and leaves the config file byte-for-byte as it was.
 */
import {
  chmodSync,
  readFileSync,
  renameSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import {
  applyEdits,
  findNodeAtLocation,
  modify,
  parseTree,
  type FormattingOptions,
  type Node as JsonNode,
} from 'jsonc-parser';
import { readCommandLine, runCommand } from './command';

export const DEFAULT_META_URL = 'https://api.buildkite.com/v2/meta';
export const DEFAULT_CONFIG_PATH = resolve(__dirname, '..', 'cdk.json');
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Ensures the CIDR prefix has no sign, leading zeros or stray characters (ipaddr is laxer). */
const PREFIX = /^(0|[1-9]\d{0,2})$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Normalises one entry to CIDR form, or throws saying why it is not acceptable. */
function normaliseEntry(entry: string, index: number): { kind: 'ipv4' | 'ipv6'; cidr: string } {
  const bad = (why: string) =>
    new Error(
      `webhook_ips entry ${index} (${JSON.stringify(entry)}) is not a valid IP address or CIDR: ${why}`,
    );
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const prefixText = slash < 0 ? undefined : entry.slice(slash + 1);

  // ipaddr.isValid also accepts legacy IPv4 forms ("10.1", "0x0a.0.0.1", "010.0.0.1") and IPv6
  // zone ids ("fe80::1%eth0"); none belongs in an allowlist, so only dotted-quad and plain IPv6.
  let kind: 'ipv4' | 'ipv6';
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) kind = 'ipv4';
  else if (ipaddr.IPv6.isValid(address) && !address.includes('%')) kind = 'ipv6';
  else if (!ipaddr.isValid(address)) throw bad('unrecognised address');
  else throw bad('only dotted-quad IPv4 and IPv6 without a zone id are accepted');

  const maxPrefix = kind === 'ipv4' ? 32 : 128;
  if (prefixText === undefined) {
    return { kind, cidr: `${ipaddr.parse(address).toString()}/${maxPrefix}` };
  }
  if (!PREFIX.test(prefixText) || Number(prefixText) > maxPrefix) {
    throw bad(`prefix length must be 0-${maxPrefix}`);
  }
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(entry);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const [addr, prefix] = parsed;
  return { kind, cidr: `${addr.toString()}/${prefix}` };
}

/**
 * Validates the meta endpoint's answer and returns its `webhook_ips` in CIDR form (bare IPv4
 * → /32, bare IPv6 → /128, IPv6 compact lowercase, host bits kept as given), de-duplicated,
 * IPv4 first then IPv6, each sorted lexically. Throws an Error naming the problem.
 */
export function normaliseWebhookIps(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`expected a JSON object with a "webhook_ips" list, got ${describe(raw)}`);
  }
  if (!Object.prototype.hasOwnProperty.call(raw, 'webhook_ips')) {
    throw new Error('the response has no "webhook_ips" field');
  }
  const list = (raw as Record<string, unknown>).webhook_ips;
  if (!Array.isArray(list)) throw new Error(`"webhook_ips" is ${describe(list)}, expected an array`);
  if (list.length === 0) throw new Error('"webhook_ips" is empty');

  const v4 = new Set<string>();
  const v6 = new Set<string>();
  list.forEach((entry: unknown, index) => {
    if (typeof entry !== 'string') {
      throw new Error(
        `webhook_ips entry ${index} (${JSON.stringify(entry)}) is ${describe(entry)}, not a string`,
      );
    }
    const { kind, cidr } = normaliseEntry(entry, index);
    (kind === 'ipv4' ? v4 : v6).add(cidr);
  });
  const lexical = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...[...v4].sort(lexical), ...[...v6].sort(lexical)];
}

/** Lays out a whole JSON document; `updateConfig` keeps only its layout of the new list. */
export type JsonFormatter = (text: string) => string;

/**
 * Formats JSON text as the project's prettier formats a file at `filepath` (its config and ignore
 * files apply, as in `prettier --check`). Runs the prettier CLI in a child process: prettier's
 * API loads itself with a dynamic import, which jest's module sandbox cannot run.
 */
export function prettierFormatter(filepath: string): JsonFormatter {
  return (text) => {
    let bin: string;
    try {
      bin = require.resolve('prettier/bin/prettier.cjs');
    } catch {
      throw new Error('prettier is not installed; run npm install');
    }
    const result = spawnSync(process.execPath, [bin, '--stdin-filepath', filepath], {
      cwd: dirname(filepath),
      input: text,
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      const why = result.error?.message ?? (result.stderr.trim() || `exit status ${result.status}`);
      throw new Error(`prettier could not lay out the new list (${why.replace(/\s*\n\s*/g, ' ')})`);
    }
    return result.stdout;
  };
}

const WEBHOOK_IPS_PATH = ['context', 'webhookIps'];

/** The config's `context` object; throws on invalid JSON or a missing `context` object. */
function contextOf(configText: string): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (err) {
    throw new Error(`the config is not valid JSON (${(err as Error).message}); fix the file`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new Error(`the config holds ${describe(config)}, not a JSON object; fix the file`);
  }
  const context = (config as Record<string, unknown>).context;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    const found = context === undefined ? 'it is missing' : `it is ${describe(context)}`;
    throw new Error(`the config has no "context" object (${found}); add "context": {} at its top level`);
  }
  return context as Record<string, unknown>;
}

/** Throws when `key` appears more than once in `object` (JSON.parse would silently keep the last). */
function rejectDuplicateKey(object: JsonNode | undefined, key: string, where: string): void {
  const count = (object?.children ?? []).filter((property) => property.children?.[0]?.value === key).length;
  if (count > 1) throw new Error(`the config has "${key}" ${count} times ${where}; keep one`);
}

/** Indentation and line ends for text jsonc-parser inserts: the file's own (first indented line). */
function formattingOf(text: string): FormattingOptions {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /^([ \t]+)\S/m.exec(text)?.[1] ?? '  ';
  return indent.startsWith('\t')
    ? { insertSpaces: false, tabSize: 1, eol }
    : { insertSpaces: true, tabSize: indent.length, eol };
}

/** The whitespace that starts the line holding `offset`. */
function indentAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))?.[0] ?? '';
}

function webhookIpsNode(text: string): JsonNode {
  const node = findNodeAtLocation(
    parseTree(text) ?? { type: 'null', offset: 0, length: 0 },
    WEBHOOK_IPS_PATH,
  );
  if (!node) throw new Error('internal error: context.webhookIps not found after the edit');
  return node;
}

/**
 * Sets `context.webhookIps` in the JSON config text and changes nothing else: every other byte
 * (key order, indentation, line ends, arrays kept on one line) stays as it was. An existing
 * `webhookIps` keeps its position; a new one goes last in `context`. The list is laid out as
 * `format` lays it out in the whole edited file (prettier by default: on one line when it fits),
 * re-indented to where it sits. Returns the input itself when it already holds exactly this list
 * in this order, so the caller can leave the file alone. Also returns the entries added and
 * removed. Throws on invalid JSON, a missing `context` object or a duplicated key on the path.
 */
export function updateConfig(
  configText: string,
  ips: string[],
  format: JsonFormatter = prettierFormatter(DEFAULT_CONFIG_PATH),
): { text: string; added: string[]; removed: string[] } {
  const ctx = contextOf(configText);
  const current = ctx.webhookIps;
  const previous = Array.isArray(current) ? current.filter((v): v is string => typeof v === 'string') : [];
  const before = new Set(previous);
  const after = new Set(ips);
  const added = ips.filter((ip) => !before.has(ip));
  const removed = previous.filter((ip) => !after.has(ip));
  if (Array.isArray(current) && current.length === ips.length && current.every((v, i) => v === ips[i])) {
    return { text: configText, added, removed };
  }

  const tree = parseTree(configText);
  rejectDuplicateKey(tree, 'context', 'at the top level');
  const contextNode = tree && findNodeAtLocation(tree, ['context']);
  rejectDuplicateKey(contextNode, 'webhookIps', 'in "context"');

  // Replacing a value touches only the value. Inserting a property into a context laid out over
  // several lines needs a line of its own, indented like the file; a one-line context stays one line.
  const contextText = contextNode
    ? configText.slice(contextNode.offset, contextNode.offset + contextNode.length)
    : '';
  const inserting = !Object.prototype.hasOwnProperty.call(ctx, 'webhookIps');
  const options =
    inserting && contextText.includes('\n') ? { formattingOptions: formattingOf(configText) } : {};
  const edited = applyEdits(configText, modify(configText, WEBHOOK_IPS_PATH, ips, options));

  // Lay the new value out as the formatter does in the whole edited file, then put only that
  // value back: whatever else the formatter would change stays as the file had it.
  const formatted = format(edited);
  const laidOut = webhookIpsNode(formatted);
  const target = webhookIpsNode(edited);
  const eol = configText.includes('\r\n') ? '\r\n' : '\n';
  const [first = '', ...rest] = formatted
    .slice(laidOut.offset, laidOut.offset + laidOut.length)
    .split(/\r?\n/);
  const formattedIndent = indentAt(formatted, laidOut.offset);
  const targetIndent = indentAt(edited, target.offset);
  const value = [
    first,
    ...rest.map((line) =>
      line.startsWith(formattedIndent) ? targetIndent + line.slice(formattedIndent.length) : line,
    ),
  ].join(eol);
  const text = edited.slice(0, target.offset) + value + edited.slice(target.offset + target.length);

  const written = contextOf(text).webhookIps;
  if (JSON.stringify(written) !== JSON.stringify(ips)) {
    throw new Error('internal error: the edited config does not hold the new list; nothing was written');
  }
  return { text, added, removed };
}

export interface RefreshIpsOptions {
  url: string;
  configPath: string;
  fetchImpl?: typeof fetch;
  /** Whole-request timeout (headers and body); defaults to 10 s. */
  timeoutMs?: number;
}

export interface RefreshIpsResult {
  added: string[];
  removed: string[];
  ips: string[];
  /** Whether the config file was rewritten (false when it already held this exact list). */
  changed: boolean;
}

function readConfig(configPath: string): string {
  try {
    return readFileSync(configPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`config file ${configPath} not found; run from the project root or pass --config PATH`);
    }
    throw new Error(
      `cannot read config file ${configPath} (${(err as Error).message}); check it or pass --config PATH`,
    );
  }
}

/** Runs `work` on the config, prefixing its errors with the path and the --config hint. */
function atConfig<T>(configPath: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw new Error(`config file ${configPath}: ${(err as Error).message}, or pass --config PATH`);
  }
}

/** Replaces the file via a temporary sibling and a rename, so it is never left half-written. */
function writeAtomically(path: string, text: string): void {
  const target = realpathSync(path);
  const tmp = join(dirname(target), `.${basename(target)}.refresh-ips-${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { encoding: 'utf8', flag: 'wx' });
    chmodSync(tmp, statSync(target).mode & 0o7777);
    renameSync(tmp, target);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created, or already renamed.
    }
    throw new Error(`cannot write config file ${path} (${(err as Error).message}); it was left unchanged`);
  }
}

async function fetchMeta(url: string, fetchImpl: typeof fetch, timeoutMs: number): Promise<unknown> {
  const seconds = `${timeoutMs / 1000}s`;
  const failure = (err: unknown): Error => {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return new Error(
        `timed out after ${seconds} waiting for ${url}; check your network or proxy and retry`,
      );
    }
    const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
    return new Error(
      `could not fetch ${url} (${detail}); check your network, or the URL given by --url / BUILDKITE_META_URL`,
    );
  };

  let response: Response;
  try {
    response = await fetchImpl(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw failure(err);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    const statusText = response.statusText ? ` ${response.statusText}` : '';
    throw new Error(
      `${url} answered HTTP ${response.status}${statusText}, expected 200; retry later or check the URL`,
    );
  }
  let body: string;
  try {
    // The timeout signal also covers reading the body.
    body = await response.text();
  } catch (err) {
    throw failure(err);
  }
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new Error(
      `${url} did not return valid JSON (${(err as Error).message}); check the URL points at Buildkite's /v2/meta endpoint`,
    );
  }
}

/**
 * Fetches the meta endpoint, validates and normalises `webhook_ips`, and writes them into
 * `context.webhookIps` of the config file. Rejects with a one-line message on any problem, in
 * which case the file is untouched.
 */
export async function refreshIps(options: RefreshIpsOptions): Promise<RefreshIpsResult> {
  const { url, configPath } = options;
  const fetchImpl = options.fetchImpl ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'https:' && protocol !== 'http:') {
    throw new Error(`${JSON.stringify(url)} is not an http(s) URL; fix --url or BUILDKITE_META_URL`);
  }

  // Check the config before going to the network, so a wrong path fails fast.
  const initialText = readConfig(configPath);
  atConfig(configPath, () => contextOf(initialText));

  const meta = await fetchMeta(url, fetchImpl, timeoutMs);
  let ips: string[];
  try {
    ips = normaliseWebhookIps(meta);
  } catch (err) {
    throw new Error(
      `unusable answer from ${url}: ${(err as Error).message}; check the URL points at Buildkite's /v2/meta endpoint`,
    );
  }

  // Read again: the file may have been edited while the request was in flight.
  const configText = readConfig(configPath);
  const { text, added, removed } = atConfig(configPath, () =>
    updateConfig(configText, ips, prettierFormatter(configPath)),
  );
  // Not rewritten at all (its modification time stays) when the list is already there.
  const changed = text !== configText;
  if (changed) writeAtomically(configPath, text);
  return { added, removed, ips, changed };
}

const USAGE = [
  'usage: npm run refresh-ips [-- --url URL] [--config PATH]',
  `  --url URL      meta endpoint (default: $BUILDKITE_META_URL, else ${DEFAULT_META_URL})`,
  `  --config PATH  JSON config to update at context.webhookIps (default: ${DEFAULT_CONFIG_PATH})`,
].join('\n');

async function main(argv: string[]): Promise<number> {
  const parsed = readCommandLine('refresh-ips', USAGE, {
    args: argv,
    options: {
      url: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const url = values.url || process.env.BUILDKITE_META_URL || DEFAULT_META_URL;
  const configPath = values.config ? resolve(values.config) : DEFAULT_CONFIG_PATH;

  try {
    const { added, removed, ips, changed } = await refreshIps({ url, configPath });
    const where = `context.webhookIps in ${configPath}`;
    const count = `${ips.length} entr${ips.length === 1 ? 'y' : 'ies'}`;
    if (added.length === 0 && removed.length === 0) {
      console.log(
        changed
          ? `${where}: same entries, rewritten in canonical form (${count})`
          : `${where}: unchanged (${count})`,
      );
    } else {
      console.log(`${where}: updated (${count}; ${added.length} added, ${removed.length} removed)`);
      for (const ip of added) console.log(`  + ${ip}`);
      for (const ip of removed) console.log(`  - ${ip}`);
    }
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`refresh-ips: error: ${message.replace(/\s*\n\s*/g, ' ')}`);
    return 1;
  }
}

if (require.main === module) runCommand('refresh-ips', main);
