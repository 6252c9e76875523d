import {
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import type { GroupCapacity } from './decision';

/** Reads and sets Auto Scaling groups' desired capacity. */
export interface GroupScaler {
  /** The capacity of each named group that exists (missing groups are absent from the map). */
  describe(names: readonly string[]): Promise<Map<string, GroupCapacity>>;
  setDesired(name: string, desired: number): Promise<void>;
}

/** DescribeAutoScalingGroups takes at most 100 names a call. */
const DESCRIBE_BATCH = 100;

/** The Auto Scaling adapter; takes its client so tests can mock it. */
export class AutoScalingGroups implements GroupScaler {
  constructor(private readonly client: AutoScalingClient) {}

  async describe(names: readonly string[]): Promise<Map<string, GroupCapacity>> {
    const out = new Map<string, GroupCapacity>();
    for (let i = 0; i < names.length; i += DESCRIBE_BATCH) {
      let nextToken: string | undefined;
      do {
        const page = await this.client.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: names.slice(i, i + DESCRIBE_BATCH),
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
        for (const group of page.AutoScalingGroups ?? []) {
          if (group.AutoScalingGroupName === undefined) continue;
          out.set(group.AutoScalingGroupName, {
            desired: group.DesiredCapacity ?? 0,
            min: group.MinSize ?? 0,
            max: group.MaxSize ?? 0,
          });
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return out;
  }

  /**
   * Sets the group's desired capacity. An absolute value, so a retried or duplicated call acts
   * once; `HonorCooldown: false` because the autoscaler applies its own cooldowns.
   */
  async setDesired(name: string, desired: number): Promise<void> {
    await this.client.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: name,
        DesiredCapacity: desired,
        HonorCooldown: false,
      }),
    );
  }
}
