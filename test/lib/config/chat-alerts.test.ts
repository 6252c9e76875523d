/** The chat-alerts config schema (lib/config/chat-alerts.ts): defaults, CLI JSON, and errors naming the key. */
import { chatAlertsConfigSchema } from '../../../lib/config/chat-alerts';

describe('chatAlertsConfigSchema', () => {
  it('fills in defaults: all pipelines and branches, noisy kinds off', () => {
    const parsed = chatAlertsConfigSchema.parse({ destinations: [{ name: 'a', service: 'slack' }] });
    expect(parsed).toEqual({
      destinations: [
        {
          name: 'a',
          service: 'slack',
          pipelines: ['*'],
          branches: ['*'],
          events: expect.not.arrayContaining(['build.blocked', 'build.canceled', 'package.created']),
        },
      ],
      jobsGraceSeconds: 5,
      stateTtlDays: 30,
    });
  });

  it('reads JSON given on the command line', () => {
    expect(chatAlertsConfigSchema.parse('{"destinations":[{"name":"a","service":"teams"}]}')).toMatchObject({
      destinations: [{ name: 'a', service: 'teams' }],
    });
  });

  it.each<[string, unknown, string]>([
    ['no destinations', { destinations: [] }, 'destinations: must list at least one destination'],
    [
      'a bad service',
      { destinations: [{ name: 'a', service: 'discord' }] },
      'destinations.0.service: must be one of slack, teams',
    ],
    [
      'a bad name',
      { destinations: [{ name: 'Ops Channel', service: 'slack' }] },
      'destinations.0.name: must be 1-40 lower-case',
    ],
    [
      'a duplicate name',
      {
        destinations: [
          { name: 'a', service: 'slack' },
          { name: 'a', service: 'teams' },
        ],
      },
      'destinations.1.name: "a" is used twice',
    ],
    [
      'an unknown alert',
      { destinations: [{ name: 'a', service: 'slack', events: ['build.exploded'] }] },
      'destinations.0.events.0: must be one of build.failed',
    ],
    [
      'an empty glob list',
      { destinations: [{ name: 'a', service: 'slack', branches: [] }] },
      'destinations.0.branches: must list at least one glob',
    ],
    [
      'a URL in config',
      { destinations: [{ name: 'a', service: 'slack', url: 'https://hooks.slack.com/x' }] },
      "Unrecognized key(s) in object: 'url'",
    ],
    [
      'a bad grace',
      { destinations: [{ name: 'a', service: 'slack' }], jobsGraceSeconds: 600 },
      'jobsGraceSeconds: must be at most 30',
    ],
    [
      'a bad build state',
      { destinations: [{ name: 'a', service: 'slack', buildStates: ['red'] }] },
      'destinations.0.buildStates.0: must be one of passed',
    ],
  ])('rejects %s with a message naming the key', (_name, raw, message) => {
    const result = chatAlertsConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    const messages = result.success
      ? []
      : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages.join('\n')).toContain(message);
  });
});
