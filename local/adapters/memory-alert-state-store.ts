/**
 * The chat-alerts state in memory, for local mode and tests: optionally persisted to a JSON file
 * after each change (local mode keeps streaks across restarts that way).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { FailedJob } from '../../lambda/chat-alerts/model';
import type { AlertStateStore, BuildAlertRecord, ClaimResult } from '../../lambda/chat-alerts/ports';
import type { StreakState } from '../../lambda/chat-alerts/transitions';

interface MemoryData {
  streaks: Record<string, StreakState>;
  jobs: Record<string, Record<string, FailedJob>>;
  alerts: Record<string, BuildAlertRecord>;
  deliveries: Record<string, { status: 'pending' | 'sent'; leaseUntil: number }>;
}

/**
 * The state store in memory, optionally persisted to a JSON file after each change (local mode
 * keeps streaks across restarts that way). Single-process: no TTL, no cross-process locking.
 */
export class MemoryAlertStateStore implements AlertStateStore {
  private readonly data: MemoryData;

  constructor(private readonly options: { readonly file?: string; readonly now?: () => number } = {}) {
    const empty: MemoryData = { streaks: {}, jobs: {}, alerts: {}, deliveries: {} };
    this.data =
      options.file && existsSync(options.file)
        ? { ...empty, ...(JSON.parse(readFileSync(options.file, 'utf8')) as Partial<MemoryData>) }
        : empty;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private save(): void {
    if (!this.options.file) return;
    mkdirSync(path.dirname(this.options.file), { recursive: true });
    writeFileSync(this.options.file, JSON.stringify(this.data));
  }

  async updateStreak<T>(
    key: string,
    update: (current: StreakState | undefined) => { state: StreakState; result: T },
  ): Promise<T> {
    const { state, result } = update(this.data.streaks[key]);
    this.data.streaks[key] = state;
    this.save();
    return result;
  }

  async putFailedJob(buildId: string, job: FailedJob): Promise<void> {
    this.data.jobs[buildId] = { ...this.data.jobs[buildId], [job.id]: job };
    this.save();
  }

  async listFailedJobs(buildId: string): Promise<FailedJob[]> {
    return Object.values(this.data.jobs[buildId] ?? {});
  }

  async createBuildAlert(buildId: string, destinations: readonly string[]): Promise<void> {
    this.data.alerts[buildId] ??= { destinations: [...destinations], jobIds: [] };
    this.save();
  }

  async getBuildAlert(buildId: string): Promise<BuildAlertRecord | undefined> {
    return this.data.alerts[buildId];
  }

  async addListedJobs(buildId: string, jobIds: readonly string[]): Promise<void> {
    const record = this.data.alerts[buildId];
    if (!record) return;
    this.data.alerts[buildId] = { ...record, jobIds: [...new Set([...record.jobIds, ...jobIds])] };
    this.save();
  }

  async claimDelivery(key: string, destination: string, leaseMs: number): Promise<ClaimResult> {
    const id = `${key}#${destination}`;
    const current = this.data.deliveries[id];
    if (current?.status === 'sent') return 'sent';
    if (current && current.leaseUntil > this.now()) return 'busy';
    this.data.deliveries[id] = { status: 'pending', leaseUntil: this.now() + leaseMs };
    this.save();
    return 'claimed';
  }

  async completeDelivery(key: string, destination: string): Promise<void> {
    this.data.deliveries[`${key}#${destination}`] = { status: 'sent', leaseUntil: 0 };
    this.save();
  }

  async releaseDelivery(key: string, destination: string): Promise<void> {
    const id = `${key}#${destination}`;
    if (this.data.deliveries[id]?.status === 'pending') delete this.data.deliveries[id];
    this.save();
  }
}
