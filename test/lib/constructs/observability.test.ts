import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Observability } from '../../../lib/constructs/observability';
import { PropError } from '../../../lib/constructs/prop-checks';
import { logicalIdOf, synthStack, testApp } from '../helpers';

/** The dashboard body of `observability`, resolved, as one JSON string. */
function dashboardBody(observability: Observability): string {
  const stack = Stack.of(observability);
  const template = Template.fromStack(stack);
  const dashboard = template.toJSON().Resources[logicalIdOf(observability.dashboard)];
  return JSON.stringify(stack.resolve(dashboard?.Properties.DashboardBody));
}

/** A bare stack with an Observability and one function and queue to observe. */
function bare() {
  const stack = new Stack(testApp(), 'Bare');
  const observability = new Observability(stack, 'Observability');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  const queue = new sqs.Queue(stack, 'Dlq');
  return { stack, observability, fn, queue };
}

describe('Observability', () => {
  it('creates the alarm topic at the stack top level (Alarms/Topic), where earlier stacks had it', () => {
    const { stack, observability } = bare();
    expect(observability.alarms.node.path).toBe(`${stack.node.path}/Alarms`);
    expect(observability.alarms.topic.node.path).toBe(`${stack.node.path}/Alarms/Topic`);
  });

  it('subscribes alarmEmail to the topic', () => {
    const stack = new Stack(testApp(), 'Mail');
    new Observability(stack, 'Observability', { alarmEmail: 'ops@example.com' });
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('has a dashboard with function errors, skipped deliveries and dead-letter depth before anything is observed', () => {
    const { observability } = bare();
    const body = dashboardBody(observability);
    for (const text of [
      'Function errors',
      'Skipped deliveries by consumer and reason',
      'Dead-letter queue depth',
    ]) {
      expect(body).toContain(text);
    }
    expect(body).not.toContain('AWS/ApiGateway');
  });

  it('names the dashboard after the stack unless told otherwise', () => {
    const { stack } = bare();
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: 'Bare-kitebridge',
    });
    const other = new Stack(testApp(), 'Other');
    new Observability(other, 'Observability', { dashboardName: 'ci-overview' });
    Template.fromStack(other).hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: 'ci-overview',
    });
  });

  it("shows an observed component's function errors and queue depth, its widgets, and outputs its queue", () => {
    const { stack, observability, fn, queue } = bare();
    const widget = new cloudwatch.TextWidget({ markdown: 'only-this-component', width: 24 });
    observability.observe({ name: 'my-consumer', function: fn, deadLetterQueue: queue, widgets: [widget] });
    const body = dashboardBody(observability);
    expect(body).toContain('only-this-component');
    expect(body).toContain('\\"label\\":\\"my-consumer\\"');
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
    expect(body).toContain('AWS/Lambda');
    const template = Template.fromStack(stack);
    template.hasOutput('MyConsumerDeadLetterQueueUrl', { Value: { Ref: logicalIdOf(queue) } });
    template.hasOutput('MyConsumerDeadLetterQueueArn', {
      Value: { 'Fn::GetAtt': [logicalIdOf(queue), 'Arn'] },
    });
    expect(observability.components.map((c) => c.name)).toEqual(['my-consumer']);
  });

  it('outputs nothing for a component without a dead-letter queue', () => {
    const { stack, observability, fn } = bare();
    observability.observe({ name: 'verify', function: fn });
    expect(Template.fromStack(stack).findOutputs('*')).toEqual({});
  });

  it('refuses a name observed twice, naming the fix', () => {
    const { observability, queue } = bare();
    observability.observe({ name: 'chat-alerts', deadLetterQueue: queue });
    expect(() => observability.observe({ name: 'chat_alerts' })).toThrow(PropError);
    expect(() => observability.observe({ name: 'chat-alerts' })).toThrow(
      /^Observability: name "chat-alerts" is observed twice \(output keys ChatAlertsDeadLetterQueue… must be unique\)\. Give each component its own name\.$/,
    );
  });

  it('refuses a name without a letter or digit', () => {
    const { observability } = bare();
    expect(() => observability.observe({ name: '--' })).toThrow(
      /^Observability: name must hold a letter or digit; got "--"\. Name the component in kebab case/,
    );
  });
});

describe("the stack's dashboard", () => {
  const bodyOf = (overrides: Record<string, unknown>) =>
    dashboardBody(synthStack(overrides).stack.observability);

  it('exists with analytics off: ingress traffic, verify and redrive errors, spool dead letters, skipped deliveries', () => {
    const body = bodyOf({ analytics: false });
    for (const text of [
      'AWS/ApiGateway',
      'RejectedByReason',
      'Reason service=\\\\\\"verify\\\\\\"',
      '\\"label\\":\\"verify\\"',
      '\\"label\\":\\"redrive\\"',
      '\\"label\\":\\"spool\\"',
      'Skipped deliveries by consumer and reason',
    ]) {
      expect(body).toContain(text);
    }
    expect(body).not.toContain('BuildDuration');
    expect(synthStack({ analytics: false }).template.findResources('AWS::CloudWatch::Dashboard')).not.toEqual(
      {},
    );
  });

  it('adds the build metrics with analytics on', () => {
    const body = bodyOf({});
    for (const text of ['BuildDuration', 'BuildsFinished', 'JobQueueWait', '\\"label\\":\\"analytics\\"']) {
      expect(body).toContain(text);
    }
  });

  it('shows every configured consumer', () => {
    const body = bodyOf({
      autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
      chatAlerts: { destinations: [{ name: 'ci-slack', service: 'slack' }] },
      triggers: [{ name: 'github-deploy', kind: 'github' }],
    });
    for (const name of ['chat-alerts', 'autoscaler', 'trigger-relay', 'trigger-github-deploy', 'analytics']) {
      expect(body).toContain(`\\"label\\":\\"${name}\\"`);
    }
  });
});
