import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../lib/config';
import { loadLocalConfig, PROJECT_ROOT } from '../../local/local-config';
import { thrownBy } from '../support/thrown';

const committed = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

describe('loadLocalConfig (npm start)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kitebridge-local-config-'));
    file = path.join(dir, 'cdk.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes a cdk.json with the committed context plus `context`, and loads it as npm start does. */
  function load(context: Record<string, unknown>) {
    writeFileSync(file, JSON.stringify({ app: 'x', context: { ...committed.context, ...context } }, null, 2));
    return loadLocalConfig(file);
  }

  const configError = (fn: () => unknown) => thrownBy(ConfigError, fn);

  it('loads the committed cdk.json, with loopback allowed and analytics on', () => {
    const config = loadLocalConfig();
    expect(config.webhookIps).toContain('127.0.0.1/32');
    expect(config.analytics).toBeDefined();
  });

  it('allows loopback when the allowlist is empty', () => {
    expect(load({ webhookIps: [] }).webhookIps).toEqual(['127.0.0.1/32']);
  });

  it('reports a misspelt key exactly as synth does', () => {
    const error = configError(() => load({ chatAlert: { destinations: [] } }));
    expect(error.problems).toEqual([
      expect.stringContaining('chatAlert is not a kitebridge setting; did you mean "chatAlerts"?'),
    ]);
  });

  it('refuses a wide webhookIps range without allowAnySourceIp, as synth does', () => {
    expect(() => load({ webhookIps: ['0.0.0.0/0'] })).toThrow(/webhookIps\[0\] "0\.0\.0\.0\/0"/);
    expect(load({ webhookIps: ['0.0.0.0/0'], allowAnySourceIp: true }).allowAnySourceIp).toBe(true);
  });

  it('still rejects a webhookIps value that is not a list', () => {
    expect(() => load({ webhookIps: 42 })).toThrow(/webhookIps must be a list/);
  });

  it('gives hints for cdk.json and npm start, not for cdk synth -c', () => {
    const error = configError(() => load({ replayWindowSeconds: 0 }));
    expect(error.message).toContain(file);
    expect(error.message).toContain('npm start');
    expect(error.message).not.toMatch(/-c |cdk synth/);
  });

  it('says a string that is not JSON, for an object key, is not valid JSON without suggesting -c', () => {
    const error = configError(() => load({ chatAlerts: '{destinations:[]}' }));
    expect(error.problems).toEqual([expect.stringMatching(/^chatAlerts is not valid JSON \(.+\)/)]);
    expect(error.message).not.toMatch(/-c /);
  });

  it('names the file, line and column of a JSON syntax error in cdk.json', () => {
    writeFileSync(
      file,
      '{\n  "app": "x",\n  "context": {\n    "stackName": "Kitebridge"\n    "tailEvents": true\n  }\n}\n',
    );
    const error = configError(() => loadLocalConfig(file));
    expect(error.message).toContain(`${file} line 5, column 5`);
    expect(error.message).toMatch(/is not valid JSON/);
    expect(error.message).not.toMatch(/position \d+/);
  });

  it('locates an error Node reports without a position (a trailing comma), and drops its source excerpt', () => {
    writeFileSync(
      file,
      `{\n  "context": {\n    "webhookIps": ["192.0.2.1",],\n${'    "tailEvents": true,\n'.repeat(5)}  }\n}\n`,
    );
    const error = configError(() => loadLocalConfig(file));
    expect(error.problems).toEqual([
      `${file} line 3, column 32: the file is not valid JSON (Unexpected token ']')`,
    ]);
  });

  it('names the last line when cdk.json ends early', () => {
    writeFileSync(file, '{\n  "context": {\n    "stackName": "Kitebridge"\n');
    expect(() => loadLocalConfig(file)).toThrow(/cdk\.json line 4, column 1: .*ends before/);
  });

  it('says so when cdk.json has no context object', () => {
    writeFileSync(file, '{ "app": "x", "context": [] }');
    expect(() => loadLocalConfig(file)).toThrow(/"context" must be an object/);
  });
});
