/**
 * The deployed stack's outputs, read from CloudFormation: how the day-2 commands (`npm run
 * redrive`, `replay`, `register`, `rotate`) find the resources they work on, instead of asking
 * for ARNs and URLs.
 *
 * The stack name is the project's (`stackName` in cdk.json, default `Kitebridge`); a command's
 * `--stack NAME` overrides it.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { loadLocalConfig } from '../local/local-config';

/** A stack or output the command needs is not there; the message names the fix. */
export class StackOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackOutputError';
  }
}

/** The stack name to use: `--stack NAME` when given, else the project's configured `stackName`. */
export function resolveStackName(flag?: string, cdkJsonPath?: string): string {
  if (flag !== undefined) {
    if (flag.trim() === '')
      throw new StackOutputError('--stack needs a stack name, e.g. --stack Kitebridge.');
    return flag;
  }
  return loadLocalConfig(cdkJsonPath).stackName;
}

async function regionOf(client: CloudFormationClient): Promise<string> {
  try {
    return await client.config.region();
  } catch {
    return 'no region set';
  }
}

/**
 * Every output of `stackName`, by output key (`WebhookUrl`, `EventBusName`, …). Throws a
 * StackOutputError naming the fix when the stack is not there (not deployed, or another region).
 */
export async function stackOutputs(
  stackName: string,
  client: CloudFormationClient = new CloudFormationClient({}),
): Promise<Record<string, string>> {
  let stacks;
  try {
    ({ Stacks: stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    const { name, message } = error as Error;
    if (name === 'ValidationError' && /does not exist/i.test(message)) {
      const region = await regionOf(client);
      throw new StackOutputError(
        `Stack "${stackName}" was not found in region ${region}. Deploy it first (npm run cdk deploy), ` +
          'or set AWS_REGION to the region it was deployed to, or name another stack with --stack NAME.',
      );
    }
    throw error;
  }
  const stack = stacks?.[0];
  if (!stack) {
    throw new StackOutputError(
      `CloudFormation returned no stack named "${stackName}". Deploy it first (npm run cdk deploy).`,
    );
  }
  const outputs: Record<string, string> = {};
  for (const { OutputKey, OutputValue } of stack.Outputs ?? []) {
    if (OutputKey !== undefined && OutputValue !== undefined) outputs[OutputKey] = OutputValue;
  }
  return outputs;
}

/** One output's value; a missing one means the stack predates it (or the feature is off). */
export function requireOutput(
  outputs: Readonly<Record<string, string>>,
  key: string,
  stackName: string,
): string {
  const value = outputs[key];
  if (value === undefined || value === '') {
    throw new StackOutputError(
      `Stack "${stackName}" has no output "${key}". The deployed stack is older than this command ` +
        '(or the feature that creates it is turned off): redeploy with npm run cdk deploy.',
    );
  }
  return value;
}
