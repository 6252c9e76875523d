import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { AutoScalingGroups } from '../../../lambda/autoscaler/auto-scaling';

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
      ['ci-linux', { desired: 2, min: 0, max: 20 }],
      ['ci-arm64', { desired: 1, min: 1, max: 5 }],
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
