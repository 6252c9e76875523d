import type { FleetMember, JobObservation, TrackedJob } from '../../../lambda/autoscaler/fleet';
import { percentile, summariseWaits, waitSeconds } from '../../../lambda/autoscaler/waits';

const NOW = 10_000_000;
const job = (
  id: string,
  waitedMs: number,
  rules: string[] = [],
  extra: Partial<TrackedJob> = {},
): TrackedJob => ({
  queue: 'linux',
  jobId: id,
  state: 'waiting',
  readyAt: NOW - waitedMs,
  rules,
  version: 1,
  ...extra,
});
const agent = (
  activity: FleetMember['activity'],
  tags: string[] = ['queue=linux', 'os=linux'],
): FleetMember => ({
  queue: 'linux',
  agentId: `a-${activity}`,
  activity,
  tags,
  since: 0,
  version: 1,
});
const STUCK_MS = 1_800_000;

describe('waitSeconds', () => {
  const started = (extra: Partial<JobObservation>): JobObservation => ({
    kind: 'job',
    queue: 'linux',
    jobId: 'j',
    state: 'started',
    rules: [],
    at: NOW,
    detailType: 'job.started',
    version: 1,
    ...extra,
  });
  it.each([
    [
      'from the payload: runnable_at to started_at',
      started({ readyAt: NOW - 42_000, startedAt: NOW }),
      undefined,
      42,
    ],
    [
      'from the stored job.scheduled when the payload has no ready time',
      started({ startedAt: NOW }),
      job('j', 30_000),
      30,
    ],
    ['unknown start of the wait', started({ startedAt: NOW }), undefined, undefined],
    ['clock skew never makes it negative', started({ readyAt: NOW + 1000, startedAt: NOW }), undefined, 0],
  ])('%s', (_name, s, stored, expected) => expect(waitSeconds(s, stored)).toBe(expected));
});

describe('summariseWaits', () => {
  it('the oldest waiting job sets the age; started ones do not count', () => {
    const summary = summariseWaits(
      [job('a', 60_000), job('b', 300_000), job('c', 900_000, [], { state: 'started' })],
      [agent('idle')],
      NOW,
      STUCK_MS,
    );
    expect(summary.waitingJobs).toBe(2);
    expect(summary.oldestWaitingAgeSeconds).toBe(300);
  });

  it('no waiting job: age 0', () => {
    expect(summariseWaits([], [], NOW, STUCK_MS).oldestWaitingAgeSeconds).toBe(0);
  });

  it.each([
    ['matches a known agent: demand', [agent('idle')], ['os=linux'], 0],
    ['no known agent matches: unmatched', [agent('idle')], ['os=windows'], 1],
    ['a matching agent that was lost still shows the group can take it', [agent('lost')], ['os=linux'], 0],
    ['no agent ever seen (scaled to zero): demand, not a misfit', [], ['os=windows'], 0],
  ])('%s', (_name, members, rules, unmatched) => {
    expect(summariseWaits([job('a', 1000, rules)], members, NOW, STUCK_MS).unmatched).toHaveLength(unmatched);
  });

  it.each([
    [
      'waiting past the stuck time, no connected agent at all',
      [agent('lost')],
      [],
      STUCK_MS,
      'no-connected-agent',
    ],
    [
      'waiting past the stuck time, connected agents but none matches',
      [agent('idle')],
      ['os=windows'],
      STUCK_MS,
      'no-matching-agent',
    ],
    [
      'waiting past the stuck time with a connected matching agent: just busy, not stuck',
      [agent('busy')],
      [],
      STUCK_MS,
      undefined,
    ],
    ['not yet past the stuck time', [agent('lost')], [], STUCK_MS - 1, undefined],
  ])('%s', (_name, members, rules, waited, reason) => {
    const { stuck } = summariseWaits([job('a', waited, rules)], members, NOW, STUCK_MS);
    expect(stuck.map((s) => s.reason)).toEqual(reason ? [reason] : []);
  });

  it('a stuck job is reported once', () => {
    const { stuck } = summariseWaits(
      [job('a', STUCK_MS * 2, [], { stuckReportedAt: NOW - 1 })],
      [],
      NOW,
      STUCK_MS,
    );
    expect(stuck).toEqual([]);
  });
});

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 50, undefined],
    [[5], 95, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
    [[10, 1, 5], 100, 10],
  ])('%j p%i → %s', (values, p, expected) => expect(percentile(values, p)).toBe(expected));
});
