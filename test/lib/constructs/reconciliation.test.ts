import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { Alarms } from '../../../lib/constructs/alarms';
import {
  Reconciliation,
  RECONCILIATION_OFF_NOTE,
  type ReconciliationProps,
} from '../../../lib/constructs/reconciliation';
import { ConfigError, parseConfig } from '../../../lib/config';
import { logicalIdOf, synthStack, TEST_WEBHOOK_IPS, testApp } from '../helpers';

/** The policy statements attached to a function's role. */
function statementsOf(
  template: Template,
  roleId: string,
): { Action: string | string[]; Resource: unknown }[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement,
  );
}
const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('reconciliation with buildkiteApi configured', () => {
  const { stack, template } = synthStack({ analytics: false, buildkiteApi: { organization: 'acme' } });
  const reconciliation = stack.reconciliation!;

  it('is on by default', () => {
    expect(reconciliation).toBeDefined();
  });

  it('runs on a schedule, every 5 minutes by default, invoking the reconcile function with a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalIdOf(reconciliation.function), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(reconciliation.deadLetterQueue), 'Arn'] } },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }),
        }),
      ],
    });
    // Failed runs are not retried (the next run covers the window) and land in the same queue.
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalIdOf(reconciliation.function) },
      MaximumRetryAttempts: 0,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(reconciliation.deadLetterQueue), 'Arn'] } },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('never sent'),
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: Match.objectLike({
          BUILDKITE_ORGANIZATION: 'acme',
          RECONCILE_LOOKBACK_MINUTES: '60',
          RECONCILE_GRACE_MINUTES: '3',
          RECONCILE_MAX_PAGES: '20',
          BUILDKITE_API_TOKEN_SECRET_ARN: { Ref: logicalIdOf(stack.buildkiteApi!.secret) },
        }),
      },
    });
  });

  it('sends every build.finished on the bus to the index function, through a consumer with its own DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['buildkite'], 'detail-type': ['build.finished'] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalIdOf(reconciliation.indexFunction), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [logicalIdOf(reconciliation.indexConsumer.deadLetterQueue), 'Arn'] },
          },
        }),
      ],
    });
  });

  it('keeps the index in a TTL table with point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('grants each function only what it uses: the index function UpdateItem; the run BatchGetItem, UpdateItem, PutEvents on the bus and reads of the API token secret', () => {
    const table = { 'Fn::GetAtt': [logicalIdOf(reconciliation.table), 'Arn'] };
    const indexStatements = statementsOf(template, logicalIdOf(reconciliation.indexFunction.role!));
    const indexTable = indexStatements.filter((s) =>
      JSON.stringify(s.Resource).includes(logicalIdOf(reconciliation.table)),
    );
    expect(indexTable.flatMap(actionsOf)).toEqual(['dynamodb:UpdateItem']);
    expect(indexStatements.flatMap(actionsOf)).not.toContain('events:PutEvents');
    expect(indexStatements.flatMap(actionsOf)).not.toContain('secretsmanager:GetSecretValue');

    const runStatements = statementsOf(template, logicalIdOf(reconciliation.function.role!));
    const runTable = runStatements.filter((s) =>
      JSON.stringify(s.Resource).includes(logicalIdOf(reconciliation.table)),
    );
    expect(runTable.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:UpdateItem']);
    expect(
      runTable.every(
        (s) =>
          JSON.stringify(s.Resource) === JSON.stringify([table, { 'Fn::Join': ['', [table, '/index/*']] }]) ||
          JSON.stringify(s.Resource) === JSON.stringify(table),
      ),
    ).toBe(true);
    const putEvents = runStatements.filter((s) => actionsOf(s).includes('events:PutEvents'));
    expect(putEvents).toHaveLength(1);
    expect(JSON.stringify(putEvents[0]!.Resource)).toContain(logicalIdOf(stack.bus.bus));
    const secretReads = runStatements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
    expect(secretReads.map((s) => s.Resource)).toEqual([{ Ref: logicalIdOf(stack.buildkiteApi!.secret) }]);
    // Nothing on every resource, but X-Ray's trace writes (which take no resource).
    for (const s of [...runStatements, ...indexStatements]) {
      if (s.Resource === '*') expect(actionsOf(s).every((a) => a.startsWith('xray:'))).toBe(true);
    }
  });

  it('alarms when more than 5 deliveries were missed in an hour, and on a failed run', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'kitebridge',
      MetricName: 'MissedDeliveries',
      Dimensions: [{ Name: 'service', Value: 'reconcile' }],
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.anyValue() }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalIdOf(reconciliation.deadLetterQueue), 'QueueName'] },
        },
      ],
    });
  });

  it('shows missed deliveries and API calls on the dashboard', () => {
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(body).toContain('Reconciliation: deliveries Buildkite missed, and API calls (per hour)');
    expect(body).toContain('MissedDeliveries');
    expect(body).toContain('BuildkiteApiCalls');
  });

  it('outputs both dead-letter queues under stable keys for npm run redrive', () => {
    template.hasOutput('ReconcileDeadLetterQueueUrl', {
      Value: { Ref: logicalIdOf(reconciliation.deadLetterQueue) },
    });
    template.hasOutput('ReconcileDeadLetterQueueArn', Match.anyValue());
    template.hasOutput('ReconcileIndexDeadLetterQueueUrl', {
      Value: { Ref: logicalIdOf(reconciliation.indexConsumer.deadLetterQueue) },
    });
  });
});

describe('settings', () => {
  it('takes the schedule, window and threshold from the reconcile key', () => {
    const { template } = synthStack({
      analytics: false,
      buildkiteApi: { organization: 'acme' },
      reconcile: {
        everyMinutes: 10,
        lookbackMinutes: 120,
        graceMinutes: 5,
        missedAlarmThreshold: 0,
        maxPages: 3,
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'MissedDeliveries',
      Threshold: 0,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          RECONCILE_LOOKBACK_MINUTES: '120',
          RECONCILE_GRACE_MINUTES: '5',
          RECONCILE_MAX_PAGES: '3',
        }),
      },
    });
  });

  it('refuses a look-back too short for two runs to see every build, naming the least', () => {
    expect(() =>
      parseConfig({
        webhookIps: TEST_WEBHOOK_IPS,
        buildkiteApi: { organization: 'acme' },
        reconcile: { everyMinutes: 30, lookbackMinutes: 30 },
      }),
    ).toThrow(ConfigError);
    try {
      parseConfig({ webhookIps: TEST_WEBHOOK_IPS, reconcile: { everyMinutes: 30, lookbackMinutes: 30 } });
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(
        /lookbackMinutes.*at least graceMinutes \+ 2 × everyMinutes \(63\)/,
      );
    }
  });

  it('is off with reconcile: false, saying so at synth', () => {
    const { stack, template } = synthStack({
      analytics: false,
      buildkiteApi: { organization: 'acme' },
      reconcile: false,
    });
    expect(stack.reconciliation).toBeUndefined();
    template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
    Annotations.fromStack(stack).hasInfo('*', RECONCILIATION_OFF_NOTE);
  });

  it('is off without buildkiteApi (the builds API needs its token)', () => {
    const { stack, template } = synthStack({ analytics: false });
    expect(stack.reconciliation).toBeUndefined();
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Description: Match.stringLikeRegexp('never sent') },
      0,
    );
  });
});

describe('the construct alone', () => {
  /** A Reconciliation (with `props` over the required ones) in a stack of its own; returns the stack. */
  const reconciliationAlone = (props: Partial<ReconciliationProps> = {}) => {
    const stack = new Stack(testApp(), 'Probe');
    new Reconciliation(stack, 'Reconciliation', {
      bus: new events.EventBus(stack, 'Bus'),
      alarms: new Alarms(stack, 'Alarms'),
      apiTokenSecret: new secretsmanager.Secret(stack, 'Token'),
      organization: 'acme',
      logRetentionDays: 30,
      ...props,
    });
    return stack;
  };

  it.each([
    [{ everyMinutes: 0 }, /everyMinutes/],
    [
      { lookbackMinutes: 12, everyMinutes: 5, graceMinutes: 3 },
      /lookbackMinutes must be at least graceMinutes \+ 2 × everyMinutes \(13\)/,
    ],
    [{ maxPages: 0 }, /maxPages/],
  ])('refuses %j at synth', (props, message) => {
    expect(() => reconciliationAlone(props)).toThrow(message);
  });

  it('is cdk-nag clean (AwsSolutions and Serverless)', () => {
    const stack = reconciliationAlone();
    const reconciliationPaths = (report: {
      violations: { violatingResources: { constructPath?: string }[] }[];
    }) =>
      report.violations.flatMap((v) =>
        v.violatingResources.map((r) => r.constructPath ?? '').filter((p) => p.includes('Reconciliation')),
      );
    expect(reconciliationPaths(new AwsSolutionsChecks().validateScope(stack))).toEqual([]);
    expect(reconciliationPaths(new ServerlessChecks().validateScope(stack))).toEqual([]);
  });
});
