/**
 * `npm run replay`: replays archived events onto the bus, into every rule or only the named ones.
 *
 *   npm run replay -- --since <ISO time | duration> [--until <ISO time | duration>] [--rule NAME]…
 *   npm run replay -- --status <replay name>
 *
 * The archive and bus come from the stack outputs (`ArchiveName`, `EventBusName`); `--rule`
 * matches a rule on the bus by exact name or, failing that, by a case-insensitive part of its name
 * (CDK names rules `<Stack>-<Construct>Rule<hash>`, so `ChatAlerts` finds the chat-alerts rule).
 * A duration (`90m`, `6h`, `7d`) counts back from now.
 */
import {
  DescribeArchiveCommand,
  DescribeEventBusCommand,
  DescribeReplayCommand,
  EventBridgeClient,
  ListRulesCommand,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { commandFailed, readCommandLine, runCommand } from './command';
import { requireOutput, resolveStackName, stackOutputs } from './stack-outputs';

export const USAGE =
  'usage: npm run replay -- --since <ISO time|duration> [--until <ISO time|duration>] [--rule NAME]... [--stack NAME]\n' +
  '       npm run replay -- --status <replay name> [--stack NAME]';

/** Bad arguments: the message says what to type instead. */
export class ReplayUsageError extends Error {}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** An ISO-8601 date or date-time (`2026-11-16`, `2026-11-16T08:00:00Z`, with an offset, …). */
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A point in time from `--since`/`--until`: an ISO-8601 time, or a duration back from `now`. */
export function parseTime(flag: string, value: string, now: Date): Date {
  const duration = DURATION.exec(value);
  if (duration) {
    return new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]);
  }
  // A time of day without Z or an offset would be read in this machine's time zone: ask which.
  if (ISO.test(value) && /[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) {
    throw new ReplayUsageError(
      `${flag} ${JSON.stringify(value)} has no time zone: add Z for UTC (${value.replace(' ', 'T')}Z) or an offset such as +01:00.`,
    );
  }
  const time = ISO.test(value) ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw new ReplayUsageError(
      `${flag} ${JSON.stringify(value)} is neither an ISO-8601 time (2026-11-16T08:00:00Z) nor a duration back from now (90m, 6h, 7d).`,
    );
  }
  return time;
}

/** A replay name EventBridge accepts (letters, digits, `.`, `-`, `_`; at most 64), unique to the second. */
export function replayName(now: Date): string {
  return `kitebridge-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

export interface RuleSummary {
  readonly name: string;
  readonly arn: string;
}

/**
 * The rule each `--rule` names: the exact name if there is one, else the only rule whose name
 * contains it (case-insensitive). No match or several is an error listing the candidates.
 */
export function matchRules(wanted: readonly string[], rules: readonly RuleSummary[]): RuleSummary[] {
  return wanted.map((name) => {
    const exact = rules.find((rule) => rule.name === name);
    if (exact) return exact;
    const lower = name.toLowerCase();
    const partial = rules.filter((rule) => rule.name.toLowerCase().includes(lower));
    if (partial.length === 1) return partial[0]!;
    const list = (candidates: readonly RuleSummary[]) =>
      candidates.map((rule) => `  ${rule.name}`).join('\n');
    if (partial.length === 0) {
      throw new ReplayUsageError(
        `No rule on the bus matches --rule ${JSON.stringify(name)}. The bus has:\n${list(rules) || '  (no rules)'}`,
      );
    }
    throw new ReplayUsageError(
      `--rule ${JSON.stringify(name)} matches ${partial.length} rules; give more of the name (or the whole name):\n${list(partial)}`,
    );
  });
}

async function listRules(events: EventBridgeClient, busName: string): Promise<RuleSummary[]> {
  const rules: RuleSummary[] = [];
  let NextToken: string | undefined;
  do {
    const page = await events.send(new ListRulesCommand({ EventBusName: busName, NextToken }));
    for (const rule of page.Rules ?? []) {
      if (rule.Name && rule.Arn) rules.push({ name: rule.Name, arn: rule.Arn });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return rules;
}

export interface ReplayRequest {
  readonly since: Date;
  readonly until: Date;
  readonly rules?: readonly string[];
}

export interface ReplayDeps {
  readonly events: EventBridgeClient;
  /** Output key → value of the deployed stack. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly stackName: string;
  readonly now: Date;
}

export interface StartedReplay {
  readonly name: string;
  readonly state: string;
  readonly rules: readonly RuleSummary[];
  readonly since: Date;
  readonly until: Date;
}

/** Starts one replay of `[since, until)` from the stack's archive onto its bus. */
export async function startReplay(request: ReplayRequest, deps: ReplayDeps): Promise<StartedReplay> {
  const { now } = deps;
  const until = request.until.getTime() > now.getTime() ? now : request.until;
  if (request.since.getTime() >= until.getTime()) {
    throw new ReplayUsageError(
      `--since (${request.since.toISOString()}) must be before --until (${until.toISOString()}, and never later than now).`,
    );
  }
  const archiveName = requireOutput(deps.outputs, 'ArchiveName', deps.stackName);
  const busName = requireOutput(deps.outputs, 'EventBusName', deps.stackName);
  const archive = await deps.events.send(new DescribeArchiveCommand({ ArchiveName: archiveName }));
  const retentionDays = archive.RetentionDays ?? 0;
  if (retentionDays > 0 && request.since.getTime() < now.getTime() - retentionDays * UNIT_MS.d) {
    throw new ReplayUsageError(
      `The archive keeps events for ${retentionDays} days, so nothing before ${new Date(now.getTime() - retentionDays * UNIT_MS.d).toISOString()} can be replayed; move --since later.`,
    );
  }
  const bus = await deps.events.send(new DescribeEventBusCommand({ Name: busName }));
  const rules = request.rules?.length ? matchRules(request.rules, await listRules(deps.events, busName)) : [];
  const name = replayName(now);
  const started = await deps.events.send(
    new StartReplayCommand({
      ReplayName: name,
      Description: rules.length
        ? `kitebridge replay into ${rules.map((rule) => rule.name).join(', ')}`.slice(0, 512)
        : 'kitebridge replay into every rule',
      EventSourceArn: archive.ArchiveArn,
      EventStartTime: request.since,
      EventEndTime: until,
      Destination: {
        Arn: bus.Arn,
        ...(rules.length ? { FilterArns: rules.map((rule) => rule.arn) } : {}),
      },
    }),
  );
  return { name, state: started.State ?? 'STARTING', rules, since: request.since, until };
}

async function main(argv: string[]): Promise<number> {
  const parsed = readCommandLine('replay', USAGE, {
    args: argv,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      rule: { type: 'string', multiple: true },
      stack: { type: 'string' },
      status: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const events = new EventBridgeClient({});
  try {
    if (values.status !== undefined) {
      const replay = await events.send(new DescribeReplayCommand({ ReplayName: values.status }));
      console.log(
        `${values.status}: ${replay.State}${replay.StateReason ? ` (${replay.StateReason})` : ''}` +
          (replay.EventLastReplayedTime
            ? `, replayed up to ${replay.EventLastReplayedTime.toISOString()}`
            : ''),
      );
      return 0;
    }
    if (values.since === undefined) throw new ReplayUsageError(`--since is required.\n${USAGE}`);
    const now = new Date();
    const since = parseTime('--since', values.since, now);
    const until = values.until === undefined ? now : parseTime('--until', values.until, now);
    const stackName = resolveStackName(values.stack);
    const outputs = await stackOutputs(stackName);
    const replay = await startReplay(
      { since, until, rules: values.rule },
      { events, outputs, stackName, now },
    );
    const into = replay.rules.length
      ? replay.rules.map((rule) => rule.name).join(', ')
      : 'every rule on the bus';
    console.log(
      `Started replay ${replay.name} (${replay.state}): events from ${replay.since.toISOString()} to ${replay.until.toISOString()} into ${into}.`,
    );
    console.log(`Watch it: npm run replay -- --status ${replay.name}`);
    console.log(`      or: aws events describe-replay --replay-name ${replay.name}`);
    return 0;
  } catch (error) {
    return commandFailed('replay', error);
  }
}

if (require.main === module) runCommand('replay', main);
