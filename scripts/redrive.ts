/**
 * `npm run redrive`: sends dead letters back to where they failed, once the cause is fixed.
 *
 *   npm run redrive                      lists the dead-letter queues and how many messages each holds
 *   npm run redrive -- <queue>           redrives one (`spool`, `trigger-relay`, `chat-alerts`, …)
 *   npm run redrive -- <queue> --status  shows the queue's latest move task
 *
 * Every dead-letter queue is a stack output (`<Name>DeadLetterQueueUrl`/`…Arn`). There are two kinds:
 *
 * - **Queues fed by an SQS queue** (the spool's, the trigger relay's): SQS `StartMessageMoveTask`
 *   moves the messages back to that queue, named explicitly as the destination. Without a
 *   destination SQS returns a message only to the queue it was moved from, and the relay's own dead
 *   letters (refused by Buildkite, retries used up, URL not set) were sent with SendMessage and have
 *   none: they would fail the task. The relay sends those without an attempt count, so they start
 *   afresh.
 * - **Consumer queues** (fed by EventBridge, for events it could not deliver, and by Lambda, for
 *   invocations that kept failing): SQS cannot move these anywhere useful (StartMessageMoveTask
 *   accepts only dead-letter queues of SQS queues, and the consumer is a function). Every event
 *   is in the archive, so the redrive replays the dead letters' time range into the consumer's
 *   own rule; the consumer dedupes on `delivery.dedupeKey`, so the events it already handled in
 *   that range are not acted on twice. The messages stay in the queue until you purge it.
 */
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListRuleNamesByTargetCommand,
} from '@aws-sdk/client-eventbridge';
import {
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { commandFailed, readCommandLine, runCommand } from './command';
import { startReplay, type StartedReplay } from './replay';
import { requireOutput, resolveStackName, stackOutputs, StackOutputError } from './stack-outputs';

export const USAGE = 'usage: npm run redrive [-- <queue> [--status]] [--stack NAME]';

const URL_SUFFIX = 'DeadLetterQueueUrl';
const ARN_SUFFIX = 'DeadLetterQueueArn';
/** How many dead letters a consumer redrive reads to find the time range and rules (SQS receives 10 at a time). */
export const MAX_PEEKED = 1_000;
/** Long enough to read every message once without seeing one twice; they come back afterwards. */
const PEEK_VISIBILITY_SECONDS = 120;

export interface DeadLetterQueue {
  /** The `<Name>` of its outputs, e.g. `Spool`, `ChatAlerts`. */
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** Every dead-letter queue the stack outputs, by name. */
export function deadLetterQueues(
  outputs: Readonly<Record<string, string>>,
  stackName: string,
): DeadLetterQueue[] {
  return Object.keys(outputs)
    .filter((key) => key.endsWith(URL_SUFFIX) && key.length > URL_SUFFIX.length)
    .map((key) => {
      const name = key.slice(0, -URL_SUFFIX.length);
      return { name, url: outputs[key]!, arn: requireOutput(outputs, `${name}${ARN_SUFFIX}`, stackName) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const squash = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The queue a user named: `chat-alerts`, `ChatAlerts` and `chatalerts` all name `ChatAlerts`. */
export function findQueue(queues: readonly DeadLetterQueue[], wanted: string): DeadLetterQueue {
  const key = squash(wanted.replace(/DeadLetterQueue(Url|Arn)?$/i, ''));
  const queue = queues.find((q) => squash(q.name) === key);
  if (!queue) {
    const names = queues.map((q) => kebab(q.name)).join(', ') || '(none: redeploy with npm run cdk deploy)';
    throw new StackOutputError(
      `No dead-letter queue is called ${JSON.stringify(wanted)}. The stack has: ${names}.`,
    );
  }
  return queue;
}

/** `ChatAlerts` → `chat-alerts`, the spelling the README and config use. */
export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

export interface RedriveDeps {
  readonly sqs: SQSClient;
  readonly events: EventBridgeClient;
  readonly outputs: Readonly<Record<string, string>>;
  readonly stackName: string;
  readonly now: Date;
}

export interface QueueSummary extends DeadLetterQueue {
  readonly messages: number;
  /** The SQS queues that move messages here (empty for a consumer's queue). */
  readonly sources: readonly string[];
}

/** Each dead-letter queue with its approximate depth and its source queues. */
export async function listQueues(deps: RedriveDeps): Promise<QueueSummary[]> {
  return Promise.all(
    deadLetterQueues(deps.outputs, deps.stackName).map(async (queue) => {
      const [attributes, sources] = await Promise.all([
        deps.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue.url,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        ),
        sourceQueues(deps.sqs, queue.url),
      ]);
      return { ...queue, messages: Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0), sources };
    }),
  );
}

async function sourceQueues(sqs: SQSClient, url: string): Promise<string[]> {
  const urls: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: url, NextToken }));
    urls.push(...(page.queueUrls ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return urls;
}

export type RedriveResult =
  | {
      readonly kind: 'move';
      readonly queue: DeadLetterQueue;
      readonly taskHandle: string;
      readonly destinationArn: string;
    }
  | {
      readonly kind: 'replay';
      readonly queue: DeadLetterQueue;
      readonly replay: StartedReplay;
      /** Messages read to find the range (at most MAX_PEEKED). */
      readonly read: number;
      /** Messages that held no event kitebridge could place (left in the queue, not replayed). */
      readonly unreadable: number;
    }
  | { readonly kind: 'empty'; readonly queue: DeadLetterQueue }
  /** Only failed scheduled runs: nothing to send back, later runs covered their window. */
  | { readonly kind: 'scheduled'; readonly queue: DeadLetterQueue; readonly read: number };

/** Sends one dead-letter queue's messages back (see the module comment for how, per kind). */
export async function redrive(queue: DeadLetterQueue, deps: RedriveDeps): Promise<RedriveResult> {
  const sources = await sourceQueues(deps.sqs, queue.url);
  if (sources.length > 1) {
    throw new StackOutputError(
      `${queue.name}'s dead-letter queue is the dead-letter queue of ${sources.length} queues; kitebridge creates one per queue, so this one was changed by hand. Redrive it with aws sqs start-message-move-task --source-arn ${queue.arn}.`,
    );
  }
  if (sources.length === 1) {
    const attributes = await deps.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: sources[0], AttributeNames: ['QueueArn'] }),
    );
    const destinationArn = attributes.Attributes?.QueueArn;
    if (!destinationArn) throw new Error(`SQS returned no QueueArn for ${sources[0]}.`);
    const { TaskHandle } = await deps.sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: queue.arn, DestinationArn: destinationArn }),
    );
    return { kind: 'move', queue, taskHandle: TaskHandle ?? '', destinationArn };
  }
  return replayDeadLetters(queue, deps);
}

/** What a consumer's dead letter says about the event it failed on. */
export interface DeadLetterFacts {
  readonly time: Date;
  /** The rule that delivered it, when EventBridge put it there. */
  readonly ruleArn?: string;
  /** The function that failed on it, when Lambda put it there. */
  readonly functionArn?: string;
  /** A scheduled run that failed (the reconciler's): there is no event to send back. */
  readonly scheduled?: true;
}

/**
 * Reads one consumer dead letter: an event EventBridge could not deliver (the body is the event;
 * the `RULE_ARN` attribute names the rule) or a Lambda on-failure record (`requestPayload` is the
 * event; `requestContext.functionArn` the function). Anything else gives undefined.
 */
export function deadLetterFacts(
  message: Pick<Message, 'Body' | 'MessageAttributes'>,
): DeadLetterFacts | undefined {
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as { requestPayload?: unknown; requestContext?: { functionArn?: unknown } };
  const event = (record.requestPayload ?? body) as { time?: unknown; 'detail-type'?: unknown };
  if (typeof event !== 'object' || event === null || typeof event.time !== 'string') return undefined;
  const time = new Date(event.time);
  if (Number.isNaN(time.getTime())) return undefined;
  // A scheduled run: a failed invocation (Lambda's record) or a schedule event EventBridge could
  // not deliver (the event itself, its rule on the default bus, not in the archive).
  if (event['detail-type'] === 'Scheduled Event') return { time, scheduled: true };
  if (record.requestPayload !== undefined) {
    const functionArn = record.requestContext?.functionArn;
    // The qualified ARN of an async invocation ends in `:$LATEST` or a version; rules target the function.
    return typeof functionArn === 'string'
      ? { time, functionArn: functionArn.replace(/:(\$LATEST|\d+)$/, '') }
      : undefined;
  }
  const ruleArn = message.MessageAttributes?.RULE_ARN?.StringValue;
  return ruleArn ? { time, ruleArn } : { time };
}

async function peek(sqs: SQSClient, url: string): Promise<Message[]> {
  const messages: Message[] = [];
  const seen = new Set<string>();
  while (messages.length < MAX_PEEKED) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const fresh = (Messages ?? []).filter((m) => m.MessageId && !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const m of fresh) seen.add(m.MessageId!);
    messages.push(...fresh);
  }
  return messages;
}

async function ruleArnsForFunctions(deps: RedriveDeps, functionArns: ReadonlySet<string>): Promise<string[]> {
  const busName = requireOutput(deps.outputs, 'EventBusName', deps.stackName);
  const arns: string[] = [];
  for (const functionArn of functionArns) {
    const names: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await deps.events.send(
        new ListRuleNamesByTargetCommand({ TargetArn: functionArn, EventBusName: busName, NextToken }),
      );
      names.push(...(page.RuleNames ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    if (names.length === 0) {
      throw new StackOutputError(
        `No rule on ${busName} targets ${functionArn} any more, so its dead letters have nowhere to go; was the consumer removed?`,
      );
    }
    for (const Name of names) {
      const rule = await deps.events.send(new DescribeRuleCommand({ Name, EventBusName: busName }));
      if (rule.Arn) arns.push(rule.Arn);
    }
  }
  return arns;
}

async function replayDeadLetters(queue: DeadLetterQueue, deps: RedriveDeps): Promise<RedriveResult> {
  const messages = await peek(deps.sqs, queue.url);
  const facts = messages.map(deadLetterFacts);
  const scheduled = facts.filter((f) => f?.scheduled).length;
  const placed = facts.filter((f): f is DeadLetterFacts => f !== undefined && !f.scheduled);
  if (placed.length === 0 && scheduled > 0) return { kind: 'scheduled', queue, read: messages.length };
  if (placed.length === 0) {
    if (messages.length > 0) {
      throw new StackOutputError(
        `${queue.name}'s dead-letter queue holds ${messages.length} message(s) that name no event time; read them with aws sqs receive-message --queue-url ${queue.url} --message-attribute-names All.`,
      );
    }
    return { kind: 'empty', queue };
  }
  const ruleArns = new Set(placed.flatMap((f) => (f.ruleArn ? [f.ruleArn] : [])));
  const functions = new Set(placed.flatMap((f) => (f.functionArn ? [f.functionArn] : [])));
  for (const arn of await ruleArnsForFunctions(deps, functions)) ruleArns.add(arn);
  if (ruleArns.size === 0) {
    throw new StackOutputError(
      `${queue.name}'s dead letters name neither a rule nor a function; replay them yourself with npm run replay -- --since … --rule <consumer>.`,
    );
  }
  const times = placed.map((f) => f.time.getTime());
  const since = new Date(Math.min(...times));
  // Event times have second precision; the end of a replay is exclusive.
  const until = new Date(Math.max(...times) + 1_000);
  const ruleNames = [...ruleArns].map((arn) => arn.slice(arn.lastIndexOf('/') + 1));
  const replay = await startReplay({ since, until, rules: ruleNames }, deps);
  return {
    kind: 'replay',
    queue,
    replay,
    read: messages.length,
    unreadable: messages.length - placed.length,
  };
}

/** What `--status` prints: the queue's latest move tasks. */
export async function moveTaskStatus(queue: DeadLetterQueue, sqs: SQSClient): Promise<string[]> {
  const { Results } = await sqs.send(
    new ListMessageMoveTasksCommand({ SourceArn: queue.arn, MaxResults: 3 }),
  );
  if (!Results?.length) return [`${kebab(queue.name)}: no move task has run from this queue.`];
  return Results.map(
    (task) =>
      `${kebab(queue.name)}: ${task.Status} since ${task.StartedTimestamp ? new Date(task.StartedTimestamp).toISOString() : '?'}, ` +
      `${task.ApproximateNumberOfMessagesMoved ?? 0} of ${task.ApproximateNumberOfMessagesToMove ?? '?'} moved` +
      (task.FailureReason ? ` (${task.FailureReason})` : ''),
  );
}

export function describeResult(result: RedriveResult): string[] {
  const name = kebab(result.queue.name);
  switch (result.kind) {
    case 'move':
      return [
        `Moving ${name}'s dead letters back to ${result.destinationArn.slice(result.destinationArn.lastIndexOf(':') + 1)} (task ${result.taskHandle}).`,
        `Watch it: npm run redrive -- ${name} --status`,
      ];
    case 'empty':
      return [`${name}'s dead-letter queue is empty: nothing to redrive.`];
    case 'scheduled':
      return [
        `${name}'s dead letters are ${result.read} failed scheduled run(s): there is nothing to send back, because each later run reads the same window again.`,
        'Read why they failed (responsePayload.errorMessage) to fix the cause:',
        `  aws sqs receive-message --queue-url ${result.queue.url} --max-number-of-messages 10`,
        `Then empty the queue: aws sqs purge-queue --queue-url ${result.queue.url}`,
      ];
    case 'replay':
      return [
        `Replaying ${result.replay.since.toISOString()} to ${result.replay.until.toISOString()} from the archive into ${result.replay.rules.map((r) => r.name).join(', ')} (replay ${result.replay.name}), for the ${result.read - result.unreadable} dead letter(s) read${result.read >= MAX_PEEKED ? ` (the first ${MAX_PEEKED}; run again for the rest)` : ''}.`,
        ...(result.unreadable > 0
          ? [`${result.unreadable} message(s) named no event and were left as they are.`]
          : []),
        `Watch it: npm run replay -- --status ${result.replay.name}`,
        `When it is COMPLETED, empty the queue: aws sqs purge-queue --queue-url ${result.queue.url}`,
      ];
  }
}

async function main(argv: string[]): Promise<number> {
  const parsed = readCommandLine(
    'redrive',
    USAGE,
    {
      args: argv,
      options: {
        stack: { type: 'string' },
        status: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    },
    ({ positionals }) => {
      if (positionals.length > 1) throw new Error('name one queue at a time.');
    },
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  try {
    const stackName = resolveStackName(values.stack);
    const deps: RedriveDeps = {
      sqs: new SQSClient({}),
      events: new EventBridgeClient({}),
      outputs: await stackOutputs(stackName),
      stackName,
      now: new Date(),
    };
    const wanted = positionals[0];
    if (wanted === undefined) {
      const queues = await listQueues(deps);
      if (queues.length === 0) {
        console.log(`Stack "${stackName}" outputs no dead-letter queue; redeploy with npm run cdk deploy.`);
        return 0;
      }
      console.log('Dead-letter queues (npm run redrive -- <queue>):');
      for (const q of queues) {
        const how = q.sources.length ? 'moved back to its queue' : 'replayed from the archive into its rule';
        console.log(`  ${kebab(q.name).padEnd(28)} ${String(q.messages).padStart(6)} message(s)   ${how}`);
      }
      return 0;
    }
    const queue = findQueue(deadLetterQueues(deps.outputs, stackName), wanted);
    const lines = values.status
      ? await moveTaskStatus(queue, deps.sqs)
      : describeResult(await redrive(queue, deps));
    for (const line of lines) console.log(line);
    return 0;
  } catch (error) {
    return commandFailed('redrive', error);
  }
}

if (require.main === module) runCommand('redrive', main);
