/**
 * Stand-ins for the autoscaler's ports, shared by its tests and the simulation benchmark: an
 * in-memory Auto Scaling group that behaves like the real one where it matters here (a lowered
 * desired capacity terminates instances the group picks, protected ones excepted; a
 * termination with decrement lowers desired capacity), a recording log, and quiet metrics.
 */
import type { AutoscalerConfig } from '../lambda/autoscaler/config';
import type { GroupCapacity } from '../lambda/autoscaler/decision';
import { FleetActions, type FleetActionsDeps } from '../lambda/autoscaler/fleet-actions';
import type {
  AgentChecker,
  AutoscalerLog,
  Clock,
  FleetActionMetric,
  FleetMetrics,
  FleetStore,
  GroupScaler,
  HealthEvents,
  InstanceActionResult,
  JobChecker,
} from '../lambda/autoscaler/ports';
import type { JobCheck, JobIdentity } from '../lambda/autoscaler/job-state';
import type { AgentCheck, GroupInstance } from '../lambda/autoscaler/scale-in';
import type { JobStuckDetail } from '../lambda/shared/contract';
import { MemoryFleetStore } from '../local/adapters/memory-autoscaler-stores';

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/** A log that keeps every line. */
export class RecordingLog implements AutoscalerLog {
  readonly lines: LogLine[] = [];
  info(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, attributes });
  }
  warn(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, attributes });
  }
  error(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, attributes });
  }
  messages(): string[] {
    return this.lines.map((l) => l.message);
  }
}

/** Picks the instances a group terminates when its desired capacity is lowered. */
export type VictimPicker = (candidates: readonly GroupInstance[], count: number) => GroupInstance[];

/** The group picks its oldest instances first (Auto Scaling's `OldestInstance` policy). */
export const oldestFirst: VictimPicker = (candidates, count) => candidates.slice(0, count);

interface MutableGroup {
  desired: number;
  min: number;
  max: number;
  instances: GroupInstance[];
}

/**
 * Auto Scaling groups in memory. Every call is recorded in `calls` (`setDesired ci 3`,
 * `terminate i-1`, `protect ci i-1 true`, `unhealthy i-1`). Lowering desired capacity removes
 * instances as the group would (unprotected, chosen by `pickVictims`); raising it launches none
 * (call `launch`): tests and the benchmark decide when instances arrive.
 */
export class MemoryGroups implements GroupScaler {
  readonly calls: string[] = [];
  /** Instances the group itself terminated on a lowered desired capacity. */
  readonly groupTerminated: string[] = [];
  readonly failOn = new Set<string>();
  private readonly groups = new Map<string, MutableGroup>();

  constructor(private readonly pickVictims: VictimPicker = oldestFirst) {}

  add(name: string, group: { desired?: number; min?: number; max: number; instances?: string[] }): this {
    this.groups.set(name, {
      desired: group.desired ?? group.instances?.length ?? 0,
      min: group.min ?? 0,
      max: group.max,
      instances: (group.instances ?? []).map((instanceId) => ({
        instanceId,
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
        protectedFromScaleIn: false,
      })),
    });
    return this;
  }

  /** A new instance comes into service. */
  launch(name: string, instanceId: string): void {
    this.group(name).instances.push({
      instanceId,
      lifecycleState: 'InService',
      healthStatus: 'Healthy',
      protectedFromScaleIn: false,
    });
  }

  instance(instanceId: string): GroupInstance | undefined {
    for (const g of this.groups.values()) {
      const found = g.instances.find((i) => i.instanceId === instanceId);
      if (found) return found;
    }
    return undefined;
  }

  capacity(name: string): GroupCapacity {
    const g = this.group(name);
    return { desired: g.desired, min: g.min, max: g.max, instances: g.instances.map((i) => ({ ...i })) };
  }

  async describe(names: readonly string[]): Promise<Map<string, GroupCapacity>> {
    return new Map(names.filter((n) => this.groups.has(n)).map((n) => [n, this.capacity(n)]));
  }

  async setDesired(name: string, desired: number): Promise<void> {
    if (this.failOn.has(name)) throw new Error(`throttled on ${name}`);
    this.calls.push(`setDesired ${name} ${desired}`);
    const g = this.group(name);
    const excess = g.instances.length - desired;
    if (excess > 0) {
      const victims = this.pickVictims(
        g.instances.filter((i) => !i.protectedFromScaleIn),
        excess,
      );
      const gone = new Set(victims.map((v) => v.instanceId));
      g.instances = g.instances.filter((i) => !gone.has(i.instanceId));
      this.groupTerminated.push(...gone);
    }
    g.desired = desired;
  }

  async terminateInstance(instanceId: string): Promise<InstanceActionResult> {
    this.calls.push(`terminate ${instanceId}`);
    for (const g of this.groups.values()) {
      const before = g.instances.length;
      g.instances = g.instances.filter((i) => i.instanceId !== instanceId);
      if (g.instances.length < before) {
        g.desired = Math.max(g.min, g.desired - 1);
        return 'done';
      }
    }
    return 'not-in-group';
  }

  async setScaleInProtection(
    group: string,
    instanceId: string,
    protect: boolean,
  ): Promise<InstanceActionResult> {
    this.calls.push(`protect ${group} ${instanceId} ${protect}`);
    const g = this.groups.get(group);
    const i = g?.instances.findIndex((x) => x.instanceId === instanceId) ?? -1;
    if (!g || i < 0) return 'not-in-group';
    g.instances[i] = { ...(g.instances[i] as GroupInstance), protectedFromScaleIn: protect };
    return 'done';
  }

  async markUnhealthy(instanceId: string): Promise<InstanceActionResult> {
    this.calls.push(`unhealthy ${instanceId}`);
    for (const g of this.groups.values()) {
      const i = g.instances.findIndex((x) => x.instanceId === instanceId);
      if (i >= 0) {
        g.instances[i] = { ...(g.instances[i] as GroupInstance), healthStatus: 'Unhealthy' };
        return 'done';
      }
    }
    return 'not-in-group';
  }

  private group(name: string): MutableGroup {
    const g = this.groups.get(name);
    if (!g) throw new Error(`No group ${name} in this test.`);
    return g;
  }
}

/** Fleet metrics kept in memory. */
export class RecordingFleetMetrics implements FleetMetrics {
  readonly waits: { queue: string; seconds: number }[] = [];
  readonly queueFigures: { queue: string; oldest: number; unsatisfiable: number }[] = [];
  readonly actions: { queue: string; name: FleetActionMetric }[] = [];
  jobWaited(_org: string, queue: string, seconds: number): void {
    this.waits.push({ queue, seconds });
  }
  queueWaits(
    _org: string,
    queue: string,
    f: { oldestWaitingJobAgeSeconds: number; unsatisfiableJobs: number },
  ): void {
    this.queueFigures.push({
      queue,
      oldest: f.oldestWaitingJobAgeSeconds,
      unsatisfiable: f.unsatisfiableJobs,
    });
  }
  action(_org: string, queue: string, name: FleetActionMetric): void {
    this.actions.push({ queue, name });
  }
}

/** `job.stuck` events kept in memory. */
export class RecordingHealthEvents implements HealthEvents {
  readonly stuck: JobStuckDetail[] = [];
  async jobStuck(detail: JobStuckDetail): Promise<void> {
    this.stuck.push(detail);
  }
}

/** An agent checker answering from a table (agent id → answer), `doubt` for any other agent. */
export class TableAgentChecker implements AgentChecker {
  readonly asked: string[] = [];
  constructor(readonly answers: Map<string, AgentCheck> = new Map()) {}
  async check(agentId: string): Promise<AgentCheck> {
    this.asked.push(agentId);
    return this.answers.get(agentId) ?? { kind: 'doubt', reason: 'not in the table' };
  }
}

/** A job checker answering from a table (job id → answer), `doubt` for any other job. */
export class TableJobChecker implements JobChecker {
  readonly asked: JobIdentity[] = [];
  constructor(readonly answers: Map<string, JobCheck> = new Map()) {}
  async check(job: JobIdentity): Promise<JobCheck> {
    this.asked.push(job);
    return this.answers.get(job.jobId) ?? { kind: 'doubt', reason: 'not in the table' };
  }
}

/** FleetActions with in-memory parts, each replaceable. */
export function memoryFleetActions(
  config: AutoscalerConfig,
  clock: Clock,
  parts: Partial<Omit<FleetActionsDeps, 'config' | 'clock'>> & { fleet?: FleetStore } = {},
): {
  actions: FleetActions;
  fleet: FleetStore;
  groups: GroupScaler;
  metrics: FleetMetrics;
  health: HealthEvents;
  log: AutoscalerLog;
} {
  const fleet = parts.fleet ?? new MemoryFleetStore();
  const groups = parts.groups ?? new MemoryGroups();
  const metrics = parts.metrics ?? new RecordingFleetMetrics();
  const health = parts.health ?? new RecordingHealthEvents();
  const log = parts.log ?? new RecordingLog();
  const actions = new FleetActions({
    config,
    clock,
    fleet,
    groups,
    metrics,
    health,
    log,
    ...(parts.checker ? { checker: parts.checker } : {}),
    ...(parts.jobChecker ? { jobChecker: parts.jobChecker } : {}),
  });
  return { actions, fleet, groups, metrics, health, log };
}
