import fc from 'fast-check';
import type { FleetMember } from '../../../lambda/autoscaler/fleet';
import {
  currentAgentsOfInstance,
  currentMembers,
  latestPerAgent,
  viewFleet,
} from '../../../lambda/autoscaler/instances';
import { selectIdleInstances, type GroupInstance } from '../../../lambda/autoscaler/scale-in';
import { instanceHealth } from '../../../lambda/autoscaler/healing';

const NOW = 10_000_000;
const IDLE_MS = 600_000;
const I = (n: number) => `i-0000000${n}`;
let version = 0;
/** Agent `id` on instance `n` (0: none), `activity` since `agoMs`; later calls get higher versions. */
const rec = (
  id: string,
  n: number,
  activity: FleetMember['activity'],
  agoMs = 0,
  v?: number,
): FleetMember => ({
  queue: 'linux',
  agentId: id,
  ...(n > 0 ? { instanceId: I(n) } : {}),
  activity,
  ...(activity === 'busy' ? { jobId: `job-of-${id}` } : {}),
  tags: [],
  since: NOW - agoMs,
  version: v ?? ++version,
});
const inService = (n: number): GroupInstance => ({
  instanceId: I(n),
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
  protectedFromScaleIn: false,
});

describe('latestPerAgent (a record of the previous version beside the agent’s own)', () => {
  it('keeps the higher version of each agent, in order of first appearance', () => {
    const older = rec('a', 1, 'busy', 0, 10);
    const newer = rec('a', 1, 'idle', 0, 20);
    const other = rec('b', 1, 'idle', 0, 5);
    expect(latestPerAgent([older, other, newer])).toEqual([newer, other]);
    expect(latestPerAgent([newer, other, older])).toEqual([newer, other]);
  });
});

describe('viewFleet', () => {
  it.each([
    [
      'every agent idle: idle since the latest',
      [rec('a', 1, 'idle', 900_000), rec('b', 1, 'idle', 700_000)],
      2,
      'idle',
      NOW - 700_000,
      true,
    ],
    [
      'one agent busy: busy',
      [rec('a', 1, 'idle', 900_000), rec('b', 1, 'busy', 700_000)],
      2,
      'busy',
      undefined,
      true,
    ],
    [
      'one agent lost, none busy: other',
      [rec('a', 1, 'idle', 900_000), rec('b', 1, 'lost', 700_000)],
      2,
      'other',
      undefined,
      true,
    ],
    [
      'fewer agents known than it runs: not known',
      [rec('a', 1, 'idle', 900_000)],
      2,
      'idle',
      NOW - 900_000,
      false,
    ],
    [
      'one agent per instance: the newest record only',
      [rec('a', 1, 'busy', 900_000), rec('b', 1, 'idle', 100_000)],
      1,
      'idle',
      NOW - 100_000,
      true,
    ],
    [
      'one agent per instance, stopped: kept, as before',
      [rec('a', 1, 'stopped', 100_000)],
      1,
      'other',
      undefined,
      true,
    ],
    [
      'several per instance, all stopped: unknown',
      [rec('a', 1, 'stopped'), rec('b', 1, 'stopped')],
      2,
      'unknown',
      undefined,
      false,
    ],
  ])('%s', (_name, members, perInstance, state, idleSince, known) => {
    const [view] = viewFleet(members, perInstance).instances;
    expect(view).toMatchObject({ instanceId: I(1), state, known });
    expect(view?.idleSince).toBe(idleSince);
  });

  it('agents without an instance id are counted apart', () => {
    const view = viewFleet([rec('bare', 0, 'idle'), rec('a', 1, 'idle')], 1);
    expect(view.unplaced.map((m) => m.agentId)).toEqual(['bare']);
    expect(view.instances.map((i) => i.instanceId)).toEqual([I(1)]);
  });
});

describe('currentAgentsOfInstance (agents restarted under a new id)', () => {
  it('a stopped agent is dropped; the instance is its two running agents', () => {
    const records = [rec('a', 1, 'idle'), rec('b', 1, 'stopped'), rec('b2', 1, 'idle')];
    expect(
      currentAgentsOfInstance(records, 2)
        .map((m) => m.agentId)
        .sort(),
    ).toEqual(['a', 'b2']);
  });

  it('a record is superseded once as many other agents as the instance runs connected after it', () => {
    const records = [rec('a', 1, 'lost'), rec('b', 1, 'idle'), rec('c', 1, 'busy')];
    expect(
      currentAgentsOfInstance(records, 2)
        .map((m) => m.agentId)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  it('a neighbour restarting many times does not push out a busy agent', () => {
    const records = [
      rec('a', 1, 'busy'),
      rec('b', 1, 'stopped'),
      rec('b2', 1, 'lost'),
      rec('b3', 1, 'disconnected'),
      rec('b4', 1, 'idle'),
    ];
    const current = currentAgentsOfInstance(records, 2).map((m) => m.agentId);
    expect(current).toContain('a');
    expect(viewFleet(records, 2).instances[0]?.state).toBe('busy');
  });

  it('property: a busy record stays current while fewer than agentsPerInstance other agents are connected after it', () => {
    const activity = fc.constantFrom<FleetMember['activity']>(
      'idle',
      'busy',
      'stopping',
      'disconnected',
      'lost',
      'stopped',
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(activity, { maxLength: 8 }),
        (perInstance, later) => {
          const busy = rec('busy-one', 1, 'busy', 0, 1);
          const others = later.map((a, k) => rec(`n${k}`, 1, a, 0, 2 + k));
          const connectedAfter = others.filter((o) => o.activity === 'idle' || o.activity === 'busy').length;
          const current = currentAgentsOfInstance([busy, ...others], perInstance);
          const expected = perInstance === 1 ? others.length === 0 : connectedAfter < perInstance;
          expect(current.includes(busy)).toBe(expected);
        },
      ),
    );
  });
});

describe('currentMembers (what the wait figures count)', () => {
  it('one agent per instance: an agent restarted under a new id counts once', () => {
    const members = [rec('old', 1, 'idle'), rec('new', 1, 'idle'), rec('bare', 0, 'idle')];
    expect(
      currentMembers(members, 1)
        .map((m) => m.agentId)
        .sort(),
    ).toEqual(['bare', 'new']);
  });

  it('several per instance: each running agent counts once', () => {
    const members = [rec('a', 1, 'idle'), rec('b', 1, 'busy'), rec('a', 1, 'busy', 0, 1)];
    expect(
      currentMembers(members, 2)
        .map((m) => m.agentId)
        .sort(),
    ).toEqual(['a', 'b']);
  });
});

describe('selectIdleInstances with several agents per instance', () => {
  const select = (members: FleetMember[], count = 5, perInstance = 2, instances = [1, 2, 3].map(inService)) =>
    selectIdleInstances({
      members,
      instances,
      count,
      idleMs: IDLE_MS,
      now: NOW,
      agentsPerInstance: perInstance,
    });

  it('oldest idle instance first, by the latest of its agents; each candidate lists all its agents', () => {
    const selection = select([
      rec('a', 1, 'idle', 2_000_000),
      rec('b', 1, 'idle', 700_000),
      rec('c', 2, 'idle', 900_000),
      rec('d', 2, 'idle', 800_000),
    ]);
    expect(selection.candidates.map((c) => [c.instanceId, c.since, c.agents.map((a) => a.agentId)])).toEqual([
      [I(2), NOW - 800_000, ['c', 'd']],
      [I(1), NOW - 700_000, ['a', 'b']],
    ]);
  });

  it.each([
    [
      'a busy agent makes its instance busy',
      [rec('a', 1, 'idle', 900_000), rec('b', 1, 'busy', 900_000)],
      'a not-idle b',
    ],
    [
      'a lost agent: for healing, not scale-in',
      [rec('a', 1, 'idle', 900_000), rec('b', 1, 'lost', 900_000)],
      'a not-idle b',
    ],
    [
      'one agent idle long, the other just now',
      [rec('a', 1, 'idle', 900_000), rec('b', 1, 'idle', 1_000)],
      'a idle-too-short',
    ],
    ['fewer known agents than it runs', [rec('a', 1, 'idle', 900_000)], 'a agents-unknown'],
  ])('%s: passed over', (_name, members, passed) => {
    const selection = select(members);
    expect(selection.candidates).toEqual([]);
    expect(
      selection.passedOver.map((p) => [p.agentId, p.why, p.busyAgentId].filter(Boolean).join(' ')),
    ).toEqual([passed]);
  });

  it('agents-unknown says how many are known', () => {
    expect(select([rec('a', 1, 'idle', 900_000)], 5, 3).passedOver).toEqual([
      { agentId: 'a', instanceId: I(1), why: 'agents-unknown', knownAgents: 1 },
    ]);
  });
});

describe('instanceHealth', () => {
  it.each([
    ['every agent lost', [rec('a', 1, 'lost', 100), rec('b', 1, 'lost', 50)], 'all-lost', 'b'],
    [
      'lost and disconnected: the disconnected one decides (its grace)',
      [rec('a', 1, 'lost', 10), rec('b', 1, 'disconnected', 500)],
      'all-lost',
      'b',
    ],
    ['one lost, one connected', [rec('a', 1, 'lost'), rec('b', 1, 'idle')], 'partly-lost', undefined],
    ['one lost, one busy', [rec('a', 1, 'lost'), rec('b', 1, 'busy')], 'partly-lost', undefined],
    [
      'one lost, one stopping (on purpose)',
      [rec('a', 1, 'lost'), rec('b', 1, 'stopping')],
      'none',
      undefined,
    ],
    ['nobody lost', [rec('a', 1, 'idle'), rec('b', 1, 'busy')], 'none', undefined],
  ])('%s → %s', (_name, agents, kind, decides) => {
    const health = instanceHealth(agents);
    expect(health.kind).toBe(kind);
    if (health.kind === 'all-lost') expect(health.member.agentId).toBe(decides);
  });
});
