/** The Bus construct in the stack's spine: bus, archive, routing paths, spool, oversized-body bucket, event tail, outputs. */
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Bus } from '../../../lib/constructs/bus';
import {
  buildStack,
  getAtt,
  idsOf,
  joined,
  logicalIdOf,
  PRIVATE_ENCRYPTED_BUCKET,
  ref,
  SPINE,
  synthStack,
} from '../helpers';

const defaults = synthStack(SPINE);
const template = defaults.template;
const ids = idsOf(defaults.stack);

describe('pointer routing', () => {
  it('gives the verify function the detail paths of the built-in rules on the bus, and only those', () => {
    const { stack, template: t } = synthStack({
      ...SPINE,
      autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
    });
    const verify = t.toJSON().Resources[logicalIdOf(stack.ingress.verify)].Properties.Environment.Variables;
    // The autoscaler's queue filter; the tail rule and the spine match on source alone.
    expect(JSON.parse(verify.ROUTING_PATHS)).toEqual([
      ['agent', 'meta_data'],
      ['job', 'agent_query_rules'],
    ]);
  });

  it('includes the paths of a consumer added after the ingress was built', () => {
    const built = buildStack();
    built.stack.addConsumer('Late', {
      pattern: { source: ['buildkite'], detail: { build: { meta_data: { team: ['core'] } } } },
      receiver: {
        target: (dlq) =>
          new targets.SqsQueue(new sqs.Queue(built.stack, 'LateInbox'), { deadLetterQueue: dlq }),
      },
    });
    const t = Template.fromStack(built.stack);
    const env =
      t.toJSON().Resources[logicalIdOf(built.stack.ingress.verify)].Properties.Environment.Variables;
    expect(JSON.parse(env.ROUTING_PATHS)).toContainEqual(['build', 'meta_data', 'team']);
  });
});

describe('bus', () => {
  it('is one custom event bus', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
  });

  it('archives every kitebridge event for 30 days by default', () => {
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: getAtt(ids.bus),
      RetentionDays: 30,
      EventPattern: { source: ['buildkite', 'kitebridge.trigger', 'kitebridge.health'] },
    });
  });

  it('archives for archiveRetentionDays', () => {
    synthStack({ archiveRetentionDays: 7 }).template.hasResourceProperties('AWS::Events::Archive', {
      RetentionDays: 7,
    });
  });

  it('archives forever with archiveRetentionDays 0 (no retention set; CloudFormation reads 0 as indefinite)', () => {
    const archives = synthStack({ archiveRetentionDays: 0 }).template.findResources('AWS::Events::Archive');
    const archive = Object.values(archives)[0];
    expect(archive?.Properties.SourceArn).toBeDefined();
    // The Archive L2 renders an unset retention as 0, which CloudFormation documents as "retain indefinitely".
    expect([undefined, 0]).toContain(archive?.Properties.RetentionDays);
  });
});

describe('spool', () => {
  it('is an SSE-SQS encrypted queue that moves poison messages to a dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.spoolDeadLetters), maxReceiveCount: Match.anyValue() },
    });
    expect(template.toJSON().Resources[ids.spool].Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(ids.spoolDeadLetters),
      maxReceiveCount: expect.any(Number),
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: Match.absent(),
    });
  });

  it.each([
    ['spool', () => ids.spool],
    ['spool dead-letter queue', () => ids.spoolDeadLetters],
  ])('the %s refuses requests without TLS', (_name, id) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(id())],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('is drained by redrive, which reports partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(ids.spool),
      FunctionName: ref(ids.redrive),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('has a visibility timeout at least six times the redrive timeout (AWS guidance for SQS sources)', () => {
    const resources = template.toJSON().Resources;
    const visibility = resources[ids.spool].Properties.VisibilityTimeout as number;
    const timeout = resources[ids.redrive].Properties.Timeout as number;
    expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('alarms on the first message in its dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.spoolDeadLetters, 'QueueName') }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      AlarmActions: [ref(ids.topic)],
    });
  });

  it('alarms when messages wait in it too long', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.spool, 'QueueName') }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: Match.anyValue(),
      AlarmActions: [ref(ids.topic)],
    });
  });
});

describe('oversized-body bucket', () => {
  it('is encrypted, private and owner-enforced', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...PRIVATE_ENCRYPTED_BUCKET,
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('expires objects after 30 days by default', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 30, Status: 'Enabled' }] },
    });
  });

  it('expires objects after oversizedRetentionDays', () => {
    synthStack({ oversizedRetentionDays: 90 }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
    });
  });

  it('follows archiveRetentionDays when oversizedRetentionDays is unset, so archived pointers stay readable', () => {
    synthStack({ archiveRetentionDays: 7 }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 7, Status: 'Enabled' }] },
    });
  });

  it('keeps objects forever with oversizedRetentionDays 0', () => {
    synthStack({ oversizedRetentionDays: 0 }).template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: Match.anyValue(),
      LifecycleConfiguration: Match.absent(),
    });
  });

  it('denies every request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(ids.bucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [getAtt(ids.bucket), { 'Fn::Join': ['', [getAtt(ids.bucket), '/*']] }],
          },
        ]),
      },
    });
  });
});

describe('event tail', () => {
  it('copies every kitebridge event into a log group by default', () => {
    expect(ids.tailLogs).toBeDefined();
    const tailLogs = ids.tailLogs as string;
    const targetsCapture = new Capture();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: ref(ids.bus),
      EventPattern: { source: ['buildkite', 'kitebridge.trigger', 'kitebridge.health'] },
      Targets: targetsCapture,
    });
    const ruleTargets = targetsCapture.asArray();
    expect(ruleTargets).toHaveLength(1);
    expect(joined(ruleTargets[0].Arn)).toMatch(/^arn:/);
    expect(joined(ruleTargets[0].Arn).endsWith(`:log-group:\${${JSON.stringify(ref(tailLogs))}}`)).toBe(true);
  });

  it('lets EventBridge write to the tail log group through its resource policy', () => {
    const tailLogs = ids.tailLogs as string;
    const document = new Capture();
    template.resourceCountIs('AWS::Logs::ResourcePolicy', 1);
    template.hasResourceProperties('AWS::Logs::ResourcePolicy', { PolicyDocument: document });
    const policy = JSON.parse(
      joined(document.asObject()).replace(`\${${JSON.stringify(getAtt(tailLogs))}}`, 'TAIL_LOG_GROUP_ARN'),
    );
    expect(policy.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: 'TAIL_LOG_GROUP_ARN',
      },
    ]);
  });

  it('is absent with tailEvents false', () => {
    const { stack, template: t } = synthStack({ ...SPINE, tailEvents: false });
    expect(stack.bus.tailLogGroup).toBeUndefined();
    t.resourceCountIs('AWS::Events::Rule', 0);
    t.resourceCountIs('AWS::Logs::ResourcePolicy', 0);
    // Only the two functions' log groups and the access logs remain.
    t.resourceCountIs('AWS::Logs::LogGroup', 3);
    expect(t.findOutputs('TailLogGroup')).toEqual({});
  });

  it.each([
    ['default', {}],
    ['tailEvents false', { tailEvents: false }],
    ['with an alarm email', { alarmEmail: 'ops@example.com' }],
  ])('needs no custom resources (%s)', (_name, overrides) => {
    const types = Object.values(synthStack(overrides).template.toJSON().Resources).map(
      (r) => (r as { Type: string }).Type,
    );
    expect(
      types.filter((type) => type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource'),
    ).toEqual([]);
  });
});

describe('outputs', () => {
  it.each([
    ['EventBusName', () => ref(ids.bus)],
    ['ArchiveName', () => ref(ids.archive)],
    ['TailLogGroup', () => ref(ids.tailLogs as string)],
  ])('%s', (key, value) => {
    template.hasOutput(key, { Value: value(), Description: Match.stringLikeRegexp('\\S') });
  });
});

describe('props bounds (checked at synth)', () => {
  const props = {
    archiveRetentionDays: 30,
    oversizedRetentionDays: 30,
    logRetentionDays: 30,
    tailEvents: true,
  };
  const probe = (overrides: Partial<typeof props>) => {
    const { stack } = buildStack(SPINE);
    return () => new Bus(stack, 'Probe', { alarms: stack.alarms, ...props, ...overrides });
  };

  it.each<[string, Partial<typeof props>, RegExp]>([
    [
      'a negative archive retention',
      { archiveRetentionDays: -1 },
      /^Bus: archiveRetentionDays must be a whole number from 0 to 36500 \(0 keeps them forever\); got -1\. Pass a value in that range\.$/,
    ],
    [
      'a fractional archive retention',
      { archiveRetentionDays: 1.5 },
      /archiveRetentionDays must be a whole number/,
    ],
    [
      'an oversized retention above 100 years',
      { oversizedRetentionDays: 36501 },
      /^Bus: oversizedRetentionDays must be a whole number from 0 to 36500/,
    ],
    [
      'a log retention CloudWatch does not offer',
      { logRetentionDays: 31 },
      /^Bus: logRetentionDays must be one of CloudWatch Logs' retention periods \(1, 3, 5, .*3653\); got 31\. Pick the nearest of those days\.$/,
    ],
  ])('rejects %s, naming the prop, the bound and the fix', (_name, overrides, message) => {
    expect(probe(overrides)).toThrow(message);
  });

  it('accepts 0 (forever) and the longest retention', () => {
    expect(
      probe({ archiveRetentionDays: 0, oversizedRetentionDays: 36500, logRetentionDays: 3653 }),
    ).not.toThrow();
  });
});
