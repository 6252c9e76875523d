import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { requireOutput, resolveStackName, stackOutputs, StackOutputError } from '../../scripts/stack-outputs';

const cfn = mockClient(CloudFormationClient);
const client = () => new CloudFormationClient({ region: 'eu-west-1' });

beforeEach(() => cfn.reset());

describe('stackOutputs', () => {
  it('returns every output by key, from DescribeStacks on the named stack', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Kitebridge' }).resolves({
      Stacks: [
        {
          StackName: 'Kitebridge',
          CreationTime: new Date(0),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'EventBusName', OutputValue: 'kitebridge-bus' },
            {
              OutputKey: 'SpoolDeadLetterQueueUrl',
              OutputValue: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
            },
            { OutputKey: 'NoValue' },
          ],
        },
      ],
    });

    await expect(stackOutputs('Kitebridge', client())).resolves.toEqual({
      EventBusName: 'kitebridge-bus',
      SpoolDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
    });
  });

  it('says to deploy first, naming the region, when the stack does not exist', async () => {
    const error = Object.assign(new Error('Stack with id Kitebridge does not exist'), {
      name: 'ValidationError',
    });
    cfn.on(DescribeStacksCommand).rejects(error);

    const attempt = stackOutputs('Kitebridge', client());
    await expect(attempt).rejects.toBeInstanceOf(StackOutputError);
    await expect(attempt).rejects.toThrow(
      /Stack "Kitebridge" was not found in region eu-west-1\. Deploy it first \(npm run cdk deploy\), or set AWS_REGION/,
    );
  });

  it('passes other errors through unchanged (credentials, throttling)', async () => {
    const error = Object.assign(new Error('The security token included in the request is invalid.'), {
      name: 'InvalidClientTokenId',
    });
    cfn.on(DescribeStacksCommand).rejects(error);

    await expect(stackOutputs('Kitebridge', client())).rejects.toBe(error);
  });

  it('returns no outputs for a stack that has none', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'Kitebridge', CreationTime: new Date(0), StackStatus: 'CREATE_COMPLETE' }],
    });
    await expect(stackOutputs('Kitebridge', client())).resolves.toEqual({});
  });
});

describe('requireOutput', () => {
  it('returns the value of a present output', () => {
    expect(requireOutput({ ArchiveName: 'a' }, 'ArchiveName', 'Kitebridge')).toBe('a');
  });

  it('names the missing key and says to redeploy', () => {
    expect(() => requireOutput({}, 'ArchiveName', 'Kitebridge')).toThrow(
      /Stack "Kitebridge" has no output "ArchiveName"\..*redeploy with npm run cdk deploy/,
    );
  });
});

describe('resolveStackName', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stack-name-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cdkJson = (context: Record<string, unknown>) => {
    const file = path.join(dir, `cdk-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ app: 'x', context }));
    return file;
  };

  it('prefers --stack', () => {
    expect(resolveStackName('Other', cdkJson({ stackName: 'Configured' }))).toBe('Other');
  });

  it('reads stackName from the project configuration', () => {
    expect(resolveStackName(undefined, cdkJson({ stackName: 'Configured' }))).toBe('Configured');
  });

  it('defaults to Kitebridge', () => {
    expect(resolveStackName(undefined, cdkJson({}))).toBe('Kitebridge');
  });

  it('refuses an empty --stack', () => {
    expect(() => resolveStackName('  ')).toThrow(/--stack needs a stack name/);
  });
});
