import { parseAutoscalerConfig, scaledQueues } from '../../../lib/config/autoscaler';

describe('autoscaler config', () => {
  it('fills defaults: scale-in off, protection and healing on, 10 s interval, Buildkite metrics URL', () => {
    const config = parseAutoscalerConfig({
      org: 'acme',
      queues: [{ queue: 'linux', asgName: 'ci', max: 4 }],
    });
    expect(config).toEqual({
      org: 'acme',
      evaluateIntervalSeconds: 10,
      dryRun: false,
      metricsApiUrl: 'https://agent.buildkite.com/v3',
      queues: [
        {
          queue: 'linux',
          asgName: 'ci',
          agentsPerInstance: 1,
          min: 0,
          max: 4,
          buffer: 0,
          scaleOutCooldownSeconds: 0,
          scaleInCooldownSeconds: 3600,
          scaleInEnabled: false,
          scaleInIdleSeconds: 600,
          protectBusyInstances: true,
          healingEnabled: true,
          healingGraceSeconds: 300,
          healingMaxPercent: 10,
          healingWindowSeconds: 600,
          stuckJobSeconds: 1800,
          scaleOutEnabled: true,
          scaleOutForWaitingJobs: false,
          scaleOutFactor: 1,
          scaleInFactor: 1,
          availabilityBoost: false,
        },
      ],
    });
    expect(scaledQueues(config).map((q) => q.asgName)).toEqual(['ci']);
  });

  it('reads JSON text (as passed with -c autoscaler=…)', () => {
    expect(parseAutoscalerConfig('{"org":"acme","queues":[{"queue":"q","max":"3"}]}').queues[0]?.max).toBe(3);
  });

  it('treats queues without a group, or dryRun, as dry run', () => {
    expect(scaledQueues(parseAutoscalerConfig({ org: 'acme', queues: [{ queue: 'q', max: 1 }] }))).toEqual(
      [],
    );
    expect(
      scaledQueues(
        parseAutoscalerConfig({ org: 'acme', dryRun: true, queues: [{ queue: 'q', asgName: 'g', max: 1 }] }),
      ),
    ).toEqual([]);
  });

  it.each([
    [{ queues: [{ queue: 'q', max: 1 }] }, 'autoscaler.org is required'],
    [{ org: 'acme', queues: [] }, 'autoscaler.queues must list at least one queue'],
    [
      { org: 'acme', queues: [{ queue: 'q', min: 5, max: 2 }] },
      'autoscaler.queues[0].max must be at least min (5)',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, agentsPerInstance: 0 }] },
      'autoscaler.queues[0].agentsPerInstance must be at least 1',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, asgName: 'a:b' }] },
      'autoscaler.queues[0].asgName must be an Auto Scaling group name',
    ],
    [
      {
        org: 'acme',
        queues: [
          { queue: 'q', max: 2 },
          { queue: 'q', max: 2 },
        ],
      },
      'autoscaler.queues[1].queue "q" is already listed at queues[0]',
    ],
    [
      {
        org: 'acme',
        queues: [
          { queue: 'a', asgName: 'g', max: 2 },
          { queue: 'b', asgName: 'g', max: 2 },
        ],
      },
      'autoscaler.queues[1].asgName "g" is already mapped',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, scaleInEnabled: 'yes' }] },
      'autoscaler.queues[0].scaleInEnabled must be true or false',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2 }], evaluateIntervalSeconds: 120 },
      'autoscaler.evaluateIntervalSeconds must be at most 60',
    ],
    [{ org: 'acme', queues: [{ queue: 'q', maximum: 2 }] }, 'autoscaler.queues[0]'],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, healingMaxPercent: 0 }] },
      'autoscaler.queues[0].healingMaxPercent must be at least 1',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, healingWindowSeconds: 10 }] },
      'autoscaler.queues[0].healingWindowSeconds must be at least 60',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, scaleInFactor: 2 }] },
      'autoscaler.queues[0].scaleInFactor must be at most 1 (1 takes the whole gap in one step)',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, scaleOutFactor: 0 }] },
      'autoscaler.queues[0].scaleOutFactor must be at least 0.01',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, stuckJobSeconds: 5 }] },
      'autoscaler.queues[0].stuckJobSeconds must be at least 60',
    ],
    [
      { org: 'acme', queues: [{ queue: 'q', max: 2, protectBusyInstances: 'on' }] },
      'autoscaler.queues[0].protectBusyInstances must be true or false',
    ],
  ])('%j is refused naming the key', (raw, message) => {
    expect(() => parseAutoscalerConfig(raw)).toThrow(message);
  });
});
