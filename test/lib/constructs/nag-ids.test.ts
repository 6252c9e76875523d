import { App, Aws, Fn, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeSqsInvoked, nagResourceId, SERVERLESS_RULES } from '../../../lib/constructs/nag-ids';
import { acknowledgements } from '../helpers';

/** A stack with one policy whose two wildcard resources AwsSolutions-IAM5 reports. */
function wildcardStack(props: StackProps) {
  const stack = new Stack(new App(), 'NagIds', props);
  const bucket = new s3.Bucket(stack, 'Records');
  const role = new iam.Role(stack, 'Writer', {
    assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com'),
  });
  const objects = bucket.arnForObjects('records/*');
  const logGroups = `arn:${Aws.PARTITION}:logs:${stack.region}:${stack.account}:log-group:/kitebridge/*`;
  const policy = new iam.Policy(stack, 'WriterPolicy', {
    roles: [role],
    statements: [
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objects] }),
      new iam.PolicyStatement({ actions: ['logs:PutLogEvents'], resources: [logGroups] }),
    ],
  });
  return { stack, bucket, policy, objects, logGroups };
}

/** The IAM5 finding ids AwsSolutions reports for the stack, acknowledgements applied. */
function iam5Findings(stack: Stack): string[] {
  return new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.map((v) => v.ruleName)
    .filter((rule) => rule.startsWith('AwsSolutions-IAM5'))
    .sort();
}

const ENVIRONMENTS: [string, StackProps][] = [
  ['an environment-agnostic stack (tokens for region and account)', {}],
  ['a stack with a concrete region and account', { env: { account: '111111111111', region: 'eu-west-1' } }],
];

describe('nagResourceId', () => {
  it.each(ENVIRONMENTS)('names each resource as cdk-nag does in %s', (_case, props) => {
    const { stack, objects, logGroups } = wildcardStack(props);
    const expected = [objects, logGroups].map(
      (arn) => `AwsSolutions-IAM5[Resource::${nagResourceId(stack, arn)}]`,
    );
    expect(iam5Findings(stack)).toEqual(expected.sort());
  });

  it.each(ENVIRONMENTS)('gives ids that acknowledge the findings in %s', (_case, props) => {
    const { stack, policy, objects, logGroups } = wildcardStack(props);
    for (const arn of [objects, logGroups]) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResourceId(stack, arn)}]`,
        reason: 'test: generated keys below a prefix',
      });
    }
    expect(iam5Findings(stack)).toEqual([]);
  });

  it('follows the stack: a region written as a token does not acknowledge a concrete stack', () => {
    const { stack, policy, logGroups } = wildcardStack({
      env: { account: '111111111111', region: 'eu-west-1' },
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/kitebridge/*]',
      reason: 'test: hand-built id',
    });
    expect(iam5Findings(stack)).toContain(`AwsSolutions-IAM5[Resource::${nagResourceId(stack, logGroups)}]`);
    expect(nagResourceId(stack, logGroups)).toBe(
      'arn:<AWS::Partition>:logs:eu-west-1:111111111111:log-group:/kitebridge/*',
    );
  });

  it('writes literals as they are, Refs as <Name> and GetAtts as <Logical.Attr>', () => {
    const { stack, bucket } = wildcardStack({});
    const logicalId = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
    expect(nagResourceId(stack, 'arn:aws:s3:::fixed-bucket/*')).toBe('arn:aws:s3:::fixed-bucket/*');
    expect(nagResourceId(stack, bucket.bucketName)).toBe(`<${logicalId}>`);
    expect(nagResourceId(stack, bucket.bucketArn)).toBe(`<${logicalId}.Arn>`);
    expect(nagResourceId(stack, bucket.arnForObjects('a/*'))).toBe(`<${logicalId}.Arn>/a/*`);
  });

  it('refuses a value it cannot name, showing the value', () => {
    const { stack } = wildcardStack({});
    expect(() => nagResourceId(stack, Fn.importValue('SharedBucketArn'))).toThrow(
      'nagResourceId: cannot name {"Fn::ImportValue":"SharedBucketArn"}',
    );
    expect(() => nagResourceId(stack, `${Fn.importValue('SharedBucketArn')}/*`)).toThrow(
      'nagResourceId: cannot name {"Fn::ImportValue":"SharedBucketArn"}',
    );
  });
});

describe('acknowledgeSqsInvoked', () => {
  function queueAndFunction(redrive: boolean) {
    const stack = new Stack(new App(), 'SqsInvoked');
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
    const queue = new sqs.Queue(stack, 'Work', {
      ...(redrive ? { deadLetterQueue: { queue: new sqs.Queue(stack, 'WorkDlq'), maxReceiveCount: 7 } } : {}),
    });
    return { fn, queue };
  }

  it("acknowledges both rules on the function, naming the queue and its redrive's receive count", () => {
    const { fn, queue } = queueAndFunction(true);
    acknowledgeSqsInvoked(fn, queue, 'the work queue');
    const acks = acknowledgements(fn).map(({ path, id, reason }) => ({ path, id, reason }));
    expect(acks).toEqual([
      {
        path: fn.node.path,
        id: SERVERLESS_RULES.lambdaDlq,
        reason: expect.stringMatching(/the work queue and after 7 receives moves to its dead-letter queue/),
      },
      {
        path: fn.node.path,
        id: SERVERLESS_RULES.eventSourceMappingDestination,
        reason: expect.stringMatching(/return to the work queue .*\(maxReceiveCount 7\)/),
      },
    ]);
  });

  it('refuses a queue without a dead-letter queue, naming it', () => {
    const { fn, queue } = queueAndFunction(false);
    expect(() => acknowledgeSqsInvoked(fn, queue, 'the work queue')).toThrow(
      'the work queue has no dead-letter queue: give it one before acknowledging that its function needs none.',
    );
    expect(acknowledgements(fn)).toEqual([]);
  });
});
