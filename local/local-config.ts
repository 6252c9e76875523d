import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { ConfigError, parseConfig, type KitebridgeConfig } from '../lib/config';

export const PROJECT_ROOT = path.join(__dirname, '..');

/** Line and column (1-based) of a character offset in `text`. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

/**
 * Where strict JSON parsing of `text` fails. Node 20's JSON.parse names a position for some errors
 * only ("Unexpected token" carries none), so jsonc-parser in strict mode locates the rest.
 */
function syntaxErrorOffset(text: string, message: string): number {
  const position = /at position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true });
  return errors[0]?.offset ?? text.length;
}

/** Parses cdk.json, turning a syntax error into a ConfigError naming the file, line and column. */
function readCdkJson(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const message = (error as Error).message;
    const offset = syntaxErrorOffset(text, message);
    const { line, column } = lineAndColumn(text, offset);
    const reason =
      text.slice(offset).trim() === ''
        ? 'the file ends before the JSON is complete'
        : message
            .replace(/, (\.\.\.)?".*is not valid JSON$/s, '')
            .replace(/ in JSON at position \d+.*$/s, '')
            .replace(/ \(line \d+ column \d+\)$/, '');
    throw new ConfigError(
      [`${file} line ${line}, column ${column}: the file is not valid JSON (${reason})`],
      'Fix the syntax there (a missing or extra comma is the usual cause), then run npm start again.',
    );
  }
}

/**
 * The deployed app's configuration, read from cdk.json's context and checked exactly as `cdk synth`
 * checks it (unknown keys, wide allowlist ranges and all), with hints for this file and npm start.
 * Locally, loopback is always allowed, so an allowlist not yet refreshed from Buildkite (empty) is
 * not an error here.
 */
export function loadLocalConfig(cdkJsonPath = path.join(PROJECT_ROOT, 'cdk.json')): KitebridgeConfig {
  const json = readCdkJson(cdkJsonPath);
  const context = (json as { context?: unknown } | null)?.context ?? {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new ConfigError(
      [`${cdkJsonPath}: "context" must be an object of settings, e.g. { "webhookIps": ["192.0.2.1"] }`],
      'Fix it there, then run npm start again.',
    );
  }
  const config = parseConfig(context as Record<string, unknown>, {
    cdkJsonPath,
    requireAllowlist: false,
  });
  return { ...config, webhookIps: [...new Set([...config.webhookIps, '127.0.0.1/32'])] };
}
