/** The alarm topic in the stack's spine. */
import { Match } from 'aws-cdk-lib/assertions';
import { Stack } from 'aws-cdk-lib';
import { Alarms } from '../../../lib/constructs/alarms';
import { SERVERLESS_RULES } from '../../../lib/constructs/nag-ids';
import { acknowledgements, idsOf, logicalIdOf, ref, SPINE, synthStack, testApp } from '../helpers';

const defaults = synthStack(SPINE);
const template = defaults.template;
const ids = idsOf(defaults.stack);

describe('alarm topic', () => {
  it('is one SNS topic that requires TLS', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(ids.topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('has no subscription without alarmEmail', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('subscribes alarmEmail', () => {
    const { stack, template: t } = synthStack({ alarmEmail: 'ops@example.com' });
    t.resourceCountIs('AWS::SNS::Subscription', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: ref(logicalIdOf(stack.alarms.topic)),
    });
  });

  it('receives both ALARM and OK from every alarm', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: [ref(ids.topic)], OKActions: [ref(ids.topic)] });
    }
  });
});

describe('props bounds (checked at synth)', () => {
  it('rejects an email that is not an address, naming the fix', () => {
    const stack = new Stack(testApp(), 'Mail');
    expect(() => new Alarms(stack, 'Alarms', { email: 'ops at example' })).toThrow(
      /^Alarms: email must be an email address \(name@example\.com\); got "ops at example"\. Fix it, or leave it out for no subscription\.$/,
    );
  });

  it('acknowledges the Serverless redrive-policy finding on the email subscription only', () => {
    const stack = new Stack(testApp(), 'Mail');
    const alarms = new Alarms(stack, 'Alarms', { email: 'ops@example.com' });
    const acks = acknowledgements(alarms).map((a) => [a.id, a.path]);
    expect(acks).toEqual([[SERVERLESS_RULES.snsRedrivePolicy, 'Mail/Alarms/Topic/ops@example.com']]);
  });
});
