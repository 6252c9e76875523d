import { App, Stack, Validations, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import * as path from 'node:path';
import { KiteFunction } from '../../lib/constructs/kite-function';
import { SERVERLESS_RULES } from '../../lib/constructs/nag-ids';
import { parseConfig } from '../../lib/config';
import { KitebridgeStack } from '../../lib/kitebridge-stack';
import {
  acknowledgements,
  type Acknowledgement,
  buildStack,
  cdkJsonConfig,
  logicalIdOf,
  synthStack,
  TEST_WEBHOOK_IPS,
  testApp,
} from './helpers';

/** One line per violating resource: rule, construct path, description. */
function describeViolations(report: PolicyValidationPluginReport): string[] {
  return report.violations.flatMap((v) =>
    v.violatingResources.map(
      (r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}: ${v.description}`,
    ),
  );
}

/** The packs the stack must pass: AwsSolutions and Serverless, each as a fresh instance. */
const PACKS: [string, () => NagPack][] = [
  ['AwsSolutions', () => new AwsSolutionsChecks()],
  ['Serverless', () => new ServerlessChecks()],
];

/** The violations a pack would report if nothing were acknowledged (reaches into cdk-nag's private check). */
function unacknowledgedReport(scope: IConstruct, makePack: () => NagPack): PolicyValidationPluginReport {
  const pack = makePack();
  const internals = pack as unknown as { isAcknowledged: (...args: unknown[]) => boolean };
  expect(typeof internals.isAcknowledged).toBe('function');
  internals.isAcknowledged = () => false;
  return pack.validateScope(scope);
}

/**
 * The rule ids (`SQS3`, `IAM5`, …, prefixed with the pack's name, `AwsSolutions-` or
 * `Serverless-`) a pack applies (reaches into its protected applyRule).
 */
function packRuleIds(makePack: () => NagPack): Set<string> {
  const pack = makePack();
  const ids = new Set<string>();
  const internals = pack as unknown as {
    applyRule: (params: { ruleSuffixOverride?: string; rule: { name: string } }) => void;
  };
  internals.applyRule = (params) =>
    ids.add(`${pack.readPackName}-${params.ruleSuffixOverride ?? params.rule.name}`);
  const stack = new Stack(new App(), 'Probe');
  new sqs.Queue(stack, 'Queue');
  pack.validateScope(stack);
  return ids;
}

/** Every rule id of both packs. */
function knownRuleIds(): Set<string> {
  const awsSolutions = packRuleIds(PACKS[0]![1]);
  const serverless = packRuleIds(PACKS[1]![1]);
  expect(awsSolutions.size).toBeGreaterThan(50);
  expect(serverless.size).toBeGreaterThan(15);
  return new Set([...awsSolutions, ...serverless]);
}

/** The default stack plus two consumers: a KiteFunction and a queue target. */
function stackWithConsumers(): Stack {
  const { stack } = buildStack();
  const fn = new KiteFunction(stack, 'Notifier', {
    entry: path.join(__dirname, 'fixtures/consumer-handler.ts'),
    description: 'test consumer',
    logRetentionDays: 30,
  });
  stack.addConsumer('FailedBuilds', {
    pattern: {
      source: ['buildkite'],
      'detail-type': ['build.finished'],
      detail: { build: { state: ['failed'] } },
    },
    receiver: { function: fn },
  });
  const inbox = new sqs.Queue(stack, 'Inbox', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  Validations.of(inbox).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'Test queue; its consumer DLQ catches failures.',
  });
  Validations.of(inbox).acknowledge({
    id: SERVERLESS_RULES.sqsRedrivePolicy,
    reason: 'Test queue; its consumer DLQ catches failures.',
  });
  stack.addConsumer('Queue', {
    pattern: { source: ['buildkite'] },
    receiver: { target: (dlq) => new targets.SqsQueue(inbox, { deadLetterQueue: dlq }) },
  });
  return stack;
}

/** As `cdk synth` builds it with an environment: region and account are literals, not tokens. */
function stackWithEnvironment(): Stack {
  const config = parseConfig({
    ...cdkJsonConfig(),
    webhookIps: TEST_WEBHOOK_IPS,
    autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
    triggers: [{ name: 'github-deploy', kind: 'github' }],
    chatAlerts: { destinations: [{ name: 'ci-slack', service: 'slack' }] },
    analytics: {},
  });
  return new KitebridgeStack(testApp(), 'KitebridgeEnv', {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
}

const stacks: [string, () => Stack][] = [
  ['a stack with a concrete environment and every consumer', stackWithEnvironment],
  ['the default stack', () => synthStack().stack],
  ['a stack with consumers', stackWithConsumers],
  [
    'the stack with every optional branch flipped',
    () =>
      synthStack({
        tailEvents: false,
        alarmEmail: 'ops@example.com',
        allowAnySourceIp: true,
        webhookIps: [],
        archiveRetentionDays: 0,
        oversizedRetentionDays: 0,
      }).stack,
  ],
  [
    'the stack with every built-in consumer and a trigger',
    () =>
      synthStack({
        autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
        chatAlerts: { destinations: [{ name: 'ci-slack', service: 'slack' }] },
        analytics: {},
        triggers: [
          {
            name: 'github-deploy',
            kind: 'github',
            sourceIps: ['198.51.100.0/24'],
            filter: { action: ['closed'] },
          },
          { name: 'pagerduty', kind: 'token', header: 'X-PD-Token' },
        ],
      }).stack,
  ],
  // A rotation schedule satisfies SMG4 on the webhook secret: its acknowledgement would be stale.
  [
    'the stack with buildkiteApi (reconciliation, scheduled rotation)',
    () => synthStack({ buildkiteApi: { organization: 'acme' } }).stack,
  ],
  [
    'the stack with buildkiteApi, rotation on demand only and no reconciliation',
    () => synthStack({ buildkiteApi: { organization: 'acme', rotationDays: 0 }, reconcile: false }).stack,
  ],
];

describe.each(stacks)('AwsSolutions and Serverless on %s', (_name, makeStack) => {
  const stack = makeStack();

  it('reports no unacknowledged AwsSolutions findings', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(stack);
    expect(describeViolations(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('reports no unacknowledged Serverless findings', () => {
    const report = new ServerlessChecks(stack).validateScope(stack);
    expect(describeViolations(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('has a reason for every acknowledgement, each on one resource, not the stack', () => {
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect({
        id: ack.id,
        path: ack.path,
        reasonOk: typeof ack.reason === 'string' && ack.reason.trim().length > 20,
      }).toEqual({
        id: expect.stringMatching(/^(AwsSolutions-[A-Z]+\d+|Serverless-[A-Za-z]+)(\[.+\])?$/),
        path: ack.path,
        reasonOk: true,
      });
      expect(Stack.isStack(ack.node) || ack.node instanceof App).toBe(false);
    }
  });

  it('has no stale acknowledgement: each one hides a finding on its own subtree', () => {
    const known = knownRuleIds();
    const findings = PACKS.flatMap(([, makePack]) =>
      unacknowledgedReport(stack, makePack).violations.flatMap((v) =>
        v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })),
      ),
    );
    const hides = (ack: Acknowledgement) =>
      findings.some((f) => f.rule === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)));
    // The dead-letter-queue helper acknowledges SQS3 on every queue it makes; on a queue that is
    // already another queue's redrive target (the spool's) the rule passes by itself.
    const queues = JSON.stringify(Template.fromStack(stack).findResources('AWS::SQS::Queue'));
    const isRedriveTarget = (ack: Acknowledgement) =>
      ack.node instanceof sqs.Queue &&
      queues.includes(
        `"deadLetterTargetArn":${JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(ack.node), 'Arn'] })}`,
      );
    const stale = acknowledgements(stack)
      .filter((ack) => known.has(ack.id.replace(/\[.*$/, '')))
      .filter((ack) => !hides(ack) && !(ack.id === 'AwsSolutions-SQS3' && isRedriveTarget(ack)))
      .map((ack) => `${ack.id} on ${ack.path}`);
    expect(stale).toEqual([]);
  });
});

// Fails while lib/constructs/alarms.ts acknowledges AwsSolutions-SNS2, a rule cdk-nag 3's pack no longer has.
it('every acknowledgement names a rule the AwsSolutions or Serverless pack has', () => {
  const known = knownRuleIds();
  const unknown = stacks
    .flatMap(([, makeStack]) => acknowledgements(makeStack()))
    .filter((ack) => !known.has(ack.id.replace(/\[.*$/, '')))
    .map((ack) => `${ack.id} on ${ack.path}`);
  expect([...new Set(unknown)]).toEqual([]);
});

describe('the AwsSolutions check itself', () => {
  it('reports an unencrypted queue without TLS enforcement or a dead-letter queue', () => {
    const app = testApp();
    const stack = new Stack(app, 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const rules = report.violations.map((v) => v.ruleName);
    expect(report.success).toBe(false);
    expect(rules).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']),
    );
    expect(report.violations[0]?.violatingResources[0]?.constructPath).toBe('Bad/Plain/Resource');
  });

  it('the Serverless pack reports a queue without a redrive policy and a function without a DLQ', () => {
    const app = testApp();
    const stack = new Stack(app, 'BadServerless');
    new sqs.Queue(stack, 'Plain');
    new KiteFunction(stack, 'Lonely', {
      entry: path.join(__dirname, 'fixtures/consumer-handler.ts'),
      description: 'test function',
      logRetentionDays: 30,
    });
    const report = new ServerlessChecks(app).validateScope(stack);
    expect(report.success).toBe(false);
    expect(report.violations.map((v) => v.ruleName)).toEqual(
      expect.arrayContaining([SERVERLESS_RULES.sqsRedrivePolicy, SERVERLESS_RULES.lambdaDlq]),
    );
  });

  it('reports an unacknowledged finding inside the kitebridge stack', () => {
    const { stack } = buildStack();
    new sqs.Queue(stack, 'Stray', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const report = new AwsSolutionsChecks(stack).validateScope(stack);
    expect(describeViolations(report).every((line) => line.includes('/Stray/'))).toBe(true);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SQS4');
  });
});
