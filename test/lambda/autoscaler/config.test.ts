import { parseAutoscalerConfig, scaledQueues } from '../../../lib/config/autoscaler';

describe('autoscaler config', () => {
  it('fills defaults: scale-in off, 10 s interval, Buildkite metrics URL', () => {
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
  ])('%j is refused naming the key', (raw, message) => {
    expect(() => parseAutoscalerConfig(raw)).toThrow(message);
  });
});
