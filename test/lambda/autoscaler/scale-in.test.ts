import type { FleetMember } from '../../../lambda/autoscaler/fleet';
import { mayTerminate, selectIdleInstances, type GroupInstance } from '../../../lambda/autoscaler/scale-in';
import { fleetRecords } from '../../support/autoscaler';

const NOW = 10_000_000;
const IDLE_MS = 600_000;
const member = (
  n: number,
  activity: FleetMember['activity'],
  idleForMs: number,
  instance = true,
): FleetMember => ({
  queue: 'linux',
  agentId: `agent-${n}`,
  ...(instance ? { instanceId: `i-0000000${n}` } : {}),
  activity,
  tags: [],
  since: NOW - idleForMs,
  version: 1,
});
const inService = (n: number, extra: Partial<GroupInstance> = {}): GroupInstance => ({
  instanceId: `i-0000000${n}`,
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
  protectedFromScaleIn: false,
  ...extra,
});

describe('selectIdleInstances', () => {
  it.each([
    [
      'oldest idle first',
      [member(1, 'idle', 700_000), member(2, 'idle', 900_000), member(3, 'idle', 800_000)],
      [inService(1), inService(2), inService(3)],
      2,
      ['agent-2', 'agent-3'],
      [],
    ],
    [
      'a busy agent is never a candidate',
      [member(1, 'busy', 9_000_000), member(2, 'idle', 700_000)],
      [inService(1), inService(2)],
      2,
      ['agent-2'],
      ['agent-1 not-idle'],
    ],
    [
      'idle for less than the idle time: kept',
      [member(1, 'idle', 599_999)],
      [inService(1)],
      1,
      [],
      ['agent-1 idle-too-short'],
    ],
    ['exactly the idle time: a candidate', [member(1, 'idle', IDLE_MS)], [inService(1)], 1, ['agent-1'], []],
    [
      'an agent without an instance id is counted, never acted on',
      [member(1, 'idle', 900_000, false)],
      [inService(1)],
      1,
      [],
      ['agent-1 no-instance-id'],
    ],
    ['an instance no longer in the group', [member(1, 'idle', 900_000)], [], 1, [], ['agent-1 not-in-group']],
    [
      'an instance still Pending or Terminating',
      [member(1, 'idle', 900_000)],
      [inService(1, { lifecycleState: 'Terminating' })],
      1,
      [],
      ['agent-1 not-in-service'],
    ],
    [
      'an Unhealthy instance (being replaced)',
      [member(1, 'idle', 900_000)],
      [inService(1, { healthStatus: 'Unhealthy' })],
      1,
      [],
      ['agent-1 not-in-service'],
    ],
    [
      'protected by someone else',
      [member(1, 'idle', 900_000)],
      [inService(1, { protectedFromScaleIn: true })],
      1,
      [],
      ['agent-1 protected'],
    ],
    [
      'a lost or disconnected agent is for healing, not scale-in',
      [member(1, 'lost', 900_000), member(2, 'disconnected', 900_000)],
      [inService(1), inService(2)],
      2,
      [],
      ['agent-1 not-idle', 'agent-2 not-idle'],
    ],
    [
      'never more than asked',
      [member(1, 'idle', 900_000), member(2, 'idle', 900_000)],
      [inService(1), inService(2)],
      1,
      ['agent-1'],
      [],
    ],
    ['nothing asked: nothing chosen', [member(1, 'idle', 900_000)], [inService(1)], 0, [], []],
  ])('%s', (_name, members, instances, count, chosen, passed) => {
    const selection = selectIdleInstances({ members, instances, count, idleMs: IDLE_MS, now: NOW });
    expect(selection.candidates.map((m) => m.agentId)).toEqual(chosen);
    expect(selection.passedOver.map((p) => `${p.agentId} ${p.why}`)).toEqual(passed);
  });

  it('instances kitebridge knows nothing about are never chosen, however many are asked for', () => {
    const selection = selectIdleInstances({
      members: [],
      instances: [inService(1), inService(2)],
      count: 2,
      idleMs: 0,
      now: NOW,
    });
    expect(selection.candidates).toEqual([]);
  });
});

const rec = fleetRecords(NOW);

describe('selectIdleInstances with several agents per instance', () => {
  const select = (
    members: FleetMember[],
    count = 5,
    perInstance = 2,
    instances = [1, 2, 3].map((n) => inService(n)),
  ) =>
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
      ['i-00000002', NOW - 800_000, ['c', 'd']],
      ['i-00000001', NOW - 700_000, ['a', 'b']],
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
      { agentId: 'a', instanceId: 'i-00000001', why: 'agents-unknown', knownAgents: 1 },
    ]);
  });
});

describe('mayTerminate (the REST re-check)', () => {
  it.each([
    [{ kind: 'idle' as const }, true],
    [{ kind: 'busy' as const, jobId: 'job-9' }, false],
    [{ kind: 'doubt' as const, reason: 'agent lookup failed (timeout)' }, false],
  ])('%j → %s', (check, expected) => expect(mayTerminate(check)).toBe(expected));
});
