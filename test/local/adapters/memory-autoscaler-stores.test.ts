import type { FleetMember, TrackedJob } from '../../../lambda/autoscaler/fleet';
import {
  MemoryAutoscalerStateStore,
  MemoryFleetStore,
} from '../../../local/adapters/memory-autoscaler-stores';

describe('MemoryAutoscalerStateStore has the DynamoDB store claim semantics', () => {
  it('first claim wins, the trailing slot is taken once', async () => {
    const memory = new MemoryAutoscalerStateStore();
    expect(await memory.claimEvaluation(undefined, 1000)).toBe(true);
    expect(await memory.claimEvaluation(undefined, 1000)).toBe(false);
    expect(await memory.claimTrailing(1000, 11_000, 2000)).toBe(true);
    expect(await memory.claimTrailing(1000, 11_000, 3000)).toBe(false);
    expect(await memory.claimEvaluation(1000, 11_000)).toBe(true);
    expect(await memory.readGate()).toEqual({ lastEvaluatedAt: 11_000, trailingAt: undefined });
  });

  it('merges queue state patches', async () => {
    const memory = new MemoryAutoscalerStateStore();
    await memory.recordQueue('linux', { lastScaleOutAt: 5 });
    await memory.recordQueue('linux', { lastScaleInAt: 9 });
    expect(await memory.readQueue('linux')).toEqual({ lastScaleOutAt: 5, lastScaleInAt: 9 });
  });
});

describe('MemoryFleetStore has the DynamoDB store version semantics', () => {
  const member = (version: number, activity: FleetMember['activity'], instanceId?: string): FleetMember => ({
    queue: 'linux',
    agentId: 'agent-1',
    ...(instanceId ? { instanceId } : {}),
    activity,
    tags: [],
    since: version,
    version,
  });

  it('refuses an older member record, applies an equal (replayed) or newer one', async () => {
    const fleet = new MemoryFleetStore();
    expect(await fleet.recordMember(member(20, 'busy', 'i-00000001'))).toBe(true);
    expect(await fleet.recordMember(member(10, 'idle', 'i-00000001'))).toBe(false);
    expect(await fleet.recordMember(member(20, 'busy', 'i-00000001'))).toBe(true);
    expect(await fleet.recordMember(member(30, 'idle', 'i-00000001'))).toBe(true);
    expect((await fleet.members('linux')).map((m) => m.activity)).toEqual(['idle']);
  });

  it('keys by agent: two agents of one instance are two records; queues are kept apart', async () => {
    const fleet = new MemoryFleetStore();
    await fleet.recordMember(member(1, 'idle', 'i-00000001'));
    await fleet.recordMember({ ...member(2, 'busy', 'i-00000001'), agentId: 'agent-2' });
    await fleet.recordMember({ ...member(1, 'idle'), queue: 'arm64' });
    expect((await fleet.members('linux')).map((m) => [m.agentId, m.instanceId, m.activity])).toEqual([
      ['agent-1', 'i-00000001', 'idle'],
      ['agent-2', 'i-00000001', 'busy'],
    ]);
    expect(await fleet.members('arm64')).toHaveLength(1);
  });

  it('one agent is one record, whether its event named an instance or not', async () => {
    const fleet = new MemoryFleetStore();
    await fleet.recordMember(member(1, 'idle', 'i-00000001'));
    await fleet.recordMember(member(2, 'busy'));
    expect((await fleet.members('linux')).map((m) => [m.agentId, m.activity])).toEqual([['agent-1', 'busy']]);
  });

  it('merges the job events of one second by job id, as the DynamoDB store does', async () => {
    const fleet = new MemoryFleetStore();
    // Versions of one second: 12 a job.finished, 13 a job.started.
    const finished: FleetMember = {
      ...member(12, 'idle', 'i-00000001'),
      finishedJobIds: ['job-1'],
      since: 1,
    };
    const started: FleetMember = { ...member(13, 'busy', 'i-00000001'), jobId: 'job-1', since: 1 };
    expect(await fleet.recordMember(finished)).toBe(true);
    expect(await fleet.recordMember(started)).toBe(false);
    expect(await fleet.members('linux')).toEqual([finished]);
    expect(await fleet.recordMember({ ...started, jobId: 'job-2' })).toBe(true);
    expect(await fleet.members('linux')).toEqual([{ ...started, jobId: 'job-2', finishedJobIds: ['job-1'] }]);
  });

  it("keeps a job's build, and refuses a write older than the stored record", async () => {
    const fleet = new MemoryFleetStore();
    const job: TrackedJob = {
      queue: 'linux',
      jobId: 'j',
      state: 'waiting',
      readyAt: 1,
      rules: [],
      pipelineSlug: 'app',
      buildNumber: 7,
      version: 10,
    };
    expect(await fleet.recordJob(job)).toBe(true);
    expect(await fleet.jobs('linux')).toEqual([job]);
    expect(await fleet.recordJob({ ...job, state: 'finished', version: 22 })).toBe(true);
    expect(await fleet.recordJob({ ...job, state: 'started', version: 13 })).toBe(false);
    expect(await fleet.readJob('linux', 'j')).toEqual({ ...job, state: 'finished', version: 22 });
  });

  it('marks a job stuck once, and only a job it knows', async () => {
    const fleet = new MemoryFleetStore();
    const job: TrackedJob = {
      queue: 'linux',
      jobId: 'j',
      state: 'waiting',
      readyAt: 0,
      rules: [],
      version: 1,
    };
    expect(await fleet.markStuckReported('linux', 'j', 5)).toBe(false);
    await fleet.recordJob(job);
    expect(await fleet.markStuckReported('linux', 'j', 5)).toBe(true);
    expect(await fleet.markStuckReported('linux', 'j', 6)).toBe(false);
    expect((await fleet.readJob('linux', 'j'))?.stuckReportedAt).toBe(5);
  });

  it('claims heals up to the cap within the window', async () => {
    const fleet = new MemoryFleetStore();
    expect(await fleet.claimHeal('linux', 1000, 600, 2)).toBe(true);
    expect(await fleet.claimHeal('linux', 1100, 600, 2)).toBe(true);
    expect(await fleet.claimHeal('linux', 1200, 600, 2)).toBe(false);
    expect(await fleet.healsInWindow('linux', 1200, 600)).toBe(2);
    // The first heal leaves the window at 1600.
    expect(await fleet.claimHeal('linux', 1600, 600, 2)).toBe(true);
  });
});
