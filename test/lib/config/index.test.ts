import { App } from 'aws-cdk-lib';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import cdkJson from '../../../cdk.json';
import {
  CONFIG_KEYS,
  ConfigError,
  LOG_RETENTION_DAYS,
  consumerSummary,
  DEFAULT_THROTTLE,
  loadConfig,
  parseConfig,
  throttleWarning,
} from '../../../lib/config';
import { buildStack, cdkJsonConfig } from '../helpers';
import { thrownBy } from '../../support/thrown';

const ALLOWLIST = { webhookIps: ['192.0.2.0/24'] };

const ANALYTICS_DEFAULTS = {
  retentionDays: 400,
  infrequentAccessAfterDays: 90,
  bufferSeconds: 300,
  bytesScannedCutoffMb: 1024,
  queryResultsRetentionDays: 7,
};

/** The context keys the CDK CLI (2.1148) adds to every run of the app, besides cdk.json's. */
const CLI_CONTEXT = {
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
  'aws:cdk:version-reporting': true,
  'aws:cdk:bundling-stacks': ['**'],
  '@aws-cdk/core:failSynthOnValidationErrors': false,
};

/** What zod says when a schema gives no message of its own; none of it may reach the user. */
const RAW_ZOD =
  /Required|Unrecognized key|Expected [a-z]+, received|Invalid input|Invalid enum value|Invalid literal|must contain (at least|at most)|greater than|less than|Invalid (email|url|uuid)|\bInvalid\b$/m;

const configError = (fn: () => unknown) => thrownBy(ConfigError, fn);

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
      throttleRateLimit: 1000,
      throttleBurstLimit: 2000,
      tailEvents: true,
      verifyProvisionedConcurrency: 0,
      triggers: [],
      triggerRatePerHour: 300,
      triggerBurst: 1,
      analytics: ANALYTICS_DEFAULTS,
      // On by default; it takes effect only with buildkiteApi (its token lists the builds).
      reconcile: {
        everyMinutes: 5,
        lookbackMinutes: 60,
        graceMinutes: 3,
        missedAlarmThreshold: 5,
        maxPages: 20,
      },
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
      /triggers\[0\]\.sourceIp is not a trigger setting; did you mean "sourceIps"\?/,
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
    [
      'throttleRateLimit',
      10_001,
      /must be at most 10000: API Gateway's default account rate .* shared by every API/,
    ],
    ['throttleBurstLimit', 2.5, /whole number/],
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
  it('reads the whole context, so a key it does not know is reported rather than ignored', () => {
    const values = { ...ALLOWLIST, replayWindowSeconds: '60', ...CLI_CONTEXT };
    expect(loadConfig({ getAllContext: () => values })).toMatchObject({
      webhookIps: ['192.0.2.0/24'],
      replayWindowSeconds: 60,
    });
    const error = configError(() => loadConfig({ getAllContext: () => ({ ...values, chatAlert: {} }) }));
    expect(error.problems).toEqual([expect.stringMatching(/^chatAlert .*did you mean "chatAlerts"\?/)]);
  });

  it('reports a misspelt key set on an App node, as bin/ reads it', () => {
    const app = new App({ context: { ...cdkJson.context, ...ALLOWLIST, analitycs: false } });
    expect(() => loadConfig(app.node)).toThrow(/analitycs .*did you mean "analytics"\?/);
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

describe('unknown context keys', () => {
  it.each([
    ['chatAlert', 'chatAlerts'],
    ['analitycs', 'analytics'],
    ['webhookIP', 'webhookIps'],
    ['chat-alerts', 'chatAlerts'],
    ['allowAnySourceIP', 'allowAnySourceIp'],
    ['trigger', 'triggers'],
    ['logRetention', 'logRetentionDays'],
  ])('fails on %s, suggesting %s', (key, nearest) => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, [key]: {} }));
    expect(error.problems).toEqual([
      expect.stringContaining(`${key} is not a kitebridge setting; did you mean "${nearest}"?`),
    ]);
  });

  it('names a key with no near match without guessing', () => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, colour: 'blue' }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^colour is not a kitebridge setting/);
    expect(error.problems[0]).not.toContain('did you mean');
  });

  it('reports unknown keys alongside bad values', () => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, chatAlert: {}, replayWindowSeconds: 0 }));
    expect(error.problems).toEqual([
      expect.stringMatching(/^chatAlert /),
      expect.stringMatching(/^replayWindowSeconds must be at least 1/),
    ]);
  });

  it("leaves CDK's own context keys alone: feature flags, the CLI's keys, lookups, acknowledgements", () => {
    expect(() =>
      parseConfig({
        ...cdkJson.context,
        ...ALLOWLIST,
        ...CLI_CONTEXT,
        'aws:cdk:disable-version-reporting': true,
        'aws:cdk:toolkit:default-region': 'eu-west-1',
        'cli-telemetry': false,
        'acknowledged-issue-numbers': [32775],
        'assets-ecr-repository-name': 'my-assets',
        '@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver': true,
        '@aws-cdk/core.TreeMetadata:maxNodes': 1000,
        'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
      }),
    ).not.toThrow();
  });

  it('knows every config key, even when its value is bad', () => {
    for (const key of CONFIG_KEYS) {
      let problems: string[] = [];
      try {
        parseConfig({ ...ALLOWLIST, [key]: 0.5 });
      } catch (error) {
        problems = (error as ConfigError).problems;
      }
      expect(problems.join('\n')).not.toContain('not a kitebridge setting');
    }
  });
});

describe('wide webhookIps ranges', () => {
  it.each([
    ['0.0.0.0/0', 'every IPv4 address'],
    ['::/0', 'every IPv6 address'],
    ['10.0.0.0/7', '33,554,432 addresses'],
    ['2001:db8::/31', 'a /31'],
  ])('refuses %s without allowAnySourceIp, naming the entry and the fix', (cidr, extent) => {
    const error = configError(() => parseConfig({ webhookIps: ['192.0.2.0/24', cidr] }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(`webhookIps[1] "${cidr}"`);
    expect(error.problems[0]).toContain(extent);
    expect(error.problems[0]).toContain('npm run refresh-ips');
    expect(error.problems[0]).toContain('allowAnySourceIp: true');
  });

  it('names the entry as written in a -c comma list', () => {
    expect(() => parseConfig({ webhookIps: '192.0.2.1, 0.0.0.0/0' })).toThrow(
      /webhookIps\[1\] "0\.0\.0\.0\/0"/,
    );
  });

  it.each(['10.0.0.0/8', '2001:db8::/32', '0.0.0.0/32'])('accepts %s (at the bound or narrower)', (cidr) => {
    expect(parseConfig({ webhookIps: [cidr] }).webhookIps).toEqual([cidr]);
  });

  it('accepts any range with allowAnySourceIp: true', () => {
    expect(parseConfig({ webhookIps: ['0.0.0.0/0', '::/0'], allowAnySourceIp: true })).toMatchObject({
      allowAnySourceIp: true,
    });
  });
});

describe('error wording', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a missing autoscaler queue max',
      { autoscaler: { org: 'acme', queues: [{ queue: 'q' }] } },
      /^autoscaler\.queues\[0\]\.max is missing: add it/,
    ],
    ['a missing trigger name', { triggers: [{ kind: 'github' }] }, /^triggers\[0\]\.name is missing: add it/],
    ['chatAlerts without destinations', { chatAlerts: {} }, /^chatAlerts\.destinations is missing: add it/],
    ['a number as stackName', { stackName: 42 }, /^stackName must be text, not a number/],
    ['a number as alarmEmail', { alarmEmail: 42 }, /^alarmEmail must be text, not a number/],
    [
      'a number as a trigger header',
      { triggers: [{ name: 'x', kind: 'token', header: 5 }] },
      /^triggers\[0\]\.header must be text, not a number/,
    ],
    ['a string as a trigger', { triggers: ['x'] }, /^triggers\[0\] must be an object \{…\}, not text/],
    [
      'a misspelt destination key',
      { chatAlerts: { destinations: [{ name: 'x', service: 'slack', branch: ['main'] }] } },
      /^chatAlerts\.destinations\[0\]\.branch is not a destination setting; did you mean "branches"\?/,
    ],
    [
      'a misspelt queue key',
      { autoscaler: { org: 'acme', queues: [{ queue: 'q', max: 2, asg: 'g' }] } },
      /^autoscaler\.queues\[0\]\.asg is not a queue setting; did you mean "asgName"\?/,
    ],
    [
      'a misspelt analytics key',
      { analytics: { retention: 30 } },
      /^analytics\.retention is not an analytics setting; did you mean "retentionDays"\?/,
    ],
  ])('says what is wrong with %s in plain words', (_name, values, expected) => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, ...values }));
    expect(error.problems).toEqual([expect.stringMatching(expected)]);
    expect(error.message).not.toMatch(RAW_ZOD);
  });

  it.each<[string, string, RegExp]>([
    ['chatAlerts', '{destinations:[{name:ci,service:slack}]}', /^chatAlerts is not valid JSON \(.+\)/],
    ['autoscaler', '{"org":"acme",', /^autoscaler is not valid JSON \(.+\)/],
    ['triggers', "[{'name':'x'}]", /^triggers is not valid JSON \(.+\)/],
    ['analytics', 'off', /^analytics is not valid JSON \(.+\)\. .*, or false to turn it off\.$/],
    ['webhookIps', '["192.0.2.1"', /^webhookIps is not valid JSON \(.+\)/],
  ])('says a -c %s value that is not JSON is not valid JSON', (key, value, expected) => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, [key]: value }));
    expect(error.problems).toEqual([expect.stringMatching(expected)]);
    expect(error.problems[0]).toContain(`-c ${key}='`);
    expect(error.message).not.toMatch(RAW_ZOD);
  });

  it('tells synth where context comes from, without naming npm start', () => {
    const error = configError(() => parseConfig({ ...ALLOWLIST, replayWindowSeconds: 0 }));
    expect(error.message).toMatch(/cdk\.json/);
    expect(error.message).toMatch(/-c key=value/);
    expect(error.message).not.toContain('npm start');
  });
});

describe('analytics is on by default', () => {
  it.each<[string, unknown]>([
    ['absent', undefined],
    ['null', null],
    ['{}', {}],
    ['true', true],
    ['"true" from -c', 'true'],
    ['"{}" from -c', '{}'],
  ])('is on with the defaults when %s', (_name, analytics) => {
    expect(parseConfig({ ...ALLOWLIST, analytics }).analytics).toEqual(ANALYTICS_DEFAULTS);
  });

  it('keeps settings given', () => {
    expect(parseConfig({ ...ALLOWLIST, analytics: { retentionDays: 730 } }).analytics).toMatchObject({
      retentionDays: 730,
      bufferSeconds: 300,
    });
  });

  it.each([false, 'false'])('is off with analytics: %j', (analytics) => {
    expect(parseConfig({ ...ALLOWLIST, analytics }).analytics).toBeUndefined();
  });

  it('deploys the analytics consumer in a stack built from cdk.json, and none with analytics: false', () => {
    const on = Template.fromStack(buildStack().stack);
    on.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    const off = Template.fromStack(buildStack({ analytics: false }).stack);
    off.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
  });
});

describe('consumerSummary', () => {
  it('lists each consumer on or off, with the key that turns it on or off', () => {
    const summary = consumerSummary(parseConfig(ALLOWLIST));
    expect(summary.split('\n')).toEqual([
      'kitebridge consumers:',
      expect.stringMatching(/^ {2}on {3}analytics .*"analytics": false turns it off/),
      expect.stringMatching(
        /^ {2}off {2}chat alerts .*set "chatAlerts" to turn it on \(docs\/chat-alerts\.md\)/,
      ),
      expect.stringMatching(
        /^ {2}off {2}autoscaler .*set "autoscaler" to turn it on \(docs\/autoscaler\.md\)/,
      ),
      expect.stringMatching(/^ {2}off {2}trigger relay .*set "triggers" to turn it on/),
      'Buildkite API (buildkiteApi):',
      expect.stringMatching(/^ {2}off {2}reconcile .*set "buildkiteApi" .*\(README: Reconcile\)/),
      expect.stringMatching(/^ {2}off {2}token rotation .*set "buildkiteApi" .*by hand: npm run token/),
    ]);
  });

  it('shows the reconciliation and the token rotation that buildkiteApi runs, and their settings', () => {
    const on = consumerSummary(
      parseConfig({ ...ALLOWLIST, buildkiteApi: { organization: 'acme', rotationGraceMinutes: 90 } }),
    );
    expect(on).toMatch(/^ {2}on {3}reconcile {7}every 5 min, .*"reconcile": false turns it off$/m);
    expect(on).toMatch(
      /^ {2}on {3}token rotation {2}every 30 days, old token accepted 90 min more; npm run rotate/m,
    );
    const off = consumerSummary(
      parseConfig({
        ...ALLOWLIST,
        buildkiteApi: { organization: 'acme', rotationDays: 0 },
        reconcile: false,
      }),
    );
    expect(off).toMatch(/^ {2}off {2}reconcile .*remove "reconcile": false/m);
    expect(off).toMatch(
      /^ {2}on {3}token rotation {2}on demand only \("rotationDays": 0\), old token accepted 60 min/m,
    );
  });

  it('says so when nothing consumes the bus', () => {
    const summary = consumerSummary(parseConfig({ ...ALLOWLIST, analytics: false }));
    expect(summary).toMatch(/^ {2}off {2}analytics .*remove "analytics": false/m);
    expect(summary).toMatch(/No consumer is on: events reach the bus and its archive only\./);
  });

  it('shows configured consumers as on', () => {
    const summary = consumerSummary(
      parseConfig({
        ...ALLOWLIST,
        chatAlerts: { destinations: [{ name: 'ci', service: 'slack' }] },
        autoscaler: { org: 'acme', queues: [{ queue: 'q', max: 2 }] },
        triggers: [{ name: 'gh', kind: 'github' }],
        buildkiteApi: { organization: 'acme' },
      }),
    );
    expect(summary).not.toMatch(/^ {2}off/m);
    expect(summary).not.toContain('No consumer');
  });
});

describe('the CDK app (bin/kitebridge.ts)', () => {
  const root = join(__dirname, '../../..');

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

  it('synthesizes (with cdk-nag and CloudFormation validation) with the context the CLI passes', () => {
    const result = runApp({ ...CLI_CONTEXT, webhookIps: ['192.0.2.0/24'], 'aws:cdk:bundling-stacks': [] });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    expect(result.wroteTemplate).toBe(true);
    // Which consumers are on, once, on stderr (stdout carries the template under `cdk synth`).
    expect(result.stderr.match(/kitebridge consumers:/g)).toHaveLength(1);
    expect(result.stderr).toMatch(/on {3}analytics/);
    expect(result.stderr).toMatch(/off {2}chat alerts .*"chatAlerts"/);
    expect(result.stdout).not.toContain('kitebridge consumers');
  });

  it('exits non-zero on a misspelt key, naming it and the nearest known key', () => {
    const result = runApp({ ...ALLOWLIST, chatAlert: { destinations: [{ name: 'ci', service: 'slack' }] } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('chatAlert is not a kitebridge setting; did you mean "chatAlerts"?');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.wroteTemplate).toBe(false);
  });

  it('exits non-zero on a -c value that is not valid JSON, with a hint for the command line', () => {
    const result = runApp({ ...ALLOWLIST, chatAlerts: '{destinations:[{name:ci,service:slack}]}' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/chatAlerts is not valid JSON/);
    expect(result.stderr).toContain("-c chatAlerts='");
    expect(result.stderr).not.toContain('npm start');
    expect(result.wroteTemplate).toBe(false);
  });
});

describe('stage throttle', () => {
  it('cdk.json sets the defaults, within the account limits (10,000 rps, 5,000 burst)', () => {
    expect(cdkJson.context.throttleRateLimit).toBe(DEFAULT_THROTTLE.rateLimit);
    expect(cdkJson.context.throttleBurstLimit).toBe(DEFAULT_THROTTLE.burstLimit);
    expect(DEFAULT_THROTTLE.rateLimit).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_THROTTLE.burstLimit).toBeLessThanOrEqual(5_000);
  });

  it('has no warning when the throttle takes every delivery of a 1,000-job build (the defaults)', () => {
    expect(throttleWarning(parseConfig(ALLOWLIST))).toBeUndefined();
  });

  it.each([
    [50, 100],
    [1000, 100],
    [200, 800],
  ])('warns at rate %i / burst %i, with the refused count and the defaults', (rate, burst) => {
    const warning = throttleWarning({ throttleRateLimit: rate, throttleBurstLimit: burst });
    expect(warning).toMatch(
      new RegExp(
        `^throttleRateLimit ${rate} / throttleBurstLimit ${burst} would answer 429 to [\\d,]+ of the 4,003 deliveries of a 1,000-job parallel build`,
      ),
    );
    expect(warning).toContain('defaults 1000 / 2000');
  });
});
