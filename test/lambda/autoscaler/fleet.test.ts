import fc from 'fast-check';
import {
  agentMatches,
  buildkiteTime,
  instanceIdOf,
  memberFrom,
  mergeMember,
  observe,
  supersedes,
  trackedJobFrom,
  versionOf,
  type FleetMember,
} from '../../../lambda/autoscaler/fleet';

const T0 = Date.parse('2026-06-03T04:15:00Z');
const agent = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  meta_data: ['queue=linux', 'aws:instance-id=i-0123456789abcdef0', 'os=linux'],
  ...extra,
});

describe('buildkiteTime', () => {
  it.each([
    ['2016-07-08 07:25:23 UTC', Date.parse('2016-07-08T07:25:23Z')],
    ['2016-07-08T07:25:23.120Z', Date.parse('2016-07-08T07:25:23.120Z')],
    ['', undefined],
    [null, undefined],
    ['not a time', undefined],
  ])('%j → %s', (value, expected) => expect(buildkiteTime(value)).toBe(expected));
});

describe('instanceIdOf', () => {
  it.each([
    [['aws:instance-id=i-0123456789abcdef0'], 'i-0123456789abcdef0'],
    [['queue=x', 'aws:instance-id=i-01234567'], 'i-01234567'],
    [['aws:instance-id=not-an-id'], undefined],
    [['instance-id=i-0123456789abcdef0'], undefined],
    [[], undefined],
  ])('%j → %s', (tags, expected) => expect(instanceIdOf(tags)).toBe(expected));
});

describe('observe', () => {
  it('job.started: the job started (wait measured from runnable_at) and its agent busy, at started_at', () => {
    const seen = observe(
      'job.started',
      {
        job: {
          id: 'job-1',
          agent_query_rules: ['queue=linux', 'os=linux'],
          scheduled_at: '2026-06-03 04:14:00 UTC',
          runnable_at: '2026-06-03 04:14:10 UTC',
          started_at: '2026-06-03 04:15:00 UTC',
          agent: agent('agent-1'),
        },
      },
      T0 + 5000,
    );
    expect(seen.job).toMatchObject({
      queue: 'linux',
      jobId: 'job-1',
      state: 'started',
      readyAt: T0 - 50_000,
      startedAt: T0,
      rules: ['os=linux'],
      at: T0,
    });
    expect(seen.agent).toMatchObject({
      queue: 'linux',
      agentId: 'agent-1',
      instanceId: 'i-0123456789abcdef0',
      activity: 'busy',
      jobId: 'job-1',
      at: T0,
      version: versionOf(T0, 'job.started'),
    });
  });

  it('job.finished: the agent idle since finished_at', () => {
    const seen = observe(
      'job.finished',
      {
        job: {
          id: 'job-1',
          agent_query_rules: ['queue=linux'],
          finished_at: '2026-06-03 04:15:00 UTC',
          agent: agent('a'),
        },
      },
      T0 + 9000,
    );
    expect(seen.agent).toMatchObject({ activity: 'idle', at: T0 });
    expect(memberFrom(seen.agent!).since).toBe(T0);
    expect(seen.agent?.jobId).toBeUndefined();
    expect(seen.agent?.finishedJobIds).toEqual(['job-1']);
  });

  it('job.scheduled: a waiting job, ready at scheduled_at, no agent', () => {
    const seen = observe(
      'job.scheduled',
      { job: { id: 'job-2', agent_query_rules: ['queue=linux'], scheduled_at: '2026-06-03 04:15:00 UTC' } },
      T0 + 700,
    );
    expect(seen.job).toMatchObject({ state: 'waiting', readyAt: T0, at: T0 });
    expect(seen.agent).toBeUndefined();
  });

  it.each([
    ['agent.connected', 'idle'],
    ['agent.disconnected', 'disconnected'],
    ['agent.lost', 'lost'],
    ['agent.stopping', 'stopping'],
    ['agent.stopped', 'stopped'],
  ])('%s: the agent %s, at the time kitebridge received it', (detailType, activity) => {
    const seen = observe(detailType, { agent: agent('agent-1') }, T0);
    expect(seen.agent).toMatchObject({
      queue: 'linux',
      activity,
      at: T0,
      version: versionOf(T0, detailType),
    });
  });

  it.each([
    ['agent.connected', 'connected_at'],
    ['agent.disconnected', 'disconnected_at'],
    ['agent.lost', 'lost_at'],
    ['agent.stopped', 'stopped_at'],
  ])(
    '%s: at the agent payload’s %s when it has one, as job events use the job’s times',
    (detailType, field) => {
      const seen = observe(
        detailType,
        { agent: { ...agent('agent-1'), [field]: '2026-06-03 04:00:02 UTC' } },
        T0 + 60_000,
      );
      const at = Date.parse('2026-06-03T04:00:02Z');
      expect(seen.agent).toMatchObject({ at, version: versionOf(at, detailType) });
    },
  );

  it.each([
    ['agent.blocked', { agent: agent('a') }],
    ['agent.connected', { agent: { meta_data: ['queue=linux'] } }],
    ['job.activated', { job: { id: 'j' } }],
    ['job.started', { job: { agent_query_rules: [] } }],
    ['build.finished', { build: {} }],
  ])('%s without what the fleet keeps: nothing', (detailType, detail) => {
    expect(observe(detailType, detail, T0)).toEqual({});
  });

  it('an agent without the instance id tag is observed (counted) with no instance', () => {
    const seen = observe('agent.connected', { agent: { id: 'a', meta_data: ['queue=linux'] } }, T0);
    expect(seen.agent?.instanceId).toBeUndefined();
  });
});

describe('last writer by event time', () => {
  const obs = (detailType: string, at: number, job = 'j') =>
    observe(
      detailType,
      {
        job: {
          id: job,
          agent: agent('a'),
          started_at: new Date(at).toISOString(),
          finished_at: new Date(at).toISOString(),
        },
      },
      at,
    ).agent!;
  const rec = (detailType: string, at: number, job = 'j') => memberFrom(obs(detailType, at, job));
  /** The record after merging `events` in this order into nothing. */
  const mergeAll = (events: readonly FleetMember[]) =>
    events.reduce<FleetMember | undefined>((stored, e) => mergeMember(stored, e).record ?? stored, undefined);

  it.each([
    ['nothing stored', undefined, rec('job.started', T0), true],
    ['a newer event', rec('job.started', T0), rec('job.finished', T0 + 60_000), true],
    ['a replay (same event again)', rec('job.started', T0), rec('job.started', T0), true],
    ['an older event arriving late', rec('job.finished', T0 + 60_000), rec('job.started', T0), false],
    // Buildkite's webhook times are whole seconds: the agent's next job started in the second its last one finished.
    [
      'the next job started in the second the last one finished',
      rec('job.finished', T0),
      rec('job.started', T0, 'k'),
      true,
    ],
    // …and a job that ran for less than a second, whatever order its events come in.
    ['a job finished in the second it started', rec('job.started', T0), rec('job.finished', T0), true],
    [
      'a late job.started of a job that finished in its second',
      rec('job.finished', T0),
      rec('job.started', T0),
      false,
    ],
    [
      'an agent event of an earlier second',
      rec('job.finished', T0),
      memberFrom(observe('agent.lost', { agent: agent('a') }, T0 - 1000).agent!),
      false,
    ],
    [
      'a lost agent in the second of its last job',
      rec('job.started', T0),
      memberFrom(observe('agent.lost', { agent: agent('a') }, T0).agent!),
      true,
    ],
  ])('%s → applied: %s', (_name, stored, incoming, applied) => {
    expect(mergeMember(stored, incoming).applied).toBe(applied);
  });

  it('a job that ran for less than a second leaves its agent idle, in either order', () => {
    const idle = {
      activity: 'idle',
      finishedJobIds: ['j'],
      since: T0,
      version: versionOf(T0, 'job.finished'),
    };
    const inOrder = mergeAll([rec('job.started', T0), rec('job.finished', T0)]);
    expect(inOrder).toMatchObject(idle);
    expect(inOrder?.jobId).toBeUndefined();
    expect(mergeAll([rec('job.finished', T0), rec('job.started', T0)])).toEqual(inOrder);
  });

  it('the late job.started of a finished job changes nothing: no write', () => {
    const stored = mergeAll([rec('job.started', T0), rec('job.finished', T0)]);
    expect(mergeMember(stored, rec('job.started', T0))).toEqual({ applied: false });
  });

  it("a job.finished of the agent's previous job, after its next job started in that second: still busy, the finished job kept", () => {
    const merged = mergeMember(rec('job.started', T0, 'next'), rec('job.finished', T0, 'previous'));
    expect(merged).toEqual({
      applied: false,
      record: expect.objectContaining({
        activity: 'busy',
        jobId: 'next',
        finishedJobIds: ['previous'],
        version: versionOf(T0, 'job.started'),
      }),
    });
  });

  it('the job events of one second merge to one record in any order, with replays (property)', () => {
    // One agent's second: up to three jobs in turn, each started and (all but maybe the last) finished in it.
    const second = fc
      .record({ jobs: fc.integer({ min: 1, max: 3 }), lastRuns: fc.boolean() })
      .chain(({ jobs, lastRuns }) => {
        const events = Array.from({ length: jobs }, (_, k) => [
          rec('job.started', T0, `job-${k}`),
          ...(k === jobs - 1 && lastRuns ? [] : [rec('job.finished', T0, `job-${k}`)]),
        ]).flat();
        return fc.tuple(
          fc.constant({ events, running: lastRuns ? `job-${jobs - 1}` : undefined }),
          fc.array(fc.integer({ min: 0, max: events.length - 1 }), { maxLength: 3 }).chain((replays) => {
            const all = [...events.map((_, k) => k), ...replays];
            return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
          }),
        );
      });
    fc.assert(
      fc.property(second, ([{ events, running }, order]) => {
        const inOrder = mergeAll(events);
        expect(inOrder?.activity).toBe(running ? 'busy' : 'idle');
        expect(inOrder?.jobId).toBe(running);
        expect(mergeAll(order.map((k) => events[k] as FleetMember))).toEqual(inOrder);
      }),
      { numRuns: 300 },
    );
  });

  it('a lost agent outranks a job.finished of the same second', () => {
    expect(versionOf(T0, 'agent.lost')).toBeGreaterThan(versionOf(T0, 'job.finished'));
    expect(versionOf(T0, 'job.started')).toBeGreaterThan(versionOf(T0, 'agent.connected'));
    expect(versionOf(T0, 'job.started')).toBeGreaterThan(versionOf(T0, 'job.finished'));
  });
});

describe('supersedes (job records)', () => {
  const job = (version: number) => ({ version });
  it.each([
    [undefined, job(10), true],
    [job(10), job(10), true],
    [job(10), job(20), true],
    [job(20), job(10), false],
  ])('stored %j, incoming %j → %s', (stored, incoming, expected) => {
    expect(supersedes(stored, incoming)).toBe(expected);
  });
});

describe('trackedJobFrom', () => {
  it('keeps the stored ready time and rules when job.started has none, and the stuck mark', () => {
    const stored = {
      queue: 'linux',
      jobId: 'j',
      state: 'waiting' as const,
      readyAt: T0,
      rules: ['os=linux'],
      version: 1,
      stuckReportedAt: T0 + 1,
    };
    const started = observe(
      'job.started',
      { job: { id: 'j', agent_query_rules: ['queue=linux'] } },
      T0 + 30_000,
    ).job!;
    expect(trackedJobFrom(started, stored)).toEqual({
      ...stored,
      state: 'started',
      version: started.version,
    });
  });

  it("keeps the job's build from the event's pipeline and build, else the stored one's", () => {
    const body = (build: Record<string, unknown>) => ({
      job: { id: 'j', agent_query_rules: ['queue=linux'], scheduled_at: '2026-06-03 04:15:00 UTC' },
      ...build,
    });
    const scheduled = observe(
      'job.scheduled',
      body({ build: { id: 'b', number: 42 }, pipeline: { slug: 'app' } }),
      T0,
    ).job!;
    expect(scheduled).toMatchObject({ pipelineSlug: 'app', buildNumber: 42 });
    const stored = trackedJobFrom(scheduled, undefined);
    expect(stored).toMatchObject({ pipelineSlug: 'app', buildNumber: 42 });
    // A later event without them (an elided body) keeps the stored build.
    const started = observe('job.started', { job: { id: 'j' } }, T0 + 5000).job!;
    expect(started.pipelineSlug).toBeUndefined();
    expect(trackedJobFrom(started, stored)).toMatchObject({
      state: 'started',
      pipelineSlug: 'app',
      buildNumber: 42,
    });
  });

  it.each([
    ['no pipeline', { build: { number: 42 } }],
    ['no build', { pipeline: { slug: 'app' } }],
    ['an elided build', { build: { '...': '...' }, pipeline: { slug: 'app' } }],
    ['a build number that is not one', { build: { number: 'forty-two' }, pipeline: { slug: 'app' } }],
    ['build number 0', { build: { number: 0 }, pipeline: { slug: 'app' } }],
    ['an empty slug', { build: { number: 42 }, pipeline: { slug: '' } }],
  ])('%s: no build kept (both or neither)', (_name, build) => {
    const o = observe('job.scheduled', { job: { id: 'j' }, ...build }, T0).job!;
    expect(o).not.toHaveProperty('pipelineSlug');
    expect(o).not.toHaveProperty('buildNumber');
    expect(trackedJobFrom(o, undefined)).not.toHaveProperty('pipelineSlug');
  });

  it('reads a build number sent as digits', () => {
    const o = observe(
      'job.scheduled',
      { job: { id: 'j' }, build: { number: '42' }, pipeline: { slug: 'app' } },
      T0,
    ).job!;
    expect(o).toMatchObject({ pipelineSlug: 'app', buildNumber: 42 });
  });

  it('records a started job without a ready time (its event time stands in), so a late job.scheduled is refused', () => {
    const started = observe('job.started', { job: { id: 'j' } }, T0).job!;
    expect(trackedJobFrom(started, undefined)).toMatchObject({ state: 'started', readyAt: T0 });
  });
});

describe('agentMatches (agent query rules)', () => {
  const tags = ['queue=linux', 'os=linux', 'size=large', 'docker'];
  it.each([
    [[], true],
    [['os=linux'], true],
    [['os=windows'], false],
    [['os=lin*'], true],
    [['size=*'], true],
    [['gpu=*'], false],
    [['docker'], true],
    [['os=linux', 'size=small'], false],
    [['os!=windows'], true],
    [['os!=linux'], false],
  ])('%j → %s', (rules, expected) => expect(agentMatches(rules, tags)).toBe(expected));
});
