import { anonymousPrincipal, runSimulation, type RunSimulationResults } from '@cloud-copilot/iam-simulate';
import type { Template } from 'aws-cdk-lib/assertions';

export const ACCOUNT = '123456789012';
export const API_ARN = `arn:aws:execute-api:us-east-1:${ACCOUNT}:abcde12345`;
export const ROUTES = {
  'POST /buildkite': `${API_ARN}/v1/POST/buildkite`,
  'POST /buildkite/{token}': `${API_ARN}/v1/POST/buildkite/sometoken`,
};

/**
 * The RestApi's resource policy as API Gateway evaluates it: `execute-api:/…` resources
 * expanded to the API's own ARN.
 */
export function deployedPolicy(template: Template): unknown {
  const apis = Object.values(template.findResources('AWS::ApiGateway::RestApi'));
  expect(apis).toHaveLength(1);
  const text = JSON.stringify(apis[0]?.Properties.Policy);
  expect(text).toContain('"execute-api:/');
  return JSON.parse(text.replace(/"execute-api:\//g, `"${API_ARN}/`));
}

/** Buildkite signs nothing with SigV4: its deliveries are anonymous requests from its source address. */
export async function simulate(
  policy: unknown,
  resource: string,
  sourceIp: string,
): Promise<RunSimulationResults> {
  return runSimulation(
    {
      request: {
        principal: anonymousPrincipal,
        action: 'execute-api:Invoke',
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:SourceIp': sourceIp },
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policy,
    },
    {},
  );
}

export async function outcome(policy: unknown, resource: string, sourceIp: string): Promise<string> {
  const result = await simulate(policy, resource, sourceIp);
  if (result.resultType === 'error') throw new Error(`Simulation failed: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}
