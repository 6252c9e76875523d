/**
 * The autoscaler's per-instance work, on the event path (instance identity, scale-in protection,
 * job waits, lost agents) and on the evaluation path (safe scale-in, healing agents that did not
 * come back, wait figures and stuck jobs). Pure decisions live in fleet.ts, scale-in.ts,
 * healing.ts and waits.ts; this module calls them and the ports.
 */
import type { AutoscalerConfig, AutoscalerQueueConfig } from './config';
import type { GroupCapacity, QueueCounts } from './decision';
import {
  memberFrom,
  observe,
  supersedes,
  trackedJobFrom,
  versionOf,
  type FleetMember,
  type TrackedJob,
} from './fleet';
import { healCap, healVerdict, instanceHealth } from './healing';
import { currentAgentsOfInstance, currentMembers, viewFleet } from './instances';
import type { JobCheck } from './job-state';
import type {
  AgentChecker,
  AutoscalerLog,
  Clock,
  FleetMetrics,
  FleetStore,
  GroupScaler,
  HealthEvents,
  JobChecker,
} from './ports';
import { mayTerminate, selectIdleInstances, type GroupInstance } from './scale-in';
import { summariseWaits, waitSeconds } from './waits';

export interface FleetActionsDeps {
  readonly config: AutoscalerConfig;
  readonly fleet: FleetStore;
  readonly groups: GroupScaler;
  /**
   * Buildkite's REST API, for the re-check before a termination. Without it no instance is ever
   * terminated: scale-in is held and only protection applies.
   */
  readonly checker?: AgentChecker;
  /**
   * Buildkite's REST API, for the re-check of a job before it is reported stuck. Without it (or
   * for a record without its build) the record alone decides.
   */
  readonly jobChecker?: JobChecker;
  readonly metrics: FleetMetrics;
  readonly health: HealthEvents;
  readonly log: AutoscalerLog;
  readonly clock: Clock;
}

/** What one job or agent event did to the fleet. */
export interface TrackResult {
  /**
   * The agent's record now says what the event says (false: a newer one is stored, the event's job
   * finished in its second, or the event names no agent).
   */
  readonly memberRecorded: boolean;
  readonly jobRecorded: boolean;
  /** `kept`: job.finished of one agent while another agent of its instance runs a job. */
  readonly protection?: 'set' | 'cleared' | 'kept' | 'not-in-group' | 'dry-run';
  readonly waitSeconds?: number;
  readonly healed?: boolean;
}

/** What a scale-in did: the instances it terminated (or, in dry run, would have). */
export interface ScaleInResult {
  readonly terminated: readonly string[];
  /** Why nothing (or less than asked) was terminated, when that is the case. */
  readonly held?: 'no-api-token' | 'no-idle-instance';
}

/**
 * At most this many jobs are asked about per evaluation (all queues together), oldest first: a
 * backlog of stuck records cannot exhaust Buildkite's REST rate limit (50 requests a minute per
 * token). The rest wait for the next evaluation.
 */
export const MAX_JOB_CHECKS_PER_EVALUATION = 10;

/**
 * The oldest waiting job (asked about so that a stale record stops holding `OldestWaitingJobAge`
 * up) is asked about again at most this often while it keeps waiting: a job that really waits
 * for hours must not cost a call every evaluation.
 */
export const OLDEST_JOB_RECHECK_MS = 5 * 60_000;

/** What is left of one evaluation's job checks, shared by its queues. */
export interface JobCheckBudget {
  remaining: number;
}

/** What the job-state record of a re-checked job becomes (started or finished). */
const ASKED_STATE_EVENT = { started: 'job.started', finished: 'job.finished' } as const;

/** The instances a dry run pretends: each one an agent names, in service, healthy, unprotected. */
const pretendInstances = (members: readonly FleetMember[]): GroupInstance[] =>
  [...new Set(members.flatMap((m) => (m.instanceId ? [m.instanceId] : [])))].map((instanceId) => ({
    instanceId,
    lifecycleState: 'InService',
    healthStatus: 'Healthy',
    protectedFromScaleIn: false,
  }));

export class FleetActions {
  /**
   * When each queue's oldest waiting job was last asked about (`queue` → job id and time). Kept
   * per function instance: it only spaces the calls out, so another instance asking again is harmless.
   */
  private readonly oldestAsked = new Map<string, { jobId: string; at: number }>();

  constructor(private readonly deps: FleetActionsDeps) {}

  /** The queue's fleet records. */
  members(queue: string): Promise<FleetMember[]> {
    return this.deps.fleet.members(queue);
  }

  isDryRun(q: AutoscalerQueueConfig): boolean {
    return this.deps.config.dryRun || q.asgName === undefined;
  }

  /**
   * Records what a Buildkite job or agent event says about the fleet, then: protects the
   * instance of an agent that started a job (and clears it when the job finished), publishes the
   * job's wait, and heals the instance of a lost agent. Only when the agent's record now says
   * what the event says (see `mergeMember`): a late job.started after its job.finished changes
   * nothing, in an earlier second or the same one.
   */
  async track(detailType: string, detail: Record<string, unknown>, receivedAt: number): Promise<TrackResult> {
    const { config, fleet, metrics, clock } = this.deps;
    const seen = observe(detailType, detail, receivedAt);
    const queue = seen.agent?.queue ?? seen.job?.queue;
    const q = config.queues.find((c) => c.queue === queue);
    if (!q) return { memberRecorded: false, jobRecorded: false };
    const now = clock.now();
    let result: TrackResult = { memberRecorded: false, jobRecorded: false };

    if (seen.job) {
      const stored = await fleet.readJob(q.queue, seen.job.jobId);
      if (supersedes(stored, seen.job)) {
        const record = trackedJobFrom(seen.job, stored);
        const recorded = await fleet.recordJob(record, now);
        result = { ...result, jobRecorded: recorded };
        // A replay (same version) must not count the wait twice.
        if (recorded && seen.job.state === 'started' && stored?.version !== seen.job.version) {
          const waited = waitSeconds(seen.job, stored);
          if (waited !== undefined) {
            metrics.jobWaited(config.org, q.queue, waited);
            result = { ...result, waitSeconds: waited };
          }
        }
      }
    }

    if (seen.agent) {
      const member = memberFrom(seen.agent);
      const recorded = await fleet.recordMember(member, now);
      result = { ...result, memberRecorded: recorded };
      if (recorded && member.instanceId) {
        if (q.protectBusyInstances && (detailType === 'job.started' || detailType === 'job.finished')) {
          const started = detailType === 'job.started';
          // Another agent of the instance may still run a job: then protection stays.
          const neighbour =
            !started && q.agentsPerInstance > 1 ? await this.busyAgentOf(q, member) : undefined;
          let protection = neighbour
            ? this.keep(q, member, neighbour)
            : await this.protect(q, member, started);
          // A job.started handled meanwhile may have set protection before this clearing landed:
          // set it again for the job now running.
          const busyNow = protection === 'cleared' ? await this.busyAgentOf(q, member) : undefined;
          if (busyNow) protection = await this.protect(q, busyNow, true);
          result = { ...result, protection };
        }
        if (member.activity === 'lost') {
          const agents = await this.agentsOfInstance(q, member.instanceId);
          result = { ...result, healed: await this.healInstance(q, agents, undefined, now) };
        }
      }
    }
    return result;
  }

  /** The current agents of one instance, as the fleet records say now. */
  private async agentsOfInstance(
    q: AutoscalerQueueConfig,
    instanceId: string | undefined,
  ): Promise<FleetMember[]> {
    const records = (await this.deps.fleet.members(q.queue)).filter((m) => m.instanceId === instanceId);
    return currentAgentsOfInstance(records, q.agentsPerInstance);
  }

  /** An agent of `member`'s instance that runs a job, as the fleet records say now. */
  private async busyAgentOf(q: AutoscalerQueueConfig, member: FleetMember): Promise<FleetMember | undefined> {
    return (await this.agentsOfInstance(q, member.instanceId)).find((m) => m.activity === 'busy');
  }

  /** Protection stays: `busy`, a neighbour of the agent that finished, still runs a job. */
  private keep(q: AutoscalerQueueConfig, member: FleetMember, busy: FleetMember): 'kept' {
    this.deps.log.info('Scale-in protection kept: another agent of the instance runs a job', {
      queue: q.queue,
      asgName: q.asgName,
      instanceId: member.instanceId,
      agentId: member.agentId,
      jobId: member.jobId,
      busyAgentId: busy.agentId,
      busyJobId: busy.jobId,
    });
    return 'kept';
  }

  /** Sets or clears one instance's scale-in protection (logged; a dry run only logs). */
  private async protect(
    q: AutoscalerQueueConfig,
    member: FleetMember,
    busy: boolean,
  ): Promise<'set' | 'cleared' | 'not-in-group' | 'dry-run'> {
    const { groups, log, metrics, config } = this.deps;
    const attributes = {
      queue: q.queue,
      asgName: q.asgName,
      instanceId: member.instanceId,
      agentId: member.agentId,
      jobId: member.jobId,
    };
    if (this.isDryRun(q)) {
      log.info(busy ? 'Would protect instance from scale-in' : 'Would clear scale-in protection', {
        ...attributes,
        dryRun: true,
      });
      return 'dry-run';
    }
    const outcome = await groups.setScaleInProtection(q.asgName as string, member.instanceId as string, busy);
    if (outcome === 'not-in-group') {
      log.warn('Instance not in the group: scale-in protection unchanged', attributes);
      return 'not-in-group';
    }
    log.info(busy ? 'Instance protected from scale-in' : 'Instance scale-in protection cleared', attributes);
    metrics.action(config.org, q.queue, busy ? 'InstanceProtected' : 'InstanceUnprotected');
    return busy ? 'set' : 'cleared';
  }

  /**
   * Heals one member's instance if {@link healVerdict} says so and the group's rate cap has room
   * (claimed in the store, so concurrent invocations share one cap). `group` is described when
   * not given. True when the instance was marked Unhealthy (or, in dry run, would have been).
   */
  async heal(
    q: AutoscalerQueueConfig,
    member: FleetMember,
    group: GroupCapacity | undefined,
    now: number,
  ): Promise<boolean> {
    const { fleet, groups, log, metrics, config } = this.deps;
    if (!q.healingEnabled || !member.instanceId) return false;
    const dryRun = this.isDryRun(q);
    let instances: readonly GroupInstance[];
    if (dryRun) instances = pretendInstances([member]);
    else {
      const described = group ?? (await groups.describe([q.asgName as string])).get(q.asgName as string);
      instances = described?.instances ?? [];
    }
    const policy = {
      healingEnabled: q.healingEnabled,
      healingGraceSeconds: q.healingGraceSeconds,
      healingMaxFraction: q.healingMaxPercent / 100,
      healingWindowSeconds: q.healingWindowSeconds,
    };
    const windowMs = q.healingWindowSeconds * 1000;
    const groupSize = dryRun ? Math.max(instances.length, q.max) : instances.length;
    const verdict = healVerdict({
      policy,
      member,
      instance: instances.find((i) => i.instanceId === member.instanceId),
      healedInWindow: await fleet.healsInWindow(q.queue, now, windowMs),
      groupSize,
      now,
    });
    const attributes = {
      queue: q.queue,
      asgName: q.asgName,
      instanceId: member.instanceId,
      agentId: member.agentId,
      agentState: member.activity,
      since: new Date(member.since).toISOString(),
      dryRun,
    };
    if (!verdict.heal) {
      if (verdict.why === 'rate-capped') {
        log.warn('Healing capped: lost agent left in place', {
          ...attributes,
          cap: healCap(groupSize, policy.healingMaxFraction),
        });
        metrics.action(config.org, q.queue, 'HealingCapped');
      }
      return false;
    }
    const cap = healCap(groupSize, policy.healingMaxFraction);
    if (!(await fleet.claimHeal(q.queue, now, windowMs, cap))) {
      log.warn('Healing capped: lost agent left in place', { ...attributes, cap });
      metrics.action(config.org, q.queue, 'HealingCapped');
      return false;
    }
    if (dryRun) {
      log.info('Would mark instance unhealthy (lost agent)', attributes);
      return true;
    }
    const outcome = await groups.markUnhealthy(member.instanceId);
    if (outcome === 'not-in-group') {
      log.info('Lost agent: instance already left the group', attributes);
      return false;
    }
    log.info('Instance marked unhealthy (lost agent): the group replaces it', attributes);
    metrics.action(config.org, q.queue, 'InstanceMarkedUnhealthy');
    return true;
  }

  /**
   * Heals every instance of the queue whose agents were all lost or stayed disconnected past the
   * grace (with one agent per instance: whose agent was).
   */
  async healQueue(
    q: AutoscalerQueueConfig,
    members: readonly FleetMember[],
    group: GroupCapacity | undefined,
    now: number,
  ): Promise<string[]> {
    const healed: string[] = [];
    for (const instance of viewFleet(members, q.agentsPerInstance).instances) {
      if (await this.healInstance(q, instance.agents, group, now)) healed.push(instance.instanceId);
    }
    return healed;
  }

  /**
   * Heals an instance from its agents' current records: only when all of them are lost or
   * disconnected (see {@link instanceHealth}); an instance some of whose agents are still
   * connected is left in place and logged.
   */
  private async healInstance(
    q: AutoscalerQueueConfig,
    agents: readonly FleetMember[],
    group: GroupCapacity | undefined,
    now: number,
  ): Promise<boolean> {
    if (!q.healingEnabled) return false;
    const health = instanceHealth(agents);
    if (health.kind === 'partly-lost') {
      this.deps.log.info('Instance partly lost: some agents are still connected, so it stays', {
        queue: q.queue,
        asgName: q.asgName,
        instanceId: health.lost[0]?.instanceId,
        lostAgents: health.lost.map((a) => `${a.agentId} (${a.activity})`),
        connectedAgents: health.connected.map((a) => `${a.agentId} (${a.activity})`),
      });
      return false;
    }
    return health.kind === 'all-lost' ? this.heal(q, health.member, group, now) : false;
  }

  /**
   * Lowers the group by `count` instances by terminating specific idle ones (oldest idle
   * first), each re-checked with Buildkite first; the group never chooses. Without a REST API
   * token, or with no instance safely idle, nothing is terminated.
   */
  async scaleIn(
    q: AutoscalerQueueConfig,
    members: readonly FleetMember[],
    group: GroupCapacity,
    count: number,
    now: number,
  ): Promise<ScaleInResult> {
    const { checker, groups, log, metrics, config } = this.deps;
    const dryRun = this.isDryRun(q);
    const context = { queue: q.queue, asgName: q.asgName, dryRun, wanted: count };
    if (!checker) {
      log.warn(
        'Scale-in held: no Buildkite API token to re-check agents, so no instance is terminated',
        context,
      );
      metrics.action(config.org, q.queue, 'ScaleInHeld');
      return { terminated: [], held: 'no-api-token' };
    }
    const instances = (dryRun ? pretendInstances(members) : (group.instances ?? [])).map((i) =>
      // With protection on, kitebridge owns the flag: an idle agent's instance kept protected
      // (its job.finished lost) is still a candidate, and the re-check below decides.
      q.protectBusyInstances ? { ...i, protectedFromScaleIn: false } : i,
    );
    const selection = selectIdleInstances({
      members,
      instances,
      count: members.length, // every eligible one, in order: a re-check may pass some over
      idleMs: q.scaleInIdleSeconds * 1000,
      now,
      agentsPerInstance: q.agentsPerInstance,
    });
    const terminated: string[] = [];
    candidates: for (const candidate of selection.candidates) {
      if (terminated.length >= count) break;
      const instanceId = candidate.instanceId;
      const attributes = {
        ...context,
        instanceId,
        agentId: candidate.agentId,
        ...(candidate.agents.length > 1 ? { agentIds: candidate.agents.map((a) => a.agentId) } : {}),
        idleSince: new Date(candidate.since).toISOString(),
      };
      // Every agent of the instance must be confirmed idle: any one busy or in doubt keeps it.
      for (const agent of candidate.agents) {
        const check = await checker.check(agent.agentId);
        if (mayTerminate(check)) continue;
        log.info('Scale-in passed over an instance: Buildkite says its agent is not idle', {
          ...attributes,
          agentId: agent.agentId,
          check: check.kind,
          ...(check.kind === 'doubt' ? { reason: check.reason } : {}),
          ...(check.kind === 'busy' && check.jobId ? { jobId: check.jobId } : {}),
        });
        continue candidates;
      }
      if (dryRun) {
        log.info('Would terminate idle instance', attributes);
        terminated.push(instanceId);
        continue;
      }
      const outcome = await groups.terminateInstance(instanceId);
      if (outcome === 'not-in-group') {
        log.info('Scale-in: instance already left the group', attributes);
        continue;
      }
      log.info('Idle instance terminated (desired capacity decremented)', attributes);
      metrics.action(config.org, q.queue, 'InstanceTerminated');
      terminated.push(instanceId);
    }
    if (terminated.length === 0) {
      metrics.action(config.org, q.queue, 'ScaleInHeld');
      log.info('Scale-in held: no instance is safely idle', {
        ...context,
        passedOver: selection.passedOver.length,
      });
      return { terminated, held: 'no-idle-instance' };
    }
    return { terminated };
  }

  /**
   * Publishes the queue's wait figures, reports stuck jobs once each (`job.stuck` on the bus),
   * and returns how many scheduled jobs no agent of the queue can match (not demand). When the
   * metrics API says the queue has no scheduled or waiting job, tracked ones are stale (their
   * job.started was lost) and are ignored.
   *
   * With a job checker, a job about to be reported stuck (and the queue's oldest waiting job, once
   * it has waited the stuck time, at most every {@link OLDEST_JOB_RECHECK_MS}) is first asked about, when its record names its build: a record
   * Buildkite says started or finished is stale (both its job.started and job.finished were lost),
   * so it is updated instead of reported, and it no longer holds `OldestWaitingJobAge` up. Doubt
   * (a failed call) reports the job as before. At most `budget.remaining` jobs are asked about,
   * oldest first; a stuck job left unasked waits for the next evaluation.
   */
  async reviewWaits(
    q: AutoscalerQueueConfig,
    counts: QueueCounts,
    members: readonly FleetMember[],
    now: number,
    budget: JobCheckBudget = { remaining: MAX_JOB_CHECKS_PER_EVALUATION },
  ): Promise<{ unmatched: number; stuck: number; cleared: number }> {
    const { fleet, metrics, health, log, config, jobChecker } = this.deps;
    const pending = counts.scheduled + counts.waiting;
    const listed = pending === 0 ? [] : await fleet.jobs(q.queue);
    // One record per agent that is still there (an agent restarted under a new id is not two).
    const agents = currentMembers(members, q.agentsPerInstance);
    const stuckMs = q.stuckJobSeconds * 1000;
    const checks = new Map<string, JobCheck>();
    const unasked = new Set<string>();
    let jobs = listed;
    let cleared = 0;
    if (jobChecker) {
      const before = summariseWaits(listed, agents, now, stuckMs);
      const oldestFirst = (a: TrackedJob, b: TrackedJob) => a.readyAt - b.readyAt;
      const oldest = listed
        .filter((j) => j.state === 'waiting' && now - j.readyAt >= stuckMs)
        .sort(oldestFirst)[0];
      const candidates = [...before.stuck.map((s) => s.job).sort(oldestFirst)];
      const lastAsked = this.oldestAsked.get(q.queue);
      const askedRecently =
        lastAsked !== undefined &&
        lastAsked.jobId === oldest?.jobId &&
        now - lastAsked.at < OLDEST_JOB_RECHECK_MS;
      if (oldest && !askedRecently && !candidates.some((j) => j.jobId === oldest.jobId)) {
        candidates.push(oldest);
      }
      const updated = new Map<string, TrackedJob>();
      for (const job of candidates) {
        if (job.pipelineSlug === undefined || job.buildNumber === undefined) continue;
        if (budget.remaining <= 0) {
          // A stuck job waits for a later evaluation's answer; the oldest, not stuck, is just not asked now.
          if (before.stuck.some((x) => x.job.jobId === job.jobId)) unasked.add(job.jobId);
          continue;
        }
        budget.remaining--;
        if (job.jobId === oldest?.jobId) this.oldestAsked.set(q.queue, { jobId: job.jobId, at: now });
        const check = await jobChecker.check({
          jobId: job.jobId,
          pipelineSlug: job.pipelineSlug,
          buildNumber: job.buildNumber,
        });
        checks.set(job.jobId, check);
        if (check.kind !== 'started' && check.kind !== 'finished') continue;
        updated.set(job.jobId, await this.clearStale(q, job, check, now));
        cleared++;
      }
      if (unasked.size > 0) {
        log.info('Stuck-job re-checks left for the next evaluation: the per-evaluation cap is reached', {
          queue: q.queue,
          cap: MAX_JOB_CHECKS_PER_EVALUATION,
          jobIds: [...unasked],
        });
      }
      jobs = listed.map((j) => updated.get(j.jobId) ?? j);
    }
    const summary = summariseWaits(jobs, agents, now, stuckMs);
    metrics.queueWaits(config.org, q.queue, {
      oldestWaitingJobAgeSeconds: summary.oldestWaitingAgeSeconds,
      unsatisfiableJobs: summary.unmatched.length + (q.scaleOutForWaitingJobs ? 0 : counts.waiting),
    });
    let stuck = 0;
    for (const { job, reason, waitedSeconds } of summary.stuck) {
      if (unasked.has(job.jobId)) continue;
      if (!(await fleet.markStuckReported(q.queue, job.jobId, now))) continue;
      const detail = {
        org: config.org,
        queue: q.queue,
        job: { id: job.jobId, agentQueryRules: job.rules },
        waitedSeconds,
        reason,
        readyAt: new Date(job.readyAt).toISOString(),
      };
      await health.jobStuck(detail);
      const check = checks.get(job.jobId);
      log.warn('Job stuck: no connected agent can take it', {
        ...detail,
        jobId: job.jobId,
        ...(check?.kind === 'waiting' ? { buildkiteState: check.state } : {}),
        ...(check?.kind === 'doubt' ? { recheck: `not confirmed: ${check.reason}` } : {}),
      });
      stuck++;
    }
    return { unmatched: summary.unmatched.length, stuck, cleared };
  }

  /**
   * Records what Buildkite says of a job its record holds as waiting (started or finished), as
   * the lost event would have: at the event's version when Buildkite gives its time, else at the
   * record's own. The store's conditional write refuses it when a newer event was recorded since.
   */
  private async clearStale(
    q: AutoscalerQueueConfig,
    job: TrackedJob,
    check: Extract<JobCheck, { kind: 'started' | 'finished' }>,
    now: number,
  ): Promise<TrackedJob> {
    const { fleet, metrics, log, config } = this.deps;
    const asked = check.at === undefined ? job.version : versionOf(check.at, ASKED_STATE_EVENT[check.kind]);
    const record: TrackedJob = { ...job, state: check.kind, version: Math.max(job.version, asked) };
    const recorded = await fleet.recordJob(record, now);
    log.info(`Stale waiting record: Buildkite says the job ${check.kind}, so it is not reported stuck`, {
      queue: q.queue,
      jobId: job.jobId,
      pipelineSlug: job.pipelineSlug,
      buildNumber: job.buildNumber,
      buildkiteState: check.state,
      readyAt: new Date(job.readyAt).toISOString(),
      // False: a newer event was recorded meanwhile, and that record stands.
      recorded,
    });
    metrics.action(config.org, q.queue, 'StaleJobCleared');
    return record;
  }
}
