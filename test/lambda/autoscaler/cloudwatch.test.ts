import { Metrics } from '@aws-lambda-powertools/metrics';
import { AGENT_TOKEN_PLACEHOLDER, agentTokenFrom } from '../../../lambda/autoscaler/adapters';
import { BuildkiteMetricsPublisher } from '../../../lambda/autoscaler/cloudwatch';

describe('BuildkiteMetricsPublisher', () => {
  it('writes buildkite-agent-metrics names in namespace Buildkite with exactly Org and Queue', () => {
    const metrics = new Metrics({ namespace: 'Buildkite', serviceName: 'autoscaler' });
    new BuildkiteMetricsPublisher(metrics).stage('acme', 'linux', {
      scheduled: 5,
      running: 3,
      waiting: 2,
      idleAgents: 1,
      busyAgents: 3,
      totalAgents: 4,
    });
    const emf = metrics.serializeMetrics() as unknown as Record<string, unknown> & {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
    };
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive?.Namespace).toBe('Buildkite');
    expect(directive?.Dimensions).toEqual([['Org', 'Queue']]);
    expect(directive?.Metrics.map((m) => m.Name).sort()).toEqual(
      [
        'BusyAgentCount',
        'BusyAgentPercentage',
        'IdleAgentCount',
        'RunningJobsCount',
        'ScheduledJobsCount',
        'TotalAgentCount',
        'UnfinishedJobsCount',
        'WaitingJobsCount',
      ].sort(),
    );
    expect(emf).toMatchObject({
      Org: 'acme',
      Queue: 'linux',
      ScheduledJobsCount: 5,
      RunningJobsCount: 3,
      WaitingJobsCount: 2,
      UnfinishedJobsCount: 10,
      BusyAgentPercentage: 75,
    });
    expect(emf).not.toHaveProperty('service');
  });
});

describe('agentTokenFrom', () => {
  it.each([
    ['tok', 'tok'],
    [' tok\n', 'tok'],
    ['{"token":"tok"}', 'tok'],
  ])('%j → %s', (value, token) => expect(agentTokenFrom(value)).toBe(token));

  it('refuses the placeholder and empty values with a message that says what to do', () => {
    expect(() => agentTokenFrom(AGENT_TOKEN_PLACEHOLDER)).toThrow(/placeholder/);
    expect(() => agentTokenFrom('{}')).toThrow(/token/);
    expect(() => agentTokenFrom('')).toThrow(/placeholder/);
  });
});
