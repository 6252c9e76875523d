/**
 * The autoscaler's stores in memory, for `npm start`, the simulation benchmark and tests: the
 * same semantics as the DynamoDB ones (compare-and-set claims, last-writer-wins by event
 * version, agent records merged as `mergeMember` says). One process only: Lambda instances do not share memory.
 */
import { memberKey, mergeMember, type FleetMember, type TrackedJob } from '../../lambda/autoscaler/fleet';
import { TRAILING_GRACE_MS, type GateState } from '../../lambda/autoscaler/gate';
import type { AutoscalerStateStore, FleetStore, QueueState } from '../../lambda/autoscaler/ports';

/** The gate and cooldown state in memory. */
export class MemoryAutoscalerStateStore implements AutoscalerStateStore {
  private gateState: { lastEvaluatedAt?: number; trailingAt?: number; pollDurationSeconds?: number } = {};
  private readonly queues = new Map<string, QueueState>();

  async readGate(): Promise<GateState> {
    return { ...this.gateState };
  }

  async claimEvaluation(seenLast: number | undefined, now: number): Promise<boolean> {
    if (this.gateState.lastEvaluatedAt !== seenLast) return false;
    this.gateState = { ...this.gateState, lastEvaluatedAt: now, trailingAt: undefined };
    return true;
  }

  async claimTrailing(seenLast: number, at: number, now: number): Promise<boolean> {
    const { lastEvaluatedAt, trailingAt } = this.gateState;
    if (lastEvaluatedAt !== seenLast) return false;
    if (trailingAt !== undefined && trailingAt > seenLast && trailingAt >= now - TRAILING_GRACE_MS)
      return false;
    this.gateState = { ...this.gateState, trailingAt: at };
    return true;
  }

  async recordPollDuration(seconds: number): Promise<void> {
    this.gateState = { ...this.gateState, pollDurationSeconds: seconds };
  }

  async readQueue(queue: string): Promise<QueueState> {
    return { ...(this.queues.get(queue) ?? {}) };
  }

  async recordQueue(queue: string, patch: QueueState): Promise<void> {
    const merged = { ...(this.queues.get(queue) ?? {}) } as Record<string, number | undefined>;
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) merged[k] = v as number;
    this.queues.set(queue, merged);
  }
}

/** The fleet in memory: one record per agent. */
export class MemoryFleetStore implements FleetStore {
  private readonly membersByQueue = new Map<string, Map<string, FleetMember>>();
  private readonly jobsByQueue = new Map<string, Map<string, TrackedJob>>();
  private readonly heals = new Map<string, number[]>();

  async recordMember(member: FleetMember): Promise<boolean> {
    const queue = this.bucket(this.membersByQueue, member.queue);
    const { record, applied } = mergeMember(queue.get(memberKey(member)), member);
    if (record) queue.set(memberKey(member), record);
    return applied;
  }

  async members(queue: string): Promise<FleetMember[]> {
    return [...(this.membersByQueue.get(queue)?.values() ?? [])];
  }

  async readJob(queue: string, jobId: string): Promise<TrackedJob | undefined> {
    return this.jobsByQueue.get(queue)?.get(jobId);
  }

  async recordJob(job: TrackedJob): Promise<boolean> {
    const queue = this.bucket(this.jobsByQueue, job.queue);
    const stored = queue.get(job.jobId);
    if (stored && stored.version > job.version) return false;
    queue.set(job.jobId, job);
    return true;
  }

  async jobs(queue: string): Promise<TrackedJob[]> {
    return [...(this.jobsByQueue.get(queue)?.values() ?? [])];
  }

  async markStuckReported(queue: string, jobId: string, at: number): Promise<boolean> {
    const jobs = this.jobsByQueue.get(queue);
    const job = jobs?.get(jobId);
    if (!jobs || !job || job.stuckReportedAt !== undefined) return false;
    jobs.set(jobId, { ...job, stuckReportedAt: at });
    return true;
  }

  async claimHeal(queue: string, now: number, windowMs: number, cap: number): Promise<boolean> {
    const recent = (this.heals.get(queue) ?? []).filter((t) => t > now - windowMs);
    if (recent.length >= cap) return false;
    this.heals.set(queue, [...recent, now]);
    return true;
  }

  async healsInWindow(queue: string, now: number, windowMs: number): Promise<number> {
    return (this.heals.get(queue) ?? []).filter((t) => t > now - windowMs).length;
  }

  private bucket<T>(map: Map<string, Map<string, T>>, queue: string): Map<string, T> {
    let bucket = map.get(queue);
    if (!bucket) map.set(queue, (bucket = new Map()));
    return bucket;
  }
}
