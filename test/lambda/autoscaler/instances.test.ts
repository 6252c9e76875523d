import fc from 'fast-check';
import type { FleetMember } from '../../../lambda/autoscaler/fleet';
import {
  currentAgentsOfInstance,
  currentMembers,
  latestPerAgent,
  viewFleet,
} from '../../../lambda/autoscaler/instances';
import { fleetRecords } from '../../support/autoscaler';

const NOW = 10_000_000;
const I = (n: number) => `i-0000000${n}`;
const rec = fleetRecords(NOW);

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
