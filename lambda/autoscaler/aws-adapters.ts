/**
 * The autoscaler's AWS adapters, each taking its client so tests can mock it: Auto Scaling
 * (capacity, instance termination, protection, health), DynamoDB (gate and cooldown state, the
 * fleet), CloudWatch through embedded metric format (no PutMetricData call, no IAM) and
 * EventBridge (derived health events).
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import {
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  SetInstanceHealthCommand,
  SetInstanceProtectionCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { num, readNum } from '../shared/dynamo-values';
import type { EventBridgePublisher } from '../shared/event-bridge-publisher';
import { HEALTH_EVENTS, HEALTH_SOURCE, type JobStuckDetail } from '../shared/contract';
import { buildkiteMetricValues } from './buildkite-metrics';
import type { GroupCapacity, QueueCounts } from './decision';
import {
  jobSecondOf,
  memberKey,
  mergeMember,
  type AgentActivity,
  type FleetMember,
  type TrackedJob,
} from './fleet';
import { latestPerAgent } from './instances';
import { retryOnContention, type ContentionRetry } from '../shared/contention';
import { TRAILING_GRACE_MS, type GateState } from './gate';
import type {
  AutoscalerStateStore,
  CountsPublisher,
  FleetActionMetric,
  FleetMetrics,
  FleetStore,
  GroupScaler,
  HealthEvents,
  InstanceActionResult,
  QueueState,
  QueueWaitFigures,
} from './ports';

// ---------------------------------------------------------------------------------------------
// Auto Scaling

/** DescribeAutoScalingGroups takes at most 100 names a call. */
const DESCRIBE_BATCH = 100;

const errorName = (error: unknown): string =>
  error !== null && typeof error === 'object' ? String((error as { name?: unknown }).name ?? '') : '';
const errorMessage = (error: unknown): string =>
  error !== null && typeof error === 'object' ? String((error as { message?: unknown }).message ?? '') : '';

/**
 * Auto Scaling answers `ValidationError` when an instance is not (or no longer) in a group: the
 * instance left already, nothing to retry. Other validation errors are real faults.
 */
const isNotInGroup = (error: unknown): boolean =>
  errorName(error) === 'ValidationError' &&
  /not found|not part of|no managed instance|is not in/i.test(errorMessage(error));

/** The Auto Scaling adapter. */
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
            instances: (group.Instances ?? []).flatMap((instance) =>
              instance.InstanceId
                ? [
                    {
                      instanceId: instance.InstanceId,
                      lifecycleState: instance.LifecycleState ?? 'Unknown',
                      healthStatus: instance.HealthStatus ?? 'Unknown',
                      protectedFromScaleIn: instance.ProtectedFromScaleIn ?? false,
                    },
                  ]
                : [],
            ),
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

  /** Terminates the instance and decrements desired capacity, so no replacement starts. */
  async terminateInstance(instanceId: string): Promise<InstanceActionResult> {
    return this.instanceAction(() =>
      this.client.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: instanceId,
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
    );
  }

  async setScaleInProtection(
    group: string,
    instanceId: string,
    protect: boolean,
  ): Promise<InstanceActionResult> {
    return this.instanceAction(() =>
      this.client.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: group,
          InstanceIds: [instanceId],
          ProtectedFromScaleIn: protect,
        }),
      ),
    );
  }

  /** Marks the instance Unhealthy, respecting the group's health-check grace period. */
  async markUnhealthy(instanceId: string): Promise<InstanceActionResult> {
    return this.instanceAction(() =>
      this.client.send(
        new SetInstanceHealthCommand({
          InstanceId: instanceId,
          HealthStatus: 'Unhealthy',
          ShouldRespectGracePeriod: true,
        }),
      ),
    );
  }

  private async instanceAction(call: () => Promise<unknown>): Promise<InstanceActionResult> {
    try {
      await call();
      return 'done';
    } catch (error) {
      if (isNotInGroup(error)) return 'not-in-group';
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: gate and cooldowns

/** Items expire a week after their last write (longer than any cooldown), so removed queues clean up. */
export const STATE_TTL_SECONDS = 7 * 24 * 3600;

const GATE_KEY = 'gate';
const queueKey = (queue: string) => `queue#${queue}`;
const expiresAt = (now: number, seconds = STATE_TTL_SECONDS) => num(Math.floor(now / 1000) + seconds);

/**
 * DynamoDB-backed gate and cooldown state: one item for the gate (`pk = gate`) and one per queue
 * (`pk = queue#<name>`), each with a TTL attribute `expiresAt`. Reads are strongly consistent.
 */
export class DynamoAutoscalerStateStore implements AutoscalerStateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async readGate(): Promise<GateState> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: GATE_KEY } }, ConsistentRead: true }),
    );
    return {
      lastEvaluatedAt: readNum(Item, 'lastEvaluatedAt'),
      trailingAt: readNum(Item, 'trailingAt'),
      pollDurationSeconds: readNum(Item, 'pollDurationSeconds'),
    };
  }

  async claimEvaluation(seenLast: number | undefined, now: number): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'SET lastEvaluatedAt = :now, expiresAt = :exp REMOVE trailingAt',
      ConditionExpression:
        seenLast === undefined ? 'attribute_not_exists(lastEvaluatedAt)' : 'lastEvaluatedAt = :seen',
      ExpressionAttributeValues: {
        ':now': num(now),
        ':exp': expiresAt(now),
        ...(seenLast === undefined ? {} : { ':seen': num(seenLast) }),
      },
    });
  }

  async claimTrailing(seenLast: number, at: number, now: number): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'SET trailingAt = :at, expiresAt = :exp',
      ConditionExpression:
        'lastEvaluatedAt = :seen AND (attribute_not_exists(trailingAt) OR trailingAt <= :seen OR trailingAt < :stale)',
      ExpressionAttributeValues: {
        ':at': num(at),
        ':seen': num(seenLast),
        ':stale': num(now - TRAILING_GRACE_MS),
        ':exp': expiresAt(now),
      },
    });
  }

  async recordPollDuration(seconds: number, now: number): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: GATE_KEY } },
        UpdateExpression: 'SET pollDurationSeconds = :s, expiresAt = :exp',
        ExpressionAttributeValues: { ':s': num(seconds), ':exp': expiresAt(now) },
      }),
    );
  }

  async readQueue(queue: string): Promise<QueueState> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queueKey(queue) } },
        ConsistentRead: true,
      }),
    );
    return {
      lastScaleOutAt: readNum(Item, 'lastScaleOutAt'),
      lastScaleInAt: readNum(Item, 'lastScaleInAt'),
      dryRunDesired: readNum(Item, 'dryRunDesired'),
    };
  }

  async recordQueue(queue: string, patch: QueueState, now: number): Promise<void> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as [string, number][];
    const sets = entries.map((_entry, i) => `#k${i} = :v${i}`);
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queueKey(queue) } },
        UpdateExpression: `SET ${[...sets, 'expiresAt = :exp'].join(', ')}`,
        ExpressionAttributeNames: entries.length
          ? Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k]))
          : undefined,
        ExpressionAttributeValues: {
          ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, num(v)])),
          ':exp': expiresAt(now),
        },
      }),
    );
  }

  private async conditional(
    update: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], 'TableName' | 'Key'>,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({ TableName: this.tableName, Key: { pk: { S: GATE_KEY } }, ...update }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: the fleet

/** A member's record outlives two weeks of silence; an instance not heard of since is never touched. */
export const MEMBER_TTL_SECONDS = 14 * 24 * 3600;
/** A waiting job is forgotten after a week (Buildkite expires scheduled jobs sooner). */
export const WAITING_JOB_TTL_SECONDS = 7 * 24 * 3600;
/** A started job is kept an hour: long enough to refuse a late, replayed job.scheduled. */
export const STARTED_JOB_TTL_SECONDS = 3600;

const MEMBER_PREFIX = 'm#';
const JOB_PREFIX = 'j#';
const HEALS_KEY = 'heals';
/** `m#agent#<id>`; records of the previous version, `m#instance#<id>`, are still read (TTL ends them). */
const memberSortKey = (m: { agentId: string }) => `${MEMBER_PREFIX}${memberKey(m)}`;
const jobSortKey = (jobId: string) => `${JOB_PREFIX}${jobId}`;
const str = (item: Record<string, AttributeValue>, name: string): string | undefined => item[name]?.S;
const strings = (item: Record<string, AttributeValue>, name: string): string[] => {
  const raw = item[name]?.S;
  if (raw === undefined) return [];
  const parsed = JSON.parse(raw) as unknown;
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
};

/**
 * The fleet in DynamoDB: partition key `pk` (the queue), sort key `sk` (`m#agent#<id>` per
 * agent, `j#<job id>` per job, `heals` for the healing rate cap), with TTL `expiresAt`. Every
 * record write is conditional on its version (or, merging an agent's job events of one second, on
 * the record it merged), so the last event by time wins whatever order the events arrive in. Records of the previous version, keyed by instance (`m#instance#<id>`), are
 * read as their agent's record, the higher version winning when both exist, until they expire.
 */
export class DynamoFleetStore implements FleetStore {
  private readonly contention: ContentionRetry;

  /**
   * `contention`: how the read-merge-write of an agent's record and the heal claim wait and give
   * up when another invocation wrote first. @default jittered waits of 20 ms to 1 s, 10 s budget
   */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    contention: Partial<ContentionRetry> = {},
  ) {
    this.contention = { backoff: { baseMs: 20, capMs: 1000 }, budgetMs: 10_000, ...contention };
  }

  /**
   * Writes an agent's record as {@link mergeMember} says. Any event but a job event, and a job
   * event over a record of an earlier second, is one conditional put (on the version). A job event
   * meeting a record of its own second or a later one is merged: the record is read, merged and
   * written back on condition that it did not change meanwhile (retried when it did), so
   * concurrent invocations cannot lose each other's jobs.
   */
  async recordMember(member: FleetMember, now: number): Promise<boolean> {
    const item = memberItem(member, now);
    const second = jobSecondOf(member.version);
    if (second === undefined) return this.versionedPut(item, member.version);
    if (await this.conditionalPut(item, 'attribute_not_exists(version) OR version < :v', num(second)))
      return true;
    return retryOnContention(
      async () => {
        const { Item } = await this.client.send(
          new GetItemCommand({
            TableName: this.tableName,
            Key: { pk: { S: member.queue }, sk: { S: memberSortKey(member) } },
            ConsistentRead: true,
          }),
        );
        const stored = Item ? memberOf(member.queue, Item) : undefined;
        const { record, applied } = mergeMember(stored, member);
        if (!record) return { value: applied };
        return (await this.putIfUnchanged(memberItem(record, now), Item)) ? { value: applied } : undefined;
      },
      this.contention,
      (attempts) =>
        new Error(
          `Could not record agent ${member.agentId} of queue ${member.queue}: its record kept changing (${attempts} attempts).`,
        ),
    );
  }

  async members(queue: string): Promise<FleetMember[]> {
    const items = await this.query(queue, MEMBER_PREFIX);
    return latestPerAgent(items.map((item) => memberOf(queue, item)));
  }

  async readJob(queue: string, jobId: string): Promise<TrackedJob | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queue }, sk: { S: jobSortKey(jobId) } },
        ConsistentRead: true,
      }),
    );
    return Item ? jobOf(queue, Item) : undefined;
  }

  async recordJob(job: TrackedJob, now: number): Promise<boolean> {
    return this.versionedPut(
      {
        pk: { S: job.queue },
        sk: { S: jobSortKey(job.jobId) },
        jobId: { S: job.jobId },
        state: { S: job.state },
        readyAt: num(job.readyAt),
        rules: { S: JSON.stringify(job.rules) },
        ...(job.pipelineSlug !== undefined && job.buildNumber !== undefined
          ? { pipelineSlug: { S: job.pipelineSlug }, buildNumber: num(job.buildNumber) }
          : {}),
        version: num(job.version),
        ...(job.stuckReportedAt !== undefined ? { stuckReportedAt: num(job.stuckReportedAt) } : {}),
        expiresAt: expiresAt(
          now,
          job.state === 'waiting' ? WAITING_JOB_TTL_SECONDS : STARTED_JOB_TTL_SECONDS,
        ),
      },
      job.version,
    );
  }

  async jobs(queue: string): Promise<TrackedJob[]> {
    return (await this.query(queue, JOB_PREFIX)).map((item) => jobOf(queue, item));
  }

  async markStuckReported(queue: string, jobId: string, at: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: queue }, sk: { S: jobSortKey(jobId) } },
          UpdateExpression: 'SET stuckReportedAt = :at',
          ConditionExpression: 'attribute_exists(jobId) AND attribute_not_exists(stuckReportedAt)',
          ExpressionAttributeValues: { ':at': num(at) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async claimHeal(queue: string, now: number, windowMs: number, cap: number): Promise<boolean> {
    // Compare-and-set on a version: concurrent invocations cannot both take the last slot.
    return retryOnContention(
      async () => {
        const { times, version } = await this.readHeals(queue);
        const recent = times.filter((t) => t > now - windowMs);
        if (recent.length >= cap) return { value: false };
        try {
          await this.client.send(
            new PutItemCommand({
              TableName: this.tableName,
              Item: {
                pk: { S: queue },
                sk: { S: HEALS_KEY },
                times: { S: JSON.stringify([...recent, now]) },
                v: num(version + 1),
                expiresAt: expiresAt(now + windowMs, 0),
              },
              ConditionExpression: version === 0 ? 'attribute_not_exists(v)' : 'v = :v',
              ...(version === 0 ? {} : { ExpressionAttributeValues: { ':v': num(version) } }),
            }),
          );
          return { value: true };
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
          return undefined;
        }
      },
      this.contention,
      (attempts) =>
        new Error(
          `Could not claim a heal for queue ${queue}: the heal record kept changing (${attempts} attempts).`,
        ),
    );
  }

  async healsInWindow(queue: string, now: number, windowMs: number): Promise<number> {
    const { times } = await this.readHeals(queue);
    return times.filter((t) => t > now - windowMs).length;
  }

  private async readHeals(queue: string): Promise<{ times: number[]; version: number }> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queue }, sk: { S: HEALS_KEY } },
        ConsistentRead: true,
      }),
    );
    if (!Item) return { times: [], version: 0 };
    const parsed = JSON.parse(Item.times?.S ?? '[]') as unknown;
    return {
      times: Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === 'number') : [],
      version: readNum(Item, 'v') ?? 0,
    };
  }

  private versionedPut(item: Record<string, AttributeValue>, version: number): Promise<boolean> {
    return this.conditionalPut(item, 'attribute_not_exists(version) OR version <= :v', num(version));
  }

  /** Puts `item` on `condition` (over `:v`); false when the condition failed. */
  private async conditionalPut(
    item: Record<string, AttributeValue>,
    condition: string,
    v: AttributeValue,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeValues: { ':v': v },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Puts `item` if the stored record still holds what `read` held (absent: still absent): the
   * version and every attribute a merge reads. False when it changed meanwhile.
   */
  private async putIfUnchanged(
    item: Record<string, AttributeValue>,
    read: Record<string, AttributeValue> | undefined,
  ): Promise<boolean> {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    const clauses = MERGED_ATTRIBUTES.map((name, k) => {
      names[`#a${k}`] = name;
      const value = read?.[name];
      if (value === undefined) return `attribute_not_exists(#a${k})`;
      values[`:a${k}`] = value;
      return `#a${k} = :a${k}`;
    });
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: clauses.join(' AND '),
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async query(queue: string, prefix: string): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :q AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':q': { S: queue }, ':p': { S: prefix } },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/** The attributes of a member record that {@link mergeMember} reads: a merge writes back only if none changed. */
const MERGED_ATTRIBUTES = ['version', 'activity', 'jobId', 'finishedJobIds', 'startedJobIds'] as const;

/** A member record as the table holds it (job lists as JSON strings, like the tags). */
function memberItem(member: FleetMember, now: number): Record<string, AttributeValue> {
  return {
    pk: { S: member.queue },
    sk: { S: memberSortKey(member) },
    agentId: { S: member.agentId },
    ...(member.instanceId ? { instanceId: { S: member.instanceId } } : {}),
    activity: { S: member.activity },
    ...(member.jobId ? { jobId: { S: member.jobId } } : {}),
    ...(member.finishedJobIds ? { finishedJobIds: { S: JSON.stringify(member.finishedJobIds) } } : {}),
    ...(member.startedJobIds ? { startedJobIds: { S: JSON.stringify(member.startedJobIds) } } : {}),
    tags: { S: JSON.stringify(member.tags) },
    since: num(member.since),
    version: num(member.version),
    expiresAt: expiresAt(now, MEMBER_TTL_SECONDS),
  };
}

/** A member record read back; one written before the job lists existed has none. */
function memberOf(queue: string, item: Record<string, AttributeValue>): FleetMember {
  const instanceId = str(item, 'instanceId');
  const jobId = str(item, 'jobId');
  const finishedJobIds = item.finishedJobIds ? strings(item, 'finishedJobIds') : undefined;
  const startedJobIds = item.startedJobIds ? strings(item, 'startedJobIds') : undefined;
  return {
    queue,
    agentId: str(item, 'agentId') ?? '',
    ...(instanceId ? { instanceId } : {}),
    activity: (str(item, 'activity') ?? 'idle') as AgentActivity,
    ...(jobId ? { jobId } : {}),
    ...(finishedJobIds ? { finishedJobIds } : {}),
    ...(startedJobIds ? { startedJobIds } : {}),
    tags: strings(item, 'tags'),
    since: readNum(item, 'since') ?? 0,
    version: readNum(item, 'version') ?? 0,
  };
}

/** A job record read back; one written before the build was kept has no `pipelineSlug`/`buildNumber`. */
function jobOf(queue: string, item: Record<string, AttributeValue>): TrackedJob {
  const stuckReportedAt = readNum(item, 'stuckReportedAt');
  const pipelineSlug = str(item, 'pipelineSlug');
  const buildNumber = readNum(item, 'buildNumber');
  return {
    queue,
    jobId: str(item, 'jobId') ?? '',
    state: (str(item, 'state') ?? 'waiting') as TrackedJob['state'],
    readyAt: readNum(item, 'readyAt') ?? 0,
    rules: strings(item, 'rules'),
    ...(pipelineSlug !== undefined && buildNumber !== undefined ? { pipelineSlug, buildNumber } : {}),
    version: readNum(item, 'version') ?? 0,
    ...(stuckReportedAt !== undefined ? { stuckReportedAt } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// CloudWatch (embedded metric format)

/** The namespace buildkite-agent-metrics publishes to, so existing dashboards and alarms keep working. */
export const BUILDKITE_METRICS_NAMESPACE = 'Buildkite';

/**
 * Publishes one queue's counts and wait figures as CloudWatch metrics in namespace `Buildkite`
 * with exactly the dimensions `Org` and `Queue`, through embedded metric format (a log line the
 * service turns into metrics): no PutMetricData call on the decision path, and no IAM.
 */
export class BuildkiteMetricsPublisher implements CountsPublisher {
  /** `metrics` must be a Metrics instance in the `Buildkite` namespace, used for nothing else. */
  constructor(private readonly metrics: Metrics) {
    // Powertools adds a `service` dimension by default; an extra dimension would make these
    // different metrics from the ones alarms were written against.
    this.metrics.clearDefaultDimensions();
  }

  /** Stages the metrics of one queue (call `flush` to write them). */
  stage(org: string, queue: string, counts: QueueCounts): void {
    this.metrics.addDimensions({ Org: org, Queue: queue });
    for (const [name, { value, unit }] of Object.entries(buildkiteMetricValues(counts))) {
      this.metrics.addMetric(name, unit, value);
    }
  }

  /** Writes the staged metrics of one queue; dimensions reset for the next. */
  flush(): void {
    this.metrics.publishStoredMetrics();
  }

  publish(org: string, queue: string, counts: QueueCounts): void {
    this.stage(org, queue, counts);
    this.flush();
  }

  /** `JobWaitTime` for one job, in seconds: CloudWatch computes p50, p95 and max over any period. */
  jobWaited(org: string, queue: string, seconds: number): void {
    this.metrics.addDimensions({ Org: org, Queue: queue });
    this.metrics.addMetric('JobWaitTime', MetricUnit.Seconds, seconds);
    this.flush();
  }

  /** `OldestWaitingJobAge` (seconds) and `UnsatisfiableJobsCount`. */
  queueWaits(org: string, queue: string, figures: QueueWaitFigures): void {
    this.metrics.addDimensions({ Org: org, Queue: queue });
    this.metrics.addMetric('OldestWaitingJobAge', MetricUnit.Seconds, figures.oldestWaitingJobAgeSeconds);
    this.metrics.addMetric('UnsatisfiableJobsCount', MetricUnit.Count, figures.unsatisfiableJobs);
    this.flush();
  }
}

/**
 * The fleet metrics: wait figures in `Buildkite` (next to buildkite-agent-metrics' names) and
 * one data point per instance action in kitebridge's own namespace, dimension `Queue`.
 */
export class CloudWatchFleetMetrics implements FleetMetrics {
  constructor(
    private readonly buildkite: BuildkiteMetricsPublisher,
    /** A Metrics instance in kitebridge's namespace (service `autoscaler`). */
    private readonly own: Metrics,
  ) {}

  jobWaited(org: string, queue: string, seconds: number): void {
    this.buildkite.jobWaited(org, queue, seconds);
  }

  queueWaits(org: string, queue: string, figures: QueueWaitFigures): void {
    this.buildkite.queueWaits(org, queue, figures);
  }

  action(_org: string, queue: string, name: FleetActionMetric): void {
    this.own.addDimensions({ Queue: queue });
    this.own.addMetric(name, MetricUnit.Count, 1);
    this.own.publishStoredMetrics();
  }
}

// ---------------------------------------------------------------------------------------------
// EventBridge

/** Publishes `kitebridge.health` events on the kitebridge bus. */
export class BusHealthEvents implements HealthEvents {
  constructor(private readonly publisher: Pick<EventBridgePublisher, 'publish'>) {}

  async jobStuck(detail: JobStuckDetail): Promise<void> {
    await this.publisher.publish({
      source: HEALTH_SOURCE,
      detailType: HEALTH_EVENTS.jobStuck,
      detail: JSON.stringify(detail),
    });
  }
}
