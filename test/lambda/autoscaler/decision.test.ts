import { decide, type DecisionInput, type ScalingPolicy } from '../../../lambda/autoscaler/decision';
import { queueCounts as counts } from '../../support/autoscaler';

const NOW = Date.parse('2026-06-03T04:15:00Z');
const S = 1000;

const policy = (p: Partial<ScalingPolicy> = {}): ScalingPolicy => ({
  agentsPerInstance: 1,
  min: 0,
  max: 10,
  buffer: 0,
  scaleOutCooldownSeconds: 0,
  scaleInCooldownSeconds: 3600,
  scaleInEnabled: false,
  ...p,
});
const group = (desired: number, min = 0, max = 100) => ({ desired, min, max });

type Row = [
  name: string,
  input: Omit<DecisionInput, 'now'>,
  expected: { action: 'scale-out' | 'scale-in' | 'none'; reason: string; desired: number },
];

/** Scale-in on, no jobs, six instances: where the cooldown rows start. */
const idleSix = { policy: policy({ scaleInEnabled: true }), counts: counts(0), group: group(6) };

// The cases buildkite-agent-scaler's scaler tests cover, plus this autoscaler's own rules.
const rows: Row[] = [
  [
    'zero jobs, zero instances: nothing to do',
    { policy: policy(), counts: counts(0), group: group(0) },
    { action: 'none', reason: 'at-target', desired: 0 },
  ],
  [
    'zero jobs with a min: raised to min',
    { policy: policy({ min: 2 }), counts: counts(0), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 2 },
  ],
  [
    'one scheduled job: one instance',
    { policy: policy(), counts: counts(1), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 1 },
  ],
  [
    'burst: 25 jobs, 4 agents per instance: ceil(25/4) = 7',
    { policy: policy({ agentsPerInstance: 4 }), counts: counts(25), group: group(1) },
    { action: 'scale-out', reason: 'scale-out', desired: 7 },
  ],
  [
    'scheduled and running both count',
    { policy: policy({ agentsPerInstance: 2 }), counts: counts(3, 2), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 3 },
  ],
  [
    'buffer is added',
    { policy: policy({ buffer: 2 }), counts: counts(3), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 5 },
  ],
  [
    'buffer alone with zero jobs',
    { policy: policy({ buffer: 1 }), counts: counts(0), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 1 },
  ],
  [
    'capped at the configured max',
    { policy: policy({ max: 10 }), counts: counts(500), group: group(2) },
    { action: 'scale-out', reason: 'scale-out', desired: 10 },
  ],
  [
    'capped at the group max when lower',
    { policy: policy({ max: 10 }), counts: counts(500), group: group(2, 0, 6) },
    { action: 'scale-out', reason: 'scale-out', desired: 6 },
  ],
  [
    'floor at the group min when higher',
    { policy: policy({ min: 1 }), counts: counts(0), group: group(0, 3, 10) },
    { action: 'scale-out', reason: 'scale-out', desired: 3 },
  ],
  [
    'already at max: nothing to do',
    { policy: policy({ max: 10 }), counts: counts(50), group: group(10) },
    { action: 'none', reason: 'at-target', desired: 10 },
  ],
  [
    'waiting jobs (behind block/wait steps) are not counted',
    { policy: policy(), counts: counts(0, 0, 40), group: group(0) },
    { action: 'none', reason: 'at-target', desired: 0 },
  ],
  [
    'waiting jobs are not counted alongside scheduled ones',
    { policy: policy(), counts: counts(2, 1, 40), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 3 },
  ],
  [
    'metrics API failure: no action, whatever the group',
    { policy: policy({ min: 2 }), counts: undefined, group: group(0) },
    { action: 'none', reason: 'metrics-unavailable', desired: 0 },
  ],
  [
    'metrics API failure with scale-in on: no action',
    { policy: policy({ scaleInEnabled: true }), counts: undefined, group: group(8) },
    { action: 'none', reason: 'metrics-unavailable', desired: 8 },
  ],
  [
    'scale-out cooldown holds a further scale-out',
    {
      policy: policy({ scaleOutCooldownSeconds: 300 }),
      counts: counts(8),
      group: group(4),
      lastScaleOutAt: NOW - 100 * S,
    },
    { action: 'none', reason: 'scale-out-cooldown', desired: 4 },
  ],
  [
    'scale-out cooldown over: scales out',
    {
      policy: policy({ scaleOutCooldownSeconds: 300 }),
      counts: counts(8),
      group: group(4),
      lastScaleOutAt: NOW - 300 * S,
    },
    { action: 'scale-out', reason: 'scale-out', desired: 8 },
  ],
  [
    'scale-out cooldown never holds the min floor',
    {
      policy: policy({ min: 3, scaleOutCooldownSeconds: 300 }),
      counts: counts(0),
      group: group(1),
      lastScaleOutAt: NOW - 1 * S,
    },
    { action: 'scale-out', reason: 'scale-out', desired: 3 },
  ],
  [
    'scale-in off (the default): never below current',
    { policy: policy(), counts: counts(0), group: group(6) },
    { action: 'none', reason: 'scale-in-disabled', desired: 6 },
  ],
  [
    'scale-in off: never below current even above max',
    { policy: policy({ max: 4 }), counts: counts(0), group: group(6) },
    { action: 'none', reason: 'scale-in-disabled', desired: 6 },
  ],
  [
    'scale-in on: down to what the jobs need',
    { policy: policy({ scaleInEnabled: true }), counts: counts(2), group: group(6) },
    { action: 'scale-in', reason: 'scale-in', desired: 2 },
  ],
  [
    'scale-in on: never below min',
    { policy: policy({ scaleInEnabled: true, min: 1 }), counts: counts(0), group: group(6) },
    { action: 'scale-in', reason: 'scale-in', desired: 1 },
  ],
  [
    'scale-in on: running jobs keep their instances',
    { policy: policy({ scaleInEnabled: true, agentsPerInstance: 2 }), counts: counts(0, 5), group: group(6) },
    { action: 'scale-in', reason: 'scale-in', desired: 3 },
  ],
  [
    'scale-in cooldown since the last scale-in',
    { ...idleSix, lastScaleInAt: NOW - 1800 * S },
    { action: 'none', reason: 'scale-in-cooldown', desired: 6 },
  ],
  [
    'scale-in cooldown since the last scale-out',
    { ...idleSix, lastScaleOutAt: NOW - 60 * S },
    { action: 'none', reason: 'scale-in-cooldown', desired: 6 },
  ],
  [
    'scale-in cooldown over: scales in',
    { ...idleSix, lastScaleInAt: NOW - 3600 * S },
    { action: 'scale-in', reason: 'scale-in', desired: 0 },
  ],
  [
    'scale-in cooldown does not hold a scale-out',
    { ...idleSix, counts: counts(9), lastScaleInAt: NOW - 1 * S },
    { action: 'scale-out', reason: 'scale-out', desired: 9 },
  ],
  // Parity with buildkite-agent-scaler's settings.
  [
    'scale-out disabled: held',
    { policy: policy({ scaleOutEnabled: false }), counts: counts(5), group: group(1) },
    { action: 'none', reason: 'scale-out-disabled', desired: 1 },
  ],
  [
    'scale-out disabled still raises to min',
    { policy: policy({ scaleOutEnabled: false, min: 2 }), counts: counts(5), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 2 },
  ],
  [
    'scale-out factor 0.5: half the gap, rounded up',
    { policy: policy({ scaleOutFactor: 0.5 }), counts: counts(9), group: group(2) },
    { action: 'scale-out', reason: 'scale-out', desired: 6 },
  ],
  [
    'scale-out factor: at least one instance a step',
    { policy: policy({ scaleOutFactor: 0.01 }), counts: counts(3), group: group(2) },
    { action: 'scale-out', reason: 'scale-out', desired: 3 },
  ],
  [
    'scale-in factor 0.5: half the gap, rounded up',
    { policy: policy({ scaleInEnabled: true, scaleInFactor: 0.5 }), counts: counts(0), group: group(5) },
    { action: 'scale-in', reason: 'scale-in', desired: 2 },
  ],
  [
    'waiting jobs count as demand when asked (opt-in)',
    { policy: policy({ scaleOutForWaitingJobs: true }), counts: counts(1, 0, 4), group: group(0) },
    { action: 'scale-out', reason: 'scale-out', desired: 5 },
  ],
  [
    'availability boost: fewer than half the expected agents connected, one more instance',
    {
      policy: policy({ availabilityBoost: true, agentsPerInstance: 2 }),
      counts: { ...counts(4), totalAgents: 1 },
      group: group(2),
    },
    { action: 'scale-out', reason: 'scale-out', desired: 3 },
  ],
  [
    'availability boost: half connected is enough',
    {
      policy: policy({ availabilityBoost: true, agentsPerInstance: 2 }),
      counts: { ...counts(4), totalAgents: 2 },
      group: group(2),
    },
    { action: 'none', reason: 'at-target', desired: 2 },
  ],
  [
    'scheduled jobs no agent of the queue can match are not demand',
    { policy: policy(), counts: counts(5), group: group(0), unmatched: 3 },
    { action: 'scale-out', reason: 'scale-out', desired: 2 },
  ],
  [
    'unmatched never exceeds scheduled (running jobs still count)',
    { policy: policy(), counts: counts(1, 2), group: group(0), unmatched: 9 },
    { action: 'scale-out', reason: 'scale-out', desired: 2 },
  ],
];

describe('decide', () => {
  it.each(rows)('%s', (_name, input, expected) => {
    const decision = decide({ ...input, now: NOW });
    expect({ action: decision.action, reason: decision.reason, desired: decision.desired }).toEqual(expected);
    expect(decision.current).toBe(input.group.desired);
    if (decision.action === 'none') expect(decision.desired).toBe(decision.current);
  });

  it('reports the formula before and after clamping', () => {
    const decision = decide({
      policy: policy({ agentsPerInstance: 4, buffer: 1, max: 5 }),
      counts: counts(30, 2),
      group: group(0),
      now: NOW,
    });
    expect(decision).toMatchObject({ wanted: 9, target: 5, desired: 5 });
  });

  it('says when a held cooldown ends', () => {
    const decision = decide({
      policy: policy({ scaleOutCooldownSeconds: 300 }),
      counts: counts(8),
      group: group(4),
      lastScaleOutAt: NOW - 100 * S,
      now: NOW,
    });
    expect(decision.cooldownEndsAt).toBe(NOW + 200 * S);
  });

  it('never lowers capacity with scale-in off, for any counts (exhaustive small grid)', () => {
    for (let current = 0; current <= 12; current++) {
      for (let jobs = 0; jobs <= 30; jobs += 3) {
        for (const agentsPerInstance of [1, 3]) {
          const d = decide({
            policy: policy({ agentsPerInstance, max: 10 }),
            counts: counts(jobs),
            group: group(current),
            now: NOW,
          });
          expect(d.desired).toBeGreaterThanOrEqual(current);
        }
      }
    }
  });
});
