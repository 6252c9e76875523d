import type { FleetMember } from '../../../lambda/autoscaler/fleet';
import { healCap, healVerdict, instanceHealth, type HealingPolicy } from '../../../lambda/autoscaler/healing';
import type { GroupInstance } from '../../../lambda/autoscaler/scale-in';
import { fleetRecords } from '../../support/autoscaler';

const NOW = 10_000_000;
const policy: HealingPolicy = {
  healingEnabled: true,
  healingGraceSeconds: 300,
  healingMaxFraction: 0.1,
  healingWindowSeconds: 600,
};
const member = (activity: FleetMember['activity'], agoMs: number, instance = true): FleetMember => ({
  queue: 'linux',
  agentId: 'agent-1',
  ...(instance ? { instanceId: 'i-00000001' } : {}),
  activity,
  tags: [],
  since: NOW - agoMs,
  version: 1,
});
const instance = (extra: Partial<GroupInstance> = {}): GroupInstance => ({
  instanceId: 'i-00000001',
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
  protectedFromScaleIn: false,
  ...extra,
});

describe('healVerdict', () => {
  it.each([
    ['agent.lost, instance in service: heal at once', member('lost', 0), instance(), 0, 20, true, undefined],
    [
      'agent.disconnected past the grace, no reconnect: heal',
      member('disconnected', 300_000),
      instance(),
      0,
      20,
      true,
      undefined,
    ],
    [
      'agent.disconnected within the grace: wait',
      member('disconnected', 299_999),
      instance(),
      0,
      20,
      false,
      'within-grace',
    ],
    // A reconnect replaces the instance's record with a later agent.connected: the member is idle.
    [
      'disconnected then reconnected within the grace: nothing to heal',
      member('idle', 100_000),
      instance(),
      0,
      20,
      false,
      'connected',
    ],
    ['a busy agent', member('busy', 0), instance(), 0, 20, false, 'connected'],
    [
      'stopped on purpose (its instance is going away)',
      member('stopped', 900_000),
      instance(),
      0,
      20,
      false,
      'stopped',
    ],
    ['stopping', member('stopping', 900_000), instance(), 0, 20, false, 'stopped'],
    [
      'no instance id: counted, never acted on',
      member('lost', 0, false),
      instance(),
      0,
      20,
      false,
      'no-instance-id',
    ],
    ['instance already gone from the group', member('lost', 0), undefined, 0, 20, false, 'not-in-group'],
    [
      'instance terminating',
      member('lost', 0),
      instance({ lifecycleState: 'Terminating' }),
      0,
      20,
      false,
      'not-in-service',
    ],
    [
      'instance already Unhealthy (a replay of agent.lost)',
      member('lost', 0),
      instance({ healthStatus: 'Unhealthy' }),
      0,
      20,
      false,
      'already-unhealthy',
    ],
    [
      'rate cap reached: 2 of a group of 20 healed in the window',
      member('lost', 0),
      instance(),
      2,
      20,
      false,
      'rate-capped',
    ],
    ['rate cap not reached: 1 of 20', member('lost', 0), instance(), 1, 20, true, undefined],
    ['a small group still heals one', member('lost', 0), instance(), 0, 3, true, undefined],
    ['a small group heals only one per window', member('lost', 0), instance(), 1, 3, false, 'rate-capped'],
  ])('%s', (_name, m, i, healed, size, heal, why) => {
    const verdict = healVerdict({
      policy,
      member: m,
      instance: i,
      healedInWindow: healed,
      groupSize: size,
      now: NOW,
    });
    expect(verdict.heal).toBe(heal);
    if (!verdict.heal) expect(verdict.why).toBe(why);
  });

  it('healing off: never', () => {
    expect(
      healVerdict({
        policy: { ...policy, healingEnabled: false },
        member: member('lost', 0),
        instance: instance(),
        healedInWindow: 0,
        groupSize: 10,
        now: NOW,
      }),
    ).toEqual({ heal: false, why: 'disabled' });
  });

  it('says when the grace of a disconnected agent ends', () => {
    expect(
      healVerdict({
        policy,
        member: member('disconnected', 60_000),
        instance: instance(),
        healedInWindow: 0,
        groupSize: 10,
        now: NOW,
      }),
    ).toEqual({ heal: false, why: 'within-grace', graceEndsAt: NOW + 240_000 });
  });
});

describe('healCap', () => {
  it.each([
    [0, 0.1, 1],
    [9, 0.1, 1],
    [10, 0.1, 1],
    [25, 0.1, 2],
    [100, 0.1, 10],
    [100, 0.5, 50],
  ])('a group of %i at %f: %i a window', (size, fraction, cap) => expect(healCap(size, fraction)).toBe(cap));
});

const rec = fleetRecords(NOW);

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
