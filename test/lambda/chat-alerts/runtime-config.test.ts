import { parseRuntimeConfig, type RuntimeConfig } from '../../../lambda/chat-alerts/runtime-config';
import { DEFAULT_ALERT_KINDS, type Destination } from '../../../lambda/chat-alerts/model';
import { chatAlertsConfigSchema, toDestination } from '../../../lib/config/chat-alerts';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:kitebridge/chat-alerts/ci-slack-AbCdEf';

const slack = {
  name: 'ci-slack',
  service: 'slack',
  pipelines: ['web-*', '!web-legacy'],
  branches: ['main'],
  events: ['build.failed', 'build.fixed'],
  secretArn: SECRET,
};

const written = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ destinations: [slack], jobsGraceSeconds: 10, stateTtlDays: 60, ...overrides });

const REDEPLOY = '; the stack writes it, so redeploy the function.';

describe('parseRuntimeConfig', () => {
  it('reads what the construct writes: the synth-time config plus each secret ARN', () => {
    const config = chatAlertsConfigSchema.parse({
      destinations: [
        { name: 'ci-slack', service: 'slack', branches: ['main'] },
        { name: 'releases', service: 'teams', pipelines: ['deploy-*'], buildStates: ['failed', 'blocked'] },
      ],
      jobsGraceSeconds: 12,
    });
    const runtime: RuntimeConfig = {
      destinations: config.destinations.map((d) => ({
        ...toDestination(d),
        secretArn: `${SECRET}-${d.name}`,
      })),
      jobsGraceSeconds: config.jobsGraceSeconds,
      stateTtlDays: config.stateTtlDays,
    };

    const parsed = parseRuntimeConfig(JSON.stringify(runtime));

    expect(parsed).toEqual(runtime);
    expect(parsed.destinations[0]).not.toHaveProperty('buildStates');
    expect(parsed.destinations[1]?.buildStates).toEqual(['failed', 'blocked']);
    expect(parsed.stateTtlDays).toBe(30);
  });

  it('keeps a destination exactly as written', () => {
    const parsed = parseRuntimeConfig(written());
    const expected: Destination = {
      name: 'ci-slack',
      service: 'slack',
      pipelines: ['web-*', '!web-legacy'],
      branches: ['main'],
      events: ['build.failed', 'build.fixed'],
      secretArn: SECRET,
    };
    expect(parsed).toEqual({ destinations: [expected], jobsGraceSeconds: 10, stateTtlDays: 60 });
  });

  it('defaults the grace to 5 s and the state TTL to 30 days', () => {
    const parsed = parseRuntimeConfig(JSON.stringify({ destinations: [slack] }));
    expect(parsed.jobsGraceSeconds).toBe(5);
    expect(parsed.stateTtlDays).toBe(30);
  });

  it('accepts a destination without a secret (local mode posts to a URL it is given)', () => {
    const local = { name: 'ci-slack', service: 'slack', pipelines: [], branches: [] };
    const parsed = parseRuntimeConfig(
      JSON.stringify({ destinations: [{ ...local, events: DEFAULT_ALERT_KINDS }] }),
    );
    expect(parsed.destinations[0]).not.toHaveProperty('secretArn');
    expect(parsed.destinations[0]?.events).toEqual(DEFAULT_ALERT_KINDS);
  });

  it.each([
    ['text that is not JSON', '{destinations:', 'is not JSON'],
    ['JSON that is not an object', 'null', 'must be a JSON object'],
    ['a list', '[]', 'must be a JSON object'],
    ['no destinations', written({ destinations: undefined }), 'destinations must be a non-empty list'],
    ['an empty destination list', written({ destinations: [] }), 'destinations must be a non-empty list'],
    [
      'a destination that is a string',
      written({ destinations: ['ci-slack'] }),
      'destinations[0] must be an object',
    ],
    [
      'a destination without a name',
      written({ destinations: [{ ...slack, name: '' }] }),
      'destinations[0].name must be a string',
    ],
    [
      'an unknown service',
      written({ destinations: [slack, { ...slack, name: 'ops', service: 'discord' }] }),
      'destinations[1].service must be slack or teams',
    ],
    [
      'unknown alert kinds',
      written({ destinations: [{ ...slack, events: ['build.failed', 'build.exploded', 'agent.gone'] }] }),
      'destinations[0].events has unknown kinds build.exploded, agent.gone',
    ],
    [
      'events that are not a list',
      written({ destinations: [{ ...slack, events: 'build.failed' }] }),
      'destinations[0].events must be a list of strings',
    ],
    [
      'pipelines with a number',
      written({ destinations: [{ ...slack, pipelines: ['web', 7] }] }),
      'destinations[0].pipelines must be a list of strings',
    ],
    [
      'no branches',
      written({ destinations: [{ ...slack, branches: undefined }] }),
      'destinations[0].branches must be a list of strings',
    ],
    [
      'build states that are not a list',
      written({ destinations: [{ ...slack, buildStates: 'failed' }] }),
      'destinations[0].buildStates must be a list of strings',
    ],
    [
      'a grace that is not a number',
      written({ jobsGraceSeconds: 'soon' }),
      'jobsGraceSeconds must be a number of seconds, 0 or more (got "soon")',
    ],
    [
      'a negative grace',
      written({ jobsGraceSeconds: -1 }),
      'jobsGraceSeconds must be a number of seconds, 0 or more (got -1)',
    ],
    [
      'a fractional TTL',
      written({ stateTtlDays: 1.5 }),
      'stateTtlDays must be a whole number of days, 1 or more (got 1.5)',
    ],
    [
      'a zero TTL',
      written({ stateTtlDays: 0 }),
      'stateTtlDays must be a whole number of days, 1 or more (got 0)',
    ],
  ])('refuses %s, naming the field and the fix', (_case, json, problem) => {
    expect(() => parseRuntimeConfig(json)).toThrow(`CHAT_ALERTS_CONFIG: ${problem}${REDEPLOY}`);
  });

  it('never echoes a secret ARN in its errors', () => {
    let message = '';
    try {
      parseRuntimeConfig(written({ destinations: [{ ...slack, service: 'discord' }] }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('destinations[0].service');
    expect(message).not.toContain(SECRET);
  });
});
