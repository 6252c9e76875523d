/**
 * The deployed wiring of the fleet path: a job.started of a mapped queue is recorded in the fleet
 * table and protects the agent's instance through Auto Scaling, before the evaluation it triggers.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AGENT_TOKEN_PLACEHOLDER } from '../../../lambda/autoscaler/agent-token';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { autoscalerHandlerEnv } from '../../support/autoscaler';
import { mockAwsClients } from '../../support/aws-mocks';
import { publishedEvent } from '../../support/webhook-bodies';

const { dynamo, asg, secrets } = mockAwsClients({
  dynamo: DynamoDBClient,
  asg: AutoScalingClient,
  secrets: SecretsManagerClient,
});
let handler: (event: EventEnvelope) => Promise<void>;

beforeAll(async () => {
  Object.assign(process.env, autoscalerHandlerEnv([{ queue: 'linux', asgName: 'ci-linux', max: 5 }]));
  ({ handler } = await import('../../../lambda/autoscaler/handler'));
});
beforeEach(() => {
  // The agent token is still the placeholder: the metrics call fails before any request, so the
  // evaluation is "no action" and nothing here reaches the network.
  secrets.on(GetSecretValueCommand).resolves({ SecretString: AGENT_TOKEN_PLACEHOLDER });
  jest.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('no network in tests'));
  // Reads find nothing, writes succeed.
  dynamo.onAnyCommand().resolves({});
  dynamo.on(QueryCommand).resolves({ Items: [] });
  asg.on(SetInstanceProtectionCommand).resolves({});
  asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
});
afterEach(() => jest.restoreAllMocks());

describe('autoscaler handler: the fleet', () => {
  it('job.started: fleet record written, the instance protected, no scaling without metrics', async () => {
    await handler(
      publishedEvent(
        {
          event: 'job.started',
          job: {
            id: 'job-1',
            agent_query_rules: ['queue=linux'],
            started_at: '2026-06-03 04:15:00 UTC',
            agent: { id: 'agent-1', meta_data: ['queue=linux', 'aws:instance-id=i-0a4f2c9e81b7d3056'] },
          },
        },
        'evt-1',
      ),
    );
    const puts = dynamo.commandCalls(PutItemCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.TableName, p.Item?.sk?.S])).toEqual([
      ['fleet', 'j#job-1'],
      ['fleet', 'm#agent#agent-1'],
    ]);
    expect(asg.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'ci-linux', InstanceIds: ['i-0a4f2c9e81b7d3056'], ProtectedFromScaleIn: true },
    ]);
    expect(asg.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
    expect(globalThis.fetch).not.toHaveBeenCalled();
  });
});
