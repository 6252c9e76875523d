import { App } from 'aws-cdk-lib';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cdkJson from '../../cdk.json';
import { CONFIG_KEYS, ConfigError, LOG_RETENTION_DAYS, loadConfig, parseConfig } from '../../lib/config';
import { cdkJsonConfig } from './helpers';

const ALLOWLIST = { webhookIps: ['192.0.2.0/24'] };

/** The ConfigError `fn` throws; fails the test when it throws nothing or something else. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('parseConfig', () => {
  it('fills in the defaults', () => {
    expect(parseConfig(ALLOWLIST)).toEqual({
      stackName: 'Kitebridge',
      webhookIps: ['192.0.2.0/24'],
      allowAnySourceIp: false,
      replayWindowSeconds: 300,
      maxBodyBytes: 5_000_000,
      archiveRetentionDays: 30,
      oversizedRetentionDays: 30,
      logRetentionDays: 30,
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      tailEvents: true,
      triggers: [],
      triggerRatePerHour: 300,
      triggerBurst: 1,
    });
  });

  it.each<[string, unknown, RegExp]>([
    [
      'a bad trigger name',
      [{ name: 'Deploy!', kind: 'github' }],
      /triggers\[0\]\.name must be 1-63 lower-case/,
    ],
    [
      'an unknown kind',
      [{ name: 'x', kind: 'sha1' }],
      /triggers\[0\]\.kind must be one of github, linear, hmac-sha256, token/,
    ],
    [
      'a header on a fixed-header kind',
      [{ name: 'x', kind: 'github', header: 'X-Sig' }],
      /triggers\[0\]\.header is fixed for kind github/,
    ],
    [
      'an encoding on a token trigger',
      [{ name: 'x', kind: 'token', encoding: 'hex' }],
      /triggers\[0\]\.encoding applies to kind hmac-sha256 only/,
    ],
    [
      'a bad source IP',
      [{ name: 'x', kind: 'token', sourceIps: ['nope'] }],
      /triggers\[0\]\.sourceIps\[0\] "nope" is not/,
    ],
    [
      'an invalid filter',
      [{ name: 'x', kind: 'token', filter: { merged: true } }],
      /triggers\[0\]\.filter Invalid event pattern at merged/,
    ],
    [
      'a misspelt key',
      [{ name: 'x', kind: 'token', sourceIp: ['192.0.2.1'] }],
      /Unrecognized key\(s\) in object: 'sourceIp'/,
    ],
    [
      'a duplicate name',
      [
        { name: 'x', kind: 'token' },
        { name: 'x', kind: 'github' },
      ],
      /triggers\[1\]\.name "x" is used twice/,
    ],
  ])('rejects %s in triggers', (_name, triggers, message) => {
    expect(() => parseConfig({ ...ALLOWLIST, triggers })).toThrow(message);
  });

  it('reads triggers passed with -c as JSON', () => {
    const config = parseConfig({
      ...ALLOWLIST,
      triggers: '[{"name":"gh","kind":"github","sourceIps":["192.0.2.1"]}]',
    });
    expect(config.triggers).toEqual([{ name: 'gh', kind: 'github', sourceIps: ['192.0.2.1/32'] }]);
  });

  it('accepts cdk.json as committed', () => {
    expect(parseConfig({ ...cdkJsonConfig(), ...ALLOWLIST })).toMatchObject({ stackName: 'Kitebridge' });
  });

  it('treats undefined and null as unset', () => {
    expect(parseConfig({ ...ALLOWLIST, alarmEmail: undefined, replayWindowSeconds: null })).toMatchObject({
      replayWindowSeconds: 300,
    });
    expect(parseConfig({ ...ALLOWLIST, alarmEmail: null })).not.toHaveProperty('alarmEmail');
  });

  it('lets oversizedRetentionDays default to archiveRetentionDays, or be set on its own', () => {
    expect(parseConfig({ ...ALLOWLIST, archiveRetentionDays: 7 }).oversizedRetentionDays).toBe(7);
    expect(
      parseConfig({ ...ALLOWLIST, archiveRetentionDays: 7, oversizedRetentionDays: 0 })
        .oversizedRetentionDays,
    ).toBe(0);
  });

  it.each([
    ['replayWindowSeconds', 'abc', /must be a number/],
    ['replayWindowSeconds', 0, /must be at least 1/],
    ['replayWindowSeconds', 99999, /must be at most 3600/],
    ['replayWindowSeconds', 1.5, /whole number/],
    ['logRetentionDays', 8, /must be one of CloudWatch Logs' periods: 1, 3, 5, 7, 14, 30/],
    ['alarmEmail', 'nope', /must be an email address/],
    ['webhookIps', ['not-an-ip'], /webhookIps\[0\] "not-an-ip" is not an IPv4\/IPv6 address or CIDR/],
    ['webhookIps', ['192.0.2.0/24', '192.0.2.300'], /webhookIps\[1\] "192\.0\.2\.300" is not an IPv4\/IPv6/],
    ['webhookIps', 42, /must be a list of IPv4\/IPv6 addresses or CIDRs/],
    ['throttleRateLimit', -1, /must be at least 1/],
    ['throttleBurstLimit', 5001, /must be at most 5000/],
    ['stackName', '1bad', /must start with a letter/],
    ['stackName', 'has_underscore', /only letters, digits and dashes/],
    ['maxBodyBytes', 6_000_000, /must be at most 5500000/],
    ['maxBodyBytes', 10, /must be at least 1024/],
    ['archiveRetentionDays', -1, /must be at least 0/],
    ['oversizedRetentionDays', 'x', /must be a number/],
    ['allowAnySourceIp', 'yes', /must be true or false/],
    ['tailEvents', 1, /must be true or false/],
  ])('rejects %s = %j, naming the key and the problem', (key, value, problem) => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, [key]: value }));
    const line = error.problems.find((p) => p.startsWith(key));
    expect(line).toMatch(problem);
    expect(error.message).toContain(line);
    expect(error.message).toContain('cdk.json');
  });

  it('reports every bad key at once', () => {
    const error = configError(() =>
      parseConfig({ ...ALLOWLIST, replayWindowSeconds: 0, alarmEmail: 'nope' }),
    );
    expect(error.problems).toEqual([
      expect.stringMatching(/^replayWindowSeconds /),
      expect.stringMatching(/^alarmEmail /),
    ]);
  });

  it.each([
    ['replayWindowSeconds', '120', 120],
    ['maxBodyBytes', '2048', 2048],
    ['logRetentionDays', '90', 90],
    ['archiveRetentionDays', '0', 0],
    ['allowAnySourceIp', 'true', true],
    ['tailEvents', 'false', false],
    ['webhookIps', '["192.0.2.1"]', ['192.0.2.1/32']],
    ['webhookIps', '192.0.2.1,2001:db8::1', ['192.0.2.1/32', '2001:db8::1/128']],
    ['webhookIps', ' 192.0.2.0/24 , 2001:DB8::/32 ', ['192.0.2.0/24', '2001:db8::/32']],
    ['alarmEmail', 'ops@example.com', 'ops@example.com'],
  ])('parses %s from the string -c would pass (%j)', (key, value, expected) => {
    expect(parseConfig({ ...ALLOWLIST, [key]: value })[key as keyof ReturnType<typeof parseConfig>]).toEqual(
      expected,
    );
  });

  it('normalises bare addresses to /32 and /128 and drops duplicates', () => {
    expect(parseConfig({ webhookIps: ['192.0.2.1', '2001:0DB8::0001', '192.0.2.1/32'] }).webhookIps).toEqual([
      '192.0.2.1/32',
      '2001:db8::1/128',
    ]);
  });

  it('refuses an empty allowlist without allowAnySourceIp, saying how to fix it', () => {
    for (const webhookIps of [[], undefined, '[]']) {
      const error = configError(() => parseConfig({ webhookIps }));
      expect(error.message).toMatch(/webhookIps/);
      expect(error.message).toContain('npm run refresh-ips');
      expect(error.message).toContain('allowAnySourceIp');
    }
  });

  it('accepts an empty allowlist with allowAnySourceIp', () => {
    expect(parseConfig({ webhookIps: [], allowAnySourceIp: true })).toMatchObject({
      webhookIps: [],
      allowAnySourceIp: true,
    });
  });

  it('accepts every CloudWatch Logs retention period', () => {
    for (const days of LOG_RETENTION_DAYS) {
      expect(parseConfig({ ...ALLOWLIST, logRetentionDays: days }).logRetentionDays).toBe(days);
    }
  });
});

describe('loadConfig', () => {
  it('reads every config key (and only those) from tryGetContext', () => {
    const asked: string[] = [];
    const values: Record<string, unknown> = { ...ALLOWLIST, replayWindowSeconds: '60', unrelated: 'ignored' };
    const config = loadConfig({
      tryGetContext: (key) => {
        asked.push(key);
        return values[key];
      },
    });
    expect(config).toMatchObject({ webhookIps: ['192.0.2.0/24'], replayWindowSeconds: 60 });
    expect(asked.sort()).toEqual([...CONFIG_KEYS].sort());
    expect(asked).not.toContain('unrelated');
  });

  it('reads an App node, as bin/ does', () => {
    const app = new App({
      context: { ...cdkJson.context, webhookIps: '198.51.100.0/24', tailEvents: 'false' },
    });
    expect(loadConfig(app.node)).toMatchObject({ webhookIps: ['198.51.100.0/24'], tailEvents: false });
  });

  it('loads cdk.json as committed: a non-empty allowlist of Buildkite addresses', () => {
    const app = new App({ context: cdkJson.context });
    expect(loadConfig(app.node).webhookIps.length).toBeGreaterThan(0);
  });

  it('throws a ConfigError for an empty allowlist without allowAnySourceIp', () => {
    const app = new App({ context: { ...cdkJson.context, webhookIps: [] } });
    expect(() => loadConfig(app.node)).toThrow(ConfigError);
  });
});

describe('the CDK app (bin/kitebridge.ts)', () => {
  const root = join(__dirname, '../..');

  /** Runs the app as the CDK CLI does: context in CDK_CONTEXT_JSON, output directory in CDK_OUTDIR. */
  function runApp(context: Record<string, unknown>) {
    const outdir = mkdtempSync(join(tmpdir(), 'kitebridge-app-'));
    try {
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/kitebridge.ts'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...context }),
          CDK_OUTDIR: outdir,
        },
      });
      return { ...result, wroteTemplate: existsSync(join(outdir, 'Kitebridge.template.json')) };
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }

  it('exits non-zero, naming webhookIps, when the allowlist is empty', () => {
    const result = runApp({ webhookIps: [] });
    expect(result.error).toBeUndefined();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('webhookIps');
    expect(result.stderr).toContain('npm run refresh-ips');
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(result.wroteTemplate).toBe(false);
  });

  it('synthesizes (with cdk-nag and CloudFormation validation) when the allowlist is set', () => {
    const result = runApp({ webhookIps: ['192.0.2.0/24'], 'aws:cdk:bundling-stacks': [] });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    expect(result.wroteTemplate).toBe(true);
  });
});
