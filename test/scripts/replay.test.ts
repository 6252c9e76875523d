import {
  DescribeArchiveCommand,
  DescribeEventBusCommand,
  EventBridgeClient,
  ListRulesCommand,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { matchRules, parseTime, replayName, ReplayUsageError, startReplay } from '../../scripts/replay';

const eb = mockClient(EventBridgeClient);
const NOW = new Date('2026-12-06T12:00:00.000Z');
const OUTPUTS = { ArchiveName: 'kitebridge-archive', EventBusName: 'kitebridge-bus' };
const ARCHIVE_ARN = 'arn:aws:events:eu-west-1:111111111111:archive/kitebridge-archive';
const BUS_ARN = 'arn:aws:events:eu-west-1:111111111111:event-bus/kitebridge-bus';
const rule = (name: string) => ({
  Name: name,
  Arn: `arn:aws:events:eu-west-1:111111111111:rule/kitebridge-bus/${name}`,
});

const deps = () => ({
  events: new EventBridgeClient({}),
  outputs: OUTPUTS,
  stackName: 'Kitebridge',
  now: NOW,
});

beforeEach(() => {
  eb.reset();
  eb.on(DescribeArchiveCommand, { ArchiveName: 'kitebridge-archive' }).resolves({
    ArchiveArn: ARCHIVE_ARN,
    RetentionDays: 30,
  });
  eb.on(DescribeEventBusCommand, { Name: 'kitebridge-bus' }).resolves({ Arn: BUS_ARN });
  eb.on(StartReplayCommand).resolves({ State: 'STARTING' });
});

describe('parseTime', () => {
  it.each([
    ['90m', '2026-12-06T10:30:00.000Z'],
    ['6h', '2026-12-06T06:00:00.000Z'],
    ['7d', '2026-11-29T12:00:00.000Z'],
    ['30s', '2026-12-06T11:59:30.000Z'],
    ['2026-11-16T08:00:00Z', '2026-11-16T08:00:00.000Z'],
    ['2026-11-16T08:00:00+01:00', '2026-11-16T07:00:00.000Z'],
    ['2026-11-16', '2026-11-16T00:00:00.000Z'],
  ])('reads %s', (value, expected) => {
    expect(parseTime('--since', value, NOW).toISOString()).toBe(expected);
  });

  it.each(['yesterday', '5 minutes', '2026-13-40T00:00:00Z', '1w', ''])(
    'refuses %j, naming both accepted forms',
    (value) => {
      expect(() => parseTime('--since', value, NOW)).toThrow(ReplayUsageError);
      expect(() => parseTime('--since', value, NOW)).toThrow(
        /--since .* neither an ISO-8601 time .* nor a duration back from now \(90m, 6h, 7d\)/,
      );
    },
  );
});

describe('parseTime without a time zone', () => {
  it.each(['2026-11-16T08:00:00', '2026-11-16T08:00', '2026-11-16 08:00:00.5'])(
    'refuses %j rather than read it in the local time zone, naming the fix',
    (value) => {
      expect(() => parseTime('--until', value, NOW)).toThrow(ReplayUsageError);
      expect(() => parseTime('--until', value, NOW)).toThrow(
        /--until .* has no time zone: add Z for UTC \(2026-11-16T08:00[^ ]*Z\) or an offset such as \+01:00/,
      );
    },
  );
});

describe('replayName', () => {
  it('is a valid EventBridge replay name, unique to the second', () => {
    const name = replayName(new Date('2026-12-06T12:34:56.789Z'));
    expect(name).toBe('kitebridge-20261206T123456Z');
    expect(name).toMatch(/^[.\-_A-Za-z0-9]{1,64}$/);
  });
});

describe('matchRules', () => {
  const rules = [
    { name: 'Kitebridge-ChatAlertsRule12AB', arn: 'arn:1' },
    { name: 'Kitebridge-AnalyticsRule34CD', arn: 'arn:2' },
    { name: 'Kitebridge-AnalyticsArchiveTailRule56EF', arn: 'arn:3' },
  ];

  it('matches an exact name, or the one rule containing the text', () => {
    expect(matchRules(['Kitebridge-AnalyticsRule34CD', 'chatalerts'], rules).map((r) => r.arn)).toEqual([
      'arn:2',
      'arn:1',
    ]);
  });

  it('lists every rule when nothing matches', () => {
    expect(() => matchRules(['Autoscaler'], rules)).toThrow(
      /No rule on the bus matches --rule "Autoscaler"\. The bus has:\n {2}Kitebridge-ChatAlertsRule12AB/,
    );
  });

  it('lists the candidates when the text is ambiguous', () => {
    expect(() => matchRules(['Analytics'], rules)).toThrow(/matches 2 rules; give more of the name/);
  });
});

describe('startReplay', () => {
  it('replays the window from the stack archive onto the stack bus, filtered to the named rules', async () => {
    eb.on(ListRulesCommand, { EventBusName: 'kitebridge-bus', NextToken: undefined }).resolves({
      Rules: [rule('Kitebridge-ChatAlertsRuleAAAA')],
      NextToken: 'page-2',
    });
    eb.on(ListRulesCommand, { EventBusName: 'kitebridge-bus', NextToken: 'page-2' }).resolves({
      Rules: [rule('Kitebridge-NotifyFailedDeploysRuleBBBB')],
    });

    const replay = await startReplay(
      {
        since: new Date('2026-12-05T12:00:00Z'),
        until: new Date('2026-12-06T00:00:00Z'),
        rules: ['NotifyFailedDeploys'],
      },
      deps(),
    );

    expect(replay.name).toBe('kitebridge-20261206T120000Z');
    expect(replay.rules.map((r) => r.name)).toEqual(['Kitebridge-NotifyFailedDeploysRuleBBBB']);
    const calls = eb.commandCalls(StartReplayCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({
      ReplayName: 'kitebridge-20261206T120000Z',
      EventSourceArn: ARCHIVE_ARN,
      EventStartTime: new Date('2026-12-05T12:00:00Z'),
      EventEndTime: new Date('2026-12-06T00:00:00Z'),
      Destination: { Arn: BUS_ARN, FilterArns: [rule('Kitebridge-NotifyFailedDeploysRuleBBBB').Arn] },
    });
  });

  it('replays into every rule when no --rule is given, and ends no later than now', async () => {
    await startReplay(
      { since: new Date('2026-12-06T11:00:00Z'), until: new Date('2027-01-01T00:00:00Z') },
      deps(),
    );

    expect(eb.commandCalls(ListRulesCommand)).toHaveLength(0);
    const input = eb.commandCalls(StartReplayCommand)[0]!.args[0].input;
    expect(input.Destination).toEqual({ Arn: BUS_ARN });
    expect(input.EventEndTime).toEqual(NOW);
  });

  it('refuses a window that starts after it ends', async () => {
    await expect(
      startReplay(
        { since: new Date('2026-12-06T11:00:00Z'), until: new Date('2026-12-06T10:00:00Z') },
        deps(),
      ),
    ).rejects.toThrow(/--since \(2026-12-06T11:00:00.000Z\) must be before --until/);
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
  });

  it('refuses a start older than the archive keeps, naming the earliest time', async () => {
    await expect(
      startReplay({ since: new Date('2026-10-01T00:00:00Z'), until: NOW }, deps()),
    ).rejects.toThrow(/keeps events for 30 days, so nothing before 2026-11-06T12:00:00.000Z can be replayed/);
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
  });

  it('names the missing output and says to redeploy', async () => {
    await expect(
      startReplay(
        { since: new Date('2026-12-06T11:00:00Z'), until: NOW },
        { ...deps(), outputs: { EventBusName: 'b' } },
      ),
    ).rejects.toThrow(/no output "ArchiveName".*npm run cdk deploy/);
  });
});
