import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  SetInstanceHealthCommand,
  SetInstanceProtectionCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { AGENT_TOKEN_PLACEHOLDER, agentTokenFrom } from '../../../lambda/autoscaler/agent-token';
import {
  AutoScalingGroups,
  BuildkiteMetricsPublisher,
  BusHealthEvents,
  DynamoAutoscalerStateStore,
  DynamoFleetStore,
} from '../../../lambda/autoscaler/aws-adapters';
import type { FleetMember, TrackedJob } from '../../../lambda/autoscaler/fleet';
import type { BusEntry } from '../../../lambda/shared/contract';

const asg = mockClient(AutoScalingClient);
beforeEach(() => asg.reset());

describe('AutoScalingGroups', () => {
  it('describes the named groups, following pages, and leaves out missing ones', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({
        AutoScalingGroups: [
          { AutoScalingGroupName: 'ci-linux', DesiredCapacity: 2, MinSize: 0, MaxSize: 20 } as never,
        ],
        NextToken: 'next',
      })
      .resolvesOnce({
        AutoScalingGroups: [
          { AutoScalingGroupName: 'ci-arm64', DesiredCapacity: 1, MinSize: 1, MaxSize: 5 } as never,
        ],
      });
    const groups = await new AutoScalingGroups(new AutoScalingClient({})).describe([
      'ci-linux',
      'ci-arm64',
      'gone',
    ]);
    expect([...groups]).toEqual([
      ['ci-linux', { desired: 2, min: 0, max: 20, instances: [] }],
      ['ci-arm64', { desired: 1, min: 1, max: 5, instances: [] }],
    ]);
    const calls = asg.commandCalls(DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { AutoScalingGroupNames: ['ci-linux', 'ci-arm64', 'gone'] },
      { AutoScalingGroupNames: ['ci-linux', 'ci-arm64', 'gone'], NextToken: 'next' },
    ]);
  });

  it('sets an absolute desired capacity without honouring the ASG cooldown', async () => {
    asg.on(SetDesiredCapacityCommand).resolves({});
    await new AutoScalingGroups(new AutoScalingClient({})).setDesired('ci-linux', 7);
    expect(asg.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'ci-linux', DesiredCapacity: 7, HonorCooldown: false },
    ]);
  });

  it('lets errors through so the invocation is retried', async () => {
    asg
      .on(SetDesiredCapacityCommand)
      .rejects(new Error('ValidationError: New SetDesiredCapacity value 30 is above max value 20'));
    await expect(new AutoScalingGroups(new AutoScalingClient({})).setDesired('ci-linux', 30)).rejects.toThrow(
      'above max',
    );
  });
});

const ddb = mockClient(DynamoDBClient);
beforeEach(() => ddb.reset());
const store = () => new DynamoAutoscalerStateStore(new DynamoDBClient({}), 'state');
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'no', $metadata: {} });

describe('DynamoAutoscalerStateStore', () => {
  it('reads the gate item consistently', async () => {
    ddb.on(GetItemCommand).resolves({
      Item: { pk: { S: 'gate' }, lastEvaluatedAt: { N: '1000' }, pollDurationSeconds: { N: '15' } },
    });
    expect(await store().readGate()).toEqual({
      lastEvaluatedAt: 1000,
      trailingAt: undefined,
      pollDurationSeconds: 15,
    });
    expect(ddb.commandCalls(GetItemCommand)[0]?.args[0].input).toMatchObject({
      ConsistentRead: true,
      Key: { pk: { S: 'gate' } },
    });
  });

  it('claims an evaluation with compare-and-set on lastEvaluatedAt, false when another won', async () => {
    ddb.on(UpdateItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());
    expect(await store().claimEvaluation(1000, 11_000)).toBe(true);
    expect(await store().claimEvaluation(undefined, 11_000)).toBe(false);
    const [first, second] = ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
    expect(first).toMatchObject({
      ConditionExpression: 'lastEvaluatedAt = :seen',
      ExpressionAttributeValues: { ':seen': { N: '1000' }, ':now': { N: '11000' } },
    });
    expect(second?.ConditionExpression).toBe('attribute_not_exists(lastEvaluatedAt)');
  });

  it('claims the trailing slot only when none is pending', async () => {
    ddb.on(UpdateItemCommand).resolves({});
    expect(await store().claimTrailing(1000, 11_000, 4000)).toBe(true);
    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input.ConditionExpression).toContain(
      'attribute_not_exists(trailingAt) OR trailingAt <= :seen',
    );
  });

  it('rethrows other errors', async () => {
    ddb.on(UpdateItemCommand).rejects(new Error('throttled'));
    await expect(store().claimEvaluation(1, 2)).rejects.toThrow('throttled');
  });

  it('records queue state with a TTL', async () => {
    ddb.on(UpdateItemCommand).resolves({});
    await store().recordQueue('linux', { lastScaleOutAt: 5000 }, 5000);
    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: { S: 'queue#linux' } },
      UpdateExpression: 'SET #k0 = :v0, expiresAt = :exp',
      ExpressionAttributeNames: { '#k0': 'lastScaleOutAt' },
      ExpressionAttributeValues: { ':v0': { N: '5000' }, ':exp': { N: String(5 + 7 * 24 * 3600) } },
    });
  });
});

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

describe('AutoScalingGroups: instances', () => {
  const groups = () => new AutoScalingGroups(new AutoScalingClient({}));
  const notInGroup = (message: string) => Object.assign(new Error(message), { name: 'ValidationError' });

  it('describes each instance: lifecycle, health and scale-in protection', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'ci-linux',
          DesiredCapacity: 2,
          MinSize: 0,
          MaxSize: 5,
          Instances: [
            {
              InstanceId: 'i-0123456789abcdef0',
              LifecycleState: 'InService',
              HealthStatus: 'Healthy',
              ProtectedFromScaleIn: true,
            },
            { InstanceId: 'i-0123456789abcdef1', LifecycleState: 'Pending', HealthStatus: 'Healthy' },
          ],
        } as never,
      ],
    });
    expect((await groups().describe(['ci-linux'])).get('ci-linux')?.instances).toEqual([
      {
        instanceId: 'i-0123456789abcdef0',
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
        protectedFromScaleIn: true,
      },
      {
        instanceId: 'i-0123456789abcdef1',
        lifecycleState: 'Pending',
        healthStatus: 'Healthy',
        protectedFromScaleIn: false,
      },
    ]);
  });

  it('terminates one instance and decrements desired capacity', async () => {
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    expect(await groups().terminateInstance('i-0123456789abcdef0')).toBe('done');
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
      InstanceId: 'i-0123456789abcdef0',
      ShouldDecrementDesiredCapacity: true,
    });
  });

  it('sets and clears scale-in protection on one instance of the named group', async () => {
    asg.on(SetInstanceProtectionCommand).resolves({});
    await groups().setScaleInProtection('ci-linux', 'i-0123456789abcdef0', true);
    await groups().setScaleInProtection('ci-linux', 'i-0123456789abcdef0', false);
    expect(asg.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'ci-linux', InstanceIds: ['i-0123456789abcdef0'], ProtectedFromScaleIn: true },
      { AutoScalingGroupName: 'ci-linux', InstanceIds: ['i-0123456789abcdef0'], ProtectedFromScaleIn: false },
    ]);
  });

  it('marks an instance Unhealthy, respecting the group grace period', async () => {
    asg.on(SetInstanceHealthCommand).resolves({});
    expect(await groups().markUnhealthy('i-0123456789abcdef0')).toBe('done');
    expect(asg.commandCalls(SetInstanceHealthCommand)[0]?.args[0].input).toEqual({
      InstanceId: 'i-0123456789abcdef0',
      HealthStatus: 'Unhealthy',
      ShouldRespectGracePeriod: true,
    });
  });

  it.each([
    ['terminate', 'Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0'],
    ['protect', 'The instance i-0123456789abcdef0 is not part of Auto Scaling group ci-linux.'],
    ['heal', 'Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0'],
  ])('%s: an instance no longer in the group is "not-in-group", not an error', async (what, message) => {
    asg.on(TerminateInstanceInAutoScalingGroupCommand).rejects(notInGroup(message));
    asg.on(SetInstanceProtectionCommand).rejects(notInGroup(message));
    asg.on(SetInstanceHealthCommand).rejects(notInGroup(message));
    const g = groups();
    const call =
      what === 'terminate'
        ? g.terminateInstance('i-0123456789abcdef0')
        : what === 'protect'
          ? g.setScaleInProtection('ci-linux', 'i-0123456789abcdef0', true)
          : g.markUnhealthy('i-0123456789abcdef0');
    expect(await call).toBe('not-in-group');
  });

  it('rethrows other failures (throttling, a min-size refusal) so the invocation is retried', async () => {
    asg
      .on(TerminateInstanceInAutoScalingGroupCommand)
      .rejects(
        notInGroup(
          "Currently, desiredCapacity=1 and minSize=1. Terminating instance without replacement would violate group's min size constraint.",
        ),
      );
    await expect(groups().terminateInstance('i-0123456789abcdef0')).rejects.toThrow('min size');
    asg
      .on(SetInstanceHealthCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(groups().markUnhealthy('i-0123456789abcdef0')).rejects.toThrow('Rate exceeded');
  });
});

describe('DynamoFleetStore', () => {
  // Contention waits run on a fake clock: `waited` is the simulated time spent backing off.
  let waited = 0;
  beforeEach(() => {
    waited = 0;
  });
  const fleet = () =>
    new DynamoFleetStore(new DynamoDBClient({}), 'fleet', {
      now: () => waited,
      sleep: async (ms) => {
        waited += ms;
      },
      random: () => 0.5,
    });
  const member: FleetMember = {
    queue: 'linux',
    agentId: 'agent-1',
    instanceId: 'i-0123456789abcdef0',
    activity: 'busy',
    jobId: 'job-1',
    tags: ['queue=linux', 'aws:instance-id=i-0123456789abcdef0'],
    since: 1_000_000,
    version: 10_000_003,
  };
  /** The member as the table holds it. */
  const memberItem = {
    pk: { S: 'linux' },
    sk: { S: 'm#agent#agent-1' },
    agentId: { S: 'agent-1' },
    instanceId: { S: 'i-0123456789abcdef0' },
    activity: { S: 'busy' },
    jobId: { S: 'job-1' },
    tags: { S: JSON.stringify(member.tags) },
    since: { N: '1000000' },
    version: { N: '10000003' },
  };

  it('writes an agent event under its agent, conditional on the version (last writer by event time)', async () => {
    ddb.on(PutItemCommand).resolves({});
    const connected: FleetMember = { ...member, activity: 'idle', jobId: undefined, version: 10_000_001 };
    expect(await fleet().recordMember(connected, 2_000_000)).toBe(true);
    const idleItem = Object.fromEntries(Object.entries(memberItem).filter(([name]) => name !== 'jobId'));
    expect(ddb.commandCalls(PutItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'fleet',
      Item: {
        ...idleItem,
        activity: { S: 'idle' },
        version: { N: '10000001' },
        expiresAt: { N: String(2000 + 14 * 24 * 3600) },
      },
      ConditionExpression: 'attribute_not_exists(version) OR version <= :v',
      ExpressionAttributeValues: { ':v': { N: '10000001' } },
    });
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  it('writes a job event over a record of an earlier second in one put, conditional on that', async () => {
    ddb.on(PutItemCommand).resolves({});
    expect(await fleet().recordMember(member, 2_000_000)).toBe(true);
    expect(ddb.commandCalls(PutItemCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'fleet',
      Item: { ...memberItem, expiresAt: { N: String(2000 + 14 * 24 * 3600) } },
      // 10000002: the first version of the second's job events (job.finished).
      ConditionExpression: 'attribute_not_exists(version) OR version < :v',
      ExpressionAttributeValues: { ':v': { N: '10000002' } },
    });
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  describe('job events of one second (whole-second timestamps): merged by job id', () => {
    /** The agent idle after job-1 finished in the second of `member`. */
    const finishedItem = {
      ...memberItem,
      activity: { S: 'idle' },
      jobId: undefined as never,
      finishedJobIds: { S: '["job-1"]' },
      version: { N: '10000002' },
    };
    const finished: FleetMember = {
      ...member,
      activity: 'idle',
      jobId: undefined,
      finishedJobIds: ['job-1'],
      version: 10_000_002,
    };

    it('job.finished after job.started of the same job and second (a record without job lists, as the previous version wrote): read, merged, written back on condition the record did not change', async () => {
      ddb
        .on(PutItemCommand)
        .rejectsOnce(conditionFailed())
        .resolves({})
        .on(GetItemCommand)
        .resolves({ Item: memberItem });
      expect(await fleet().recordMember(finished, 2_000_000)).toBe(true);
      expect(ddb.commandCalls(GetItemCommand)[0]?.args[0].input).toMatchObject({
        Key: { pk: { S: 'linux' }, sk: { S: 'm#agent#agent-1' } },
        ConsistentRead: true,
      });
      const put = ddb.commandCalls(PutItemCommand)[1]?.args[0].input;
      expect(put?.Item).toMatchObject({ activity: { S: 'idle' }, finishedJobIds: { S: '["job-1"]' } });
      expect(put?.Item?.jobId).toBeUndefined();
      expect(put?.ConditionExpression).toBe(
        '#a0 = :a0 AND #a1 = :a1 AND #a2 = :a2 AND attribute_not_exists(#a3) AND attribute_not_exists(#a4)',
      );
      expect(put?.ExpressionAttributeNames).toEqual({
        '#a0': 'version',
        '#a1': 'activity',
        '#a2': 'jobId',
        '#a3': 'finishedJobIds',
        '#a4': 'startedJobIds',
      });
      expect(put?.ExpressionAttributeValues).toEqual({
        ':a0': { N: '10000003' },
        ':a1': { S: 'busy' },
        ':a2': { S: 'job-1' },
      });
    });

    it('a late job.started of a job that finished in that second: refused, nothing written', async () => {
      ddb.on(PutItemCommand).rejects(conditionFailed()).on(GetItemCommand).resolves({ Item: finishedItem });
      expect(await fleet().recordMember(member, 2_000_000)).toBe(false);
      expect(ddb.commandCalls(PutItemCommand)).toHaveLength(1);
    });

    it("the agent's next job, started in the second the last one finished: busy with it", async () => {
      ddb
        .on(PutItemCommand)
        .rejectsOnce(conditionFailed())
        .resolves({})
        .on(GetItemCommand)
        .resolves({ Item: finishedItem });
      expect(await fleet().recordMember({ ...member, jobId: 'job-2' }, 2_000_000)).toBe(true);
      expect(ddb.commandCalls(PutItemCommand)[1]?.args[0].input.Item).toMatchObject({
        activity: { S: 'busy' },
        jobId: { S: 'job-2' },
        finishedJobIds: { S: '["job-1"]' },
        version: { N: '10000003' },
      });
    });

    it('reads the job lists back', async () => {
      const twoRunning = { ...finishedItem, startedJobIds: { S: '["job-2","job-3"]' } };
      ddb.on(QueryCommand).resolves({ Items: [twoRunning] });
      expect(await fleet().members('linux')).toEqual([{ ...finished, startedJobIds: ['job-2', 'job-3'] }]);
    });

    it('another invocation changed the record between the read and the write: read and merged again', async () => {
      ddb
        .on(PutItemCommand)
        .rejectsOnce(conditionFailed())
        .rejectsOnce(conditionFailed())
        .resolves({})
        .on(GetItemCommand)
        .resolvesOnce({ Item: memberItem })
        .resolves({ Item: { ...memberItem, finishedJobIds: { S: '["job-0"]' } } });
      expect(await fleet().recordMember(finished, 2_000_000)).toBe(true);
      expect(ddb.commandCalls(GetItemCommand)).toHaveLength(2);
      expect(ddb.commandCalls(PutItemCommand)[2]?.args[0].input.Item).toMatchObject({
        activity: { S: 'idle' },
        finishedJobIds: { S: '["job-0","job-1"]' },
      });
    });

    it('contention is waited out with jittered backoff, not refused after a few attempts', async () => {
      const refusals = 12;
      let put = ddb.on(PutItemCommand);
      for (let i = 0; i <= refusals; i++) put = put.rejectsOnce(conditionFailed());
      put.resolves({});
      ddb.on(GetItemCommand).resolves({ Item: memberItem });
      expect(await fleet().recordMember(finished, 2_000_000)).toBe(true);
      // The first conditional put, then 12 merges refused and the 13th written.
      expect(ddb.commandCalls(PutItemCommand)).toHaveLength(refusals + 2);
      // Half of min(1000, 20 · 2^(n-1)) before each retry, with random 0.5.
      expect(waited).toBe(10 + 20 + 40 + 80 + 160 + 320 + 500 * 6);
    });

    it('a record that keeps changing past the time budget: an error naming the agent, so the invocation is retried', async () => {
      ddb.on(PutItemCommand).rejects(conditionFailed()).on(GetItemCommand).resolves({ Item: memberItem });
      await expect(fleet().recordMember(finished, 2_000_000)).rejects.toThrow(
        /^Could not record agent agent-1 of queue linux: its record kept changing \(\d+ attempts\)\.$/,
      );
      expect(waited).toBeLessThanOrEqual(10_000);
      expect(waited).toBeGreaterThan(9_000);
    });
  });

  it('keys an agent without an instance id by the agent', async () => {
    ddb.on(PutItemCommand).resolves({});
    await fleet().recordMember({ ...member, instanceId: undefined }, 2_000_000);
    expect(ddb.commandCalls(PutItemCommand)[0]?.args[0].input.Item?.sk).toEqual({ S: 'm#agent#agent-1' });
  });

  it('keys each agent of one instance apart: two agents, two records', async () => {
    ddb.on(PutItemCommand).resolves({});
    await fleet().recordMember(member, 2_000_000);
    await fleet().recordMember({ ...member, agentId: 'agent-2', jobId: 'job-2' }, 2_000_000);
    expect(ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item?.sk)).toEqual([
      { S: 'm#agent#agent-1' },
      { S: 'm#agent#agent-2' },
    ]);
  });

  it("reads a record of the previous version (keyed by instance) as its agent's record", async () => {
    ddb
      .on(QueryCommand)
      .resolves({ Items: [{ ...memberItem, sk: { S: 'm#instance#i-0123456789abcdef0' } }] });
    expect(await fleet().members('linux')).toEqual([member]);
  });

  it.each([
    ['the legacy record is newer', 10_000_013, 'legacy'],
    ["the agent's own record is newer", 10_000_001, 'own'],
  ])(
    'an agent with both a legacy and its own record: the higher version wins (%s)',
    async (_n, legacyVersion, winner) => {
      const legacy = {
        ...memberItem,
        sk: { S: 'm#instance#i-0123456789abcdef0' },
        activity: { S: 'idle' },
        jobId: undefined as never,
        version: { N: String(legacyVersion) },
      };
      ddb.on(QueryCommand).resolves({ Items: [memberItem, legacy] });
      const members = await fleet().members('linux');
      expect(members).toHaveLength(1);
      expect(members[0]).toMatchObject(
        winner === 'legacy'
          ? { activity: 'idle', version: legacyVersion }
          : { activity: 'busy', version: 10_000_003 },
      );
    },
  );

  it('refuses an older write: false, not an error', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    expect(await fleet().recordMember({ ...member, version: 10_000_001 }, 2_000_000)).toBe(false);
  });

  it('refuses an older job event (the record read is newer): false, nothing written', async () => {
    ddb
      .on(PutItemCommand)
      .rejects(conditionFailed())
      .on(GetItemCommand)
      .resolves({ Item: { ...memberItem, version: { N: '10000013' } } });
    expect(await fleet().recordMember(member, 2_000_000)).toBe(false);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(1);
  });

  it('reads the members back from a consistent, paginated query of the queue', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [memberItem], LastEvaluatedKey: { pk: { S: 'linux' }, sk: { S: 'x' } } })
      .resolvesOnce({
        Items: [
          {
            ...memberItem,
            sk: { S: 'm#agent#agent-2' },
            agentId: { S: 'agent-2' },
            instanceId: undefined as never,
            jobId: undefined as never,
            activity: { S: 'idle' },
          },
        ],
      });
    const members = await fleet().members('linux');
    expect(members).toEqual([
      member,
      {
        queue: 'linux',
        agentId: 'agent-2',
        activity: 'idle',
        tags: member.tags,
        since: 1_000_000,
        version: 10_000_003,
      },
    ]);
    const [first, second] = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(first).toMatchObject({
      KeyConditionExpression: 'pk = :q AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':q': { S: 'linux' }, ':p': { S: 'm#' } },
      ConsistentRead: true,
    });
    expect(second?.ExclusiveStartKey).toEqual({ pk: { S: 'linux' }, sk: { S: 'x' } });
  });

  it('writes a waiting job for a week and a started one for an hour', async () => {
    ddb.on(PutItemCommand).resolves({});
    const job: TrackedJob = {
      queue: 'linux',
      jobId: 'job-1',
      state: 'waiting',
      readyAt: 1_000_000,
      rules: ['os=linux'],
      version: 10_000_000,
    };
    await fleet().recordJob(job, 2_000_000);
    await fleet().recordJob({ ...job, state: 'started', version: 10_100_002 }, 2_000_000);
    const [waiting, started] = ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item);
    expect(waiting).toMatchObject({
      sk: { S: 'j#job-1' },
      state: { S: 'waiting' },
      rules: { S: '["os=linux"]' },
      expiresAt: { N: String(2000 + 7 * 24 * 3600) },
    });
    expect(started).toMatchObject({ state: { S: 'started' }, expiresAt: { N: String(2000 + 3600) } });
  });

  it("keeps a job's build (pipeline slug, build number); a record written without it reads without it", async () => {
    ddb.on(PutItemCommand).resolves({});
    const withoutBuild: TrackedJob = {
      queue: 'linux',
      jobId: 'job-1',
      state: 'waiting',
      readyAt: 1_000_000,
      rules: [],
      version: 10_000_000,
    };
    const job: TrackedJob = { ...withoutBuild, pipelineSlug: 'app', buildNumber: 42 };
    await fleet().recordJob(job, 2_000_000);
    const item = ddb.commandCalls(PutItemCommand)[0]?.args[0].input.Item;
    expect(item).toMatchObject({ pipelineSlug: { S: 'app' }, buildNumber: { N: '42' } });
    // A record of the version before: the same item without the build.
    const older = Object.fromEntries(
      Object.entries(item ?? {}).filter(([name]) => name !== 'pipelineSlug' && name !== 'buildNumber'),
    );
    ddb.on(GetItemCommand).resolvesOnce({ Item: item }).resolvesOnce({ Item: older });
    expect(await fleet().readJob('linux', 'job-1')).toEqual(job);
    expect(await fleet().readJob('linux', 'job-1')).toEqual(withoutBuild);
  });

  it('marks a job reported stuck once: a second mark is refused', async () => {
    ddb.on(UpdateItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());
    expect(await fleet().markStuckReported('linux', 'job-1', 5000)).toBe(true);
    expect(await fleet().markStuckReported('linux', 'job-1', 6000)).toBe(false);
    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input.ConditionExpression).toBe(
      'attribute_exists(jobId) AND attribute_not_exists(stuckReportedAt)',
    );
  });

  it('claims heals up to the cap within the window, with compare-and-set on a version', async () => {
    const window = 600_000;
    ddb.on(GetItemCommand).resolves({
      Item: {
        pk: { S: 'linux' },
        sk: { S: 'heals' },
        times: { S: JSON.stringify([100_000, 900_000]) },
        v: { N: '2' },
      },
    });
    ddb.on(PutItemCommand).resolves({});
    // At 1 000 000 the heal at 100 000 is out of the window: one recent, cap 2 → claimed.
    expect(await fleet().claimHeal('linux', 1_000_000, window, 2)).toBe(true);
    expect(ddb.commandCalls(PutItemCommand)[0]?.args[0].input).toMatchObject({
      Item: { times: { S: JSON.stringify([900_000, 1_000_000]) }, v: { N: '3' } },
      ConditionExpression: 'v = :v',
      ExpressionAttributeValues: { ':v': { N: '2' } },
    });
    // Cap 1: the one recent heal fills it.
    expect(await fleet().claimHeal('linux', 1_000_000, window, 1)).toBe(false);
    expect(await fleet().healsInWindow('linux', 1_000_000, window)).toBe(1);
  });

  it('retries a heal claim that lost a race, and re-reads the count', async () => {
    ddb
      .on(GetItemCommand)
      .resolvesOnce({})
      .resolvesOnce({ Item: { times: { S: '[999000]' }, v: { N: '1' } } });
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed()).resolves({});
    // The first read saw none; the winner of the race took the only slot.
    expect(await fleet().claimHeal('linux', 1_000_000, 600_000, 1)).toBe(false);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(1);
    expect(waited).toBe(10);
  });

  it('a heal claim that keeps losing races waits them out (jittered), within the time budget', async () => {
    ddb.on(GetItemCommand).resolves({});
    let put = ddb.on(PutItemCommand);
    for (let i = 0; i < 8; i++) put = put.rejectsOnce(conditionFailed());
    put.resolves({});
    expect(await fleet().claimHeal('linux', 1_000_000, 600_000, 100)).toBe(true);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(9);
    expect(waited).toBe(10 + 20 + 40 + 80 + 160 + 320 + 500 + 500);
  });
});

describe('BusHealthEvents', () => {
  it('puts job.stuck on the bus with source kitebridge.health', async () => {
    const entries: BusEntry[] = [];
    const detail = {
      org: 'acme',
      queue: 'linux',
      job: { id: 'job-1', agentQueryRules: ['os=windows'] },
      waitedSeconds: 1900,
      reason: 'no-matching-agent' as const,
      readyAt: '2026-06-03T04:15:00.000Z',
    };
    await new BusHealthEvents({ publish: async (e) => (entries.push(e), 'id') }).jobStuck(detail);
    expect(entries).toEqual([
      { source: 'kitebridge.health', detailType: 'job.stuck', detail: JSON.stringify(detail) },
    ]);
  });
});

describe('BuildkiteMetricsPublisher: wait figures', () => {
  it('writes JobWaitTime, OldestWaitingJobAge and UnsatisfiableJobsCount with exactly Org and Queue', () => {
    const metrics = new Metrics({ namespace: 'Buildkite', serviceName: 'autoscaler' });
    const publisher = new BuildkiteMetricsPublisher(metrics);
    const written: unknown[] = [];
    jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => {
      written.push(metrics.serializeMetrics());
      metrics.clearMetrics();
      metrics.clearDimensions();
      return metrics;
    });
    publisher.jobWaited('acme', 'linux', 42);
    publisher.queueWaits('acme', 'linux', { oldestWaitingJobAgeSeconds: 300, unsatisfiableJobs: 2 });
    expect(written).toEqual([
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            {
              Namespace: 'Buildkite',
              Dimensions: [['Org', 'Queue']],
              Metrics: [{ Name: 'JobWaitTime', Unit: 'Seconds' }],
            },
          ],
        }),
        Org: 'acme',
        Queue: 'linux',
        JobWaitTime: 42,
      }),
      expect.objectContaining({
        OldestWaitingJobAge: 300,
        UnsatisfiableJobsCount: 2,
        Org: 'acme',
        Queue: 'linux',
      }),
    ]);
  });
});
