import { App, CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import cdkJson from '../../cdk.json';
import { CONFIG_KEYS, parseConfig, type KitebridgeConfig } from '../../lib/config';
import { KitebridgeStack } from '../../lib/kitebridge-stack';

/** The allowlist every infra test uses unless it overrides `webhookIps`: one IPv4 and one IPv6 range. */
export const TEST_WEBHOOK_IPS = ['192.0.2.0/24', '2001:db8::/32'];

export interface SynthOptions {
  /** Run esbuild for the functions (slow); off by default. */
  readonly bundle?: boolean;
}

export interface BuiltStack {
  readonly app: App;
  readonly stack: KitebridgeStack;
  readonly config: KitebridgeConfig;
}

export interface SynthesizedStack extends BuiltStack {
  readonly template: Template;
}

/** The config keys cdk.json sets, as the CLI would pass them to the app. */
export function cdkJsonConfig(): Record<string, unknown> {
  const context = cdkJson.context as Record<string, unknown>;
  return Object.fromEntries(CONFIG_KEYS.filter((key) => key in context).map((key) => [key, context[key]]));
}

/**
 * An App with cdk.json's context (feature flags included), no built-in CloudFormation validation,
 * and, unless `bundle` is set, no bundling.
 */
export function testApp(opts: SynthOptions = {}): App {
  return new App({
    builtinCloudFormationValidation: false,
    context: { ...cdkJson.context, ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
}

/**
 * A fresh, not yet synthesized stack built from cdk.json's config plus `overrides`. Use it when the
 * test adds constructs (a consumer) before synthesizing: `App.synth()` caches its first result.
 */
export function buildStack(overrides: Record<string, unknown> = {}, opts: SynthOptions = {}): BuiltStack {
  const app = testApp(opts);
  const config = parseConfig({ ...cdkJsonConfig(), webhookIps: TEST_WEBHOOK_IPS, ...overrides });
  const stack = new KitebridgeStack(app, config.stackName, { config });
  return { app, stack, config };
}

const cache = new Map<string, SynthesizedStack>();

/**
 * Synthesizes the kitebridge stack with cdk.json's config plus `overrides`; results are cached per
 * argument set (within one test file), so never add constructs to the returned stack.
 */
export function synthStack(
  overrides: Record<string, unknown> = {},
  opts: SynthOptions = {},
): SynthesizedStack {
  const key = JSON.stringify([overrides, Boolean(opts.bundle)]);
  let result = cache.get(key);
  if (!result) {
    const built = buildStack(overrides, opts);
    result = { ...built, template: Template.fromStack(built.stack) };
    cache.set(key, result);
  }
  return result;
}

/** The logical id a construct's CloudFormation resource gets in its stack (read, never hard-coded). */
export function logicalIdOf(construct: IConstruct): string {
  const element = (
    CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild
  ) as CfnElement;
  const stack = Stack.of(construct);
  return stack.resolve(stack.getLogicalId(element)) as string;
}

export interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** `x` or `[x, y]` as a list. */
export function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every identity-policy statement in the template: AWS::IAM::Policy, managed policies and roles' inline policies. */
export function allIdentityStatements(
  template: Template,
): { resource: string; statement: PolicyStatementJson }[] {
  const out: { resource: string; statement: PolicyStatementJson }[] = [];
  const add = (resource: string, document: { Statement?: PolicyStatementJson[] } | undefined) => {
    for (const statement of document?.Statement ?? []) out.push({ resource, statement });
  };
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, res] of Object.entries(template.findResources(type)))
      add(id, res.Properties.PolicyDocument);
  }
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const policy of res.Properties.Policies ?? []) add(id, policy.PolicyDocument);
  }
  return out;
}

/** The statements of every AWS::IAM::Policy attached to the role with logical id `roleId`. */
export function statementsOfRole(template: Template, roleId: string): PolicyStatementJson[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((res) =>
      asList(res.Properties.Roles).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId })),
    )
    .flatMap((res) => res.Properties.PolicyDocument.Statement as PolicyStatementJson[]);
}

/** The logical id of the role a function (by logical id) runs as. */
export function roleOfFunction(template: Template, functionId: string): string {
  const fn = template.toJSON().Resources[functionId];
  const role = fn?.Properties?.Role?.['Fn::GetAtt']?.[0];
  if (typeof role !== 'string') throw new Error(`Function ${functionId} has no role reference`);
  return role;
}

export interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: unknown;
  readonly node: IConstruct;
}

/** Every `Validations.acknowledge` under `scope`, read from construct metadata. */
export function acknowledgements(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([key, reason]) => ({
          path: node.node.path,
          id: key.replace(/^annotation::/i, ''),
          reason,
          node,
        })),
      ),
  );
}

/**
 * The stack's spine (ingress, bus, alarms, addConsumer): analytics, deployed by default, is left
 * out and tested in constructs/analytics.test.ts.
 */
export const SPINE = { analytics: false };

/** Logical ids of the stack's main resources, read from its constructs. */
export function idsOf(stack: KitebridgeStack) {
  const { bus, ingress, alarms } = stack;
  return {
    api: logicalIdOf(ingress.api),
    stage: logicalIdOf(ingress.api.deploymentStage),
    verify: logicalIdOf(ingress.verify),
    secret: logicalIdOf(ingress.secret),
    accessLogs: logicalIdOf(ingress.accessLogs),
    bus: logicalIdOf(bus.bus),
    archive: logicalIdOf(bus.archive),
    spool: logicalIdOf(bus.spool),
    spoolDeadLetters: logicalIdOf(bus.spoolDeadLetters),
    redrive: logicalIdOf(bus.redrive),
    bucket: logicalIdOf(bus.oversizedBodies),
    tailLogs: bus.tailLogGroup ? logicalIdOf(bus.tailLogGroup) : undefined,
    topic: logicalIdOf(alarms.topic),
  };
}

/** `{"Fn::GetAtt": [id, attribute]}` as CloudFormation writes it. */
export const getAtt = (id: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [id, attribute] });
/** `{"Ref": id}` as CloudFormation writes it. */
export const ref = (id: string) => ({ Ref: id });

/** The properties of a bucket encrypted with S3-managed keys and closed to the public. */
export const PRIVATE_ENCRYPTED_BUCKET = {
  BucketEncryption: {
    ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
  },
  PublicAccessBlockConfiguration: {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  },
} as const;

/** The S3 statements among `statements` (a role's). */
export const s3StatementsOf = (statements: PolicyStatementJson[]) =>
  statements.filter((s) => asList(s.Action).some((a) => a.startsWith('s3:')));

/** The one S3 statement a consumer needs: GetObject under oversized/ of the bodies bucket `bucketId`. */
export const readsOversizedBodies = (bucketId: string): PolicyStatementJson => ({
  Effect: 'Allow',
  Action: 's3:GetObject',
  Resource: { 'Fn::Join': ['', [getAtt(bucketId), '/oversized/*']] },
});

/** The pieces of an `Fn::Join` with '' (or a plain string) as one string; tokens become `${...}`. */
export function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`Not a string or Fn::Join: ${JSON.stringify(value)}`);
  return join[1]
    .map((part) => (typeof part === 'string' ? part : `\${${JSON.stringify(part)}}`))
    .join(join[0]);
}

/** A statement's actions as a list. */
export const actionsOf = (statement: PolicyStatementJson) => asList(statement.Action);

/** A stack with a consumer function on failed builds; `props` go to addConsumer. */
export function consumerStack(props: Partial<Parameters<KitebridgeStack['addConsumer']>[1]> = {}) {
  const { app, stack } = buildStack(SPINE);
  const fn = new lambda.Function(stack, 'ConsumerFunction', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  const consumer = stack.addConsumer('MyConsumer', {
    pattern: {
      source: ['buildkite'],
      'detail-type': ['build.finished'],
      detail: { build: { state: ['failed'] } },
    },
    receiver: { function: fn },
    ...props,
  });
  return { app, stack, fn, consumer, template: Template.fromStack(stack) };
}
