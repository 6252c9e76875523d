import {
  DescribeArchiveCommand,
  DescribeEventBusCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import {
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  deadLetterFacts,
  deadLetterQueues,
  describeResult,
  findQueue,
  listQueues,
  moveTaskStatus,
  redrive,
} from '../../scripts/redrive';
import { mockAwsClients } from '../support/aws-mocks';

const { sqs, eb } = mockAwsClients({ sqs: SQSClient, eb: EventBridgeClient });

const ACCOUNT = '111111111111';
const queueUrl = (name: string) => `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/${name}`;
const queueArn = (name: string) => `arn:aws:sqs:eu-west-1:${ACCOUNT}:${name}`;
const RULE_ARN = `arn:aws:events:eu-west-1:${ACCOUNT}:rule/kitebridge-bus/Kitebridge-ChatAlertsRuleAAAA`;
const FUNCTION_ARN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:Kitebridge-ChatAlertsFunctionBBBB`;
const OUTPUTS = {
  EventBusName: 'kitebridge-bus',
  ArchiveName: 'kitebridge-archive',
  SpoolDeadLetterQueueUrl: queueUrl('spool-dlq'),
  SpoolDeadLetterQueueArn: queueArn('spool-dlq'),
  TriggerRelayDeadLetterQueueUrl: queueUrl('relay-dlq'),
  TriggerRelayDeadLetterQueueArn: queueArn('relay-dlq'),
  ChatAlertsDeadLetterQueueUrl: queueUrl('chat-dlq'),
  ChatAlertsDeadLetterQueueArn: queueArn('chat-dlq'),
  WebhookUrl: 'https://example.invalid/v1/webhook',
};
const NOW = new Date('2026-12-06T12:00:00Z');
const deps = () => ({
  sqs: new SQSClient({}),
  events: new EventBridgeClient({}),
  outputs: OUTPUTS,
  stackName: 'Kitebridge',
  now: NOW,
});
const queues = deadLetterQueues(OUTPUTS, 'Kitebridge');
const event = (time: string) => ({
  version: '0',
  id: `id-${time}`,
  'detail-type': 'build.finished',
  source: 'buildkite',
  time,
  detail: { event: 'build.finished', delivery: { dedupeKey: 'k' } },
});

describe('finding the queues', () => {
  it('reads every <Name>DeadLetterQueueUrl/Arn pair from the outputs', () => {
    expect(queues.map((q) => q.name)).toEqual(['ChatAlerts', 'Spool', 'TriggerRelay']);
    expect(queues[0]).toEqual({ name: 'ChatAlerts', url: queueUrl('chat-dlq'), arn: queueArn('chat-dlq') });
  });

  it('says to redeploy when an ARN output is missing', () => {
    expect(() => deadLetterQueues({ SpoolDeadLetterQueueUrl: 'u' }, 'Kitebridge')).toThrow(
      /no output "SpoolDeadLetterQueueArn".*npm run cdk deploy/,
    );
  });

  it.each(['chat-alerts', 'ChatAlerts', 'chatalerts', 'ChatAlertsDeadLetterQueue'])('finds %s', (name) => {
    expect(findQueue(queues, name).name).toBe('ChatAlerts');
  });

  it('lists the names it knows when the name is wrong', () => {
    expect(() => findQueue(queues, 'analytics')).toThrow(
      'No dead-letter queue is called "analytics". The stack has: chat-alerts, spool, trigger-relay.',
    );
  });

  it('lists each queue with its depth and its source queues', async () => {
    sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => ({
      Attributes: { ApproximateNumberOfMessages: input.QueueUrl.endsWith('chat-dlq') ? '3' : '0' },
    }));
    sqs
      .on(ListDeadLetterSourceQueuesCommand, { QueueUrl: queueUrl('spool-dlq') })
      .resolves({ queueUrls: [queueUrl('spool')] });
    sqs.on(ListDeadLetterSourceQueuesCommand, { QueueUrl: queueUrl('chat-dlq') }).resolves({ queueUrls: [] });
    sqs
      .on(ListDeadLetterSourceQueuesCommand, { QueueUrl: queueUrl('relay-dlq') })
      .resolves({ queueUrls: [queueUrl('relay')] });

    const listed = await listQueues(deps());
    expect(listed.map((q) => [q.name, q.messages, q.sources])).toEqual([
      ['ChatAlerts', 3, []],
      ['Spool', 0, [queueUrl('spool')]],
      ['TriggerRelay', 0, [queueUrl('relay')]],
    ]);
  });
});

describe('a queue fed by an SQS queue', () => {
  it("moves the relay's dead letters to the relay queue named explicitly, so those sent with SendMessage go too", async () => {
    sqs
      .on(ListDeadLetterSourceQueuesCommand, { QueueUrl: queueUrl('relay-dlq') })
      .resolves({ queueUrls: [queueUrl('relay')] });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrl('relay'), AttributeNames: ['QueueArn'] })
      .resolves({
        Attributes: { QueueArn: queueArn('relay') },
      });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });

    const result = await redrive(findQueue(queues, 'trigger-relay'), deps());

    expect(result).toMatchObject({ kind: 'move', taskHandle: 'task-1', destinationArn: queueArn('relay') });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([
      { SourceArn: queueArn('relay-dlq'), DestinationArn: queueArn('relay') },
    ]);
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
    expect(describeResult(result)).toEqual([
      "Moving trigger-relay's dead letters back to relay (task task-1).",
      'Watch it: npm run redrive -- trigger-relay --status',
    ]);
  });

  it('refuses a queue that several queues dead-letter into (not how the stack builds it)', async () => {
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [queueUrl('a'), queueUrl('b')] });
    await expect(redrive(findQueue(queues, 'spool'), deps())).rejects.toThrow(
      /dead-letter queue of 2 queues/,
    );
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('--status shows the latest move task', async () => {
    sqs.on(ListMessageMoveTasksCommand, { SourceArn: queueArn('spool-dlq'), MaxResults: 3 }).resolves({
      Results: [
        {
          Status: 'COMPLETED',
          StartedTimestamp: NOW.getTime(),
          ApproximateNumberOfMessagesMoved: 4,
          ApproximateNumberOfMessagesToMove: 4,
        },
      ],
    });
    await expect(moveTaskStatus(findQueue(queues, 'spool'), new SQSClient({}))).resolves.toEqual([
      'spool: COMPLETED since 2026-12-06T12:00:00.000Z, 4 of 4 moved',
    ]);
  });
});

describe("a consumer's queue (fed by EventBridge and Lambda)", () => {
  const lambdaRecord = (time: string) =>
    JSON.stringify({
      version: '1.0',
      requestContext: { functionArn: `${FUNCTION_ARN}:$LATEST`, condition: 'RetriesExhausted' },
      requestPayload: event(time),
      responsePayload: { errorMessage: 'Slack answered 404' },
    });

  beforeEach(() => {
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [] });
    eb.on(DescribeArchiveCommand).resolves({ ArchiveArn: 'arn:archive', RetentionDays: 30 });
    eb.on(DescribeEventBusCommand).resolves({ Arn: 'arn:bus' });
    eb.on(ListRulesCommand).resolves({ Rules: [{ Name: 'Kitebridge-ChatAlertsRuleAAAA', Arn: RULE_ARN }] });
    eb.on(ListRuleNamesByTargetCommand, { TargetArn: FUNCTION_ARN, EventBusName: 'kitebridge-bus' }).resolves(
      {
        RuleNames: ['Kitebridge-ChatAlertsRuleAAAA'],
      },
    );
    eb.on(DescribeRuleCommand, { Name: 'Kitebridge-ChatAlertsRuleAAAA' }).resolves({ Arn: RULE_ARN });
    eb.on(StartReplayCommand).resolves({ State: 'STARTING' });
  });

  it("replays the dead letters' time range from the archive into the consumer's rule only, and leaves the messages", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'm1', Body: lambdaRecord('2026-12-05T10:00:00Z') },
          {
            MessageId: 'm2',
            Body: JSON.stringify(event('2026-12-05T09:30:00Z')),
            MessageAttributes: { RULE_ARN: { DataType: 'String', StringValue: RULE_ARN } },
          },
          { MessageId: 'm3', Body: 'not json' },
        ],
      })
      .resolves({ Messages: [] });

    const result = await redrive(findQueue(queues, 'chat-alerts'), deps());

    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    const replay = eb.commandCalls(StartReplayCommand)[0]!.args[0].input;
    expect(replay).toMatchObject({
      EventSourceArn: 'arn:archive',
      EventStartTime: new Date('2026-12-05T09:30:00Z'),
      EventEndTime: new Date('2026-12-05T10:00:01Z'),
      Destination: { Arn: 'arn:bus', FilterArns: [RULE_ARN] },
    });
    expect(result).toMatchObject({ kind: 'replay', read: 3, unreadable: 1 });
    const text = describeResult(result).join('\n');
    expect(text).toContain('into Kitebridge-ChatAlertsRuleAAAA');
    expect(text).toContain('1 message(s) named no event and were left as they are.');
    expect(text).toContain(`aws sqs purge-queue --queue-url ${queueUrl('chat-dlq')}`);
  });

  it('stops reading when SQS hands back messages it already gave (all read once)', async () => {
    const m1 = { MessageId: 'm1', Body: lambdaRecord('2026-12-05T10:00:00Z') };
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [m1] });
    const result = await redrive(findQueue(queues, 'chat-alerts'), deps());
    expect(result).toMatchObject({ kind: 'replay', read: 1 });
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(2);
  });

  it('says the queue is empty and starts nothing', async () => {
    sqs.on(ReceiveMessageCommand).resolves({});
    const result = await redrive(findQueue(queues, 'chat-alerts'), deps());
    expect(describeResult(result)).toEqual(["chat-alerts's dead-letter queue is empty: nothing to redrive."]);
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
  });

  it('refuses when no message names an event, pointing at how to read them', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'x', Body: '{}' }] })
      .resolves({});
    await expect(redrive(findQueue(queues, 'chat-alerts'), deps())).rejects.toThrow(
      /holds 1 message\(s\) that name no event time; read them with aws sqs receive-message/,
    );
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
  });
});

describe('a queue of failed scheduled runs (the reconciler)', () => {
  it('sends nothing back and says how to read the errors and empty the queue', async () => {
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [] });
    const record = {
      requestContext: { functionArn: `${FUNCTION_ARN}:$LATEST`, condition: 'RetriesExhausted' },
      requestPayload: {
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        time: '2026-12-05T10:00:00Z',
      },
      responsePayload: { errorMessage: 'Buildkite refused the API token (401)' },
    };
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'r1', Body: JSON.stringify(record) }] })
      .resolves({});

    const result = await redrive(findQueue(queues, 'chat-alerts'), deps());

    expect(result).toMatchObject({ kind: 'scheduled', read: 1 });
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
    expect(describeResult(result).join('\n')).toMatch(
      /1 failed scheduled run\(s\): there is nothing to send back[\s\S]*purge-queue/,
    );
  });
});

describe('a schedule event EventBridge could not deliver (the reconciler schedule target dead letter)', () => {
  it('is a failed scheduled run too: nothing is replayed into the schedule rule', async () => {
    sqs.on(ListDeadLetterSourceQueuesCommand).resolves({ queueUrls: [] });
    const scheduleEvent = {
      version: '0',
      id: 'sched-1',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-12-05T10:00:00Z',
      resources: [`arn:aws:events:eu-west-1:${ACCOUNT}:rule/Kitebridge-ReconcileScheduleCCCC`],
      detail: {},
    };
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          {
            MessageId: 's1',
            Body: JSON.stringify(scheduleEvent),
            MessageAttributes: {
              RULE_ARN: {
                DataType: 'String',
                StringValue: `arn:aws:events:eu-west-1:${ACCOUNT}:rule/Kitebridge-ReconcileScheduleCCCC`,
              },
            },
          },
        ],
      })
      .resolves({});

    const result = await redrive(findQueue(queues, 'chat-alerts'), deps());

    expect(result).toMatchObject({ kind: 'scheduled', read: 1 });
    expect(eb.commandCalls(StartReplayCommand)).toHaveLength(0);
  });
});

describe('deadLetterFacts', () => {
  it('reads a Lambda on-failure record: the event time and the unqualified function', () => {
    const body = JSON.stringify({
      requestContext: { functionArn: `${FUNCTION_ARN}:7` },
      requestPayload: event('2026-12-05T10:00:00Z'),
    });
    expect(deadLetterFacts({ Body: body })).toEqual({
      time: new Date('2026-12-05T10:00:00Z'),
      functionArn: FUNCTION_ARN,
    });
  });

  it('reads an event EventBridge could not deliver, with its rule', () => {
    expect(
      deadLetterFacts({
        Body: JSON.stringify(event('2026-12-05T10:00:00Z')),
        MessageAttributes: { RULE_ARN: { DataType: 'String', StringValue: RULE_ARN } },
      }),
    ).toEqual({ time: new Date('2026-12-05T10:00:00Z'), ruleArn: RULE_ARN });
  });

  it.each([
    ['not json'],
    ['null'],
    ['{"time":"never"}'],
    ['{"requestPayload":{"time":"2026-12-05T10:00:00Z"}}'],
  ])('gives nothing for %s', (body) => {
    expect(deadLetterFacts({ Body: body })).toBeUndefined();
  });
});
