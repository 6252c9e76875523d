import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Analytics } from '../../../lib/constructs/analytics';
import { analyticsConfigSchema, type AnalyticsConfig } from '../../../lib/config/analytics';
import { NAMED_QUERIES } from '../../../lambda/analytics/queries';
import { RECORD_FAMILIES } from '../../../lambda/analytics/record';
import type { IConstruct } from 'constructs';
import {
  acknowledgements,
  buildStack,
  roleOfFunction,
  statementsOfRole,
  logicalIdOf,
  asList,
  readsOversizedBodies,
  PRIVATE_ENCRYPTED_BUCKET,
  s3StatementsOf,
} from '../helpers';

const defaults: AnalyticsConfig = analyticsConfigSchema.parse({}) as AnalyticsConfig;

function build(config: Partial<AnalyticsConfig> = {}) {
  // The stack without its default analytics consumer, so this test's own takes its place.
  const { stack } = buildStack({ analytics: false });
  const analytics = new Analytics(stack, 'Analytics', {
    bus: stack.bus.bus,
    alarms: stack.alarms,
    config: { ...defaults, ...config },
    logRetentionDays: 30,
    oversizedBodies: stack.bus.oversizedBodies,
  });
  stack.observability.observe(...analytics.observed);
  return { stack, analytics, template: Template.fromStack(stack) };
}

const { stack, analytics, template } = build();

describe('Analytics construct', () => {
  it('creates an encrypted delivery stream that writes Parquet, partitioned by dt and family, from the Glue table', () => {
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        BucketARN: { 'Fn::GetAtt': [logicalIdOf(analytics.bucket), 'Arn'] },
        Prefix: 'records/dt=!{partitionKeyFromQuery:dt}/family=!{partitionKeyFromQuery:family}/',
        ErrorOutputPrefix: Match.stringLikeRegexp('^errors/!\\{firehose:error-output-type\\}/'),
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 64 },
        DynamicPartitioningConfiguration: { Enabled: true },
        ProcessingConfiguration: {
          Enabled: true,
          Processors: Match.arrayWith([
            Match.objectLike({
              Type: 'MetadataExtraction',
              Parameters: Match.arrayWith([
                {
                  ParameterName: 'MetadataExtractionQuery',
                  ParameterValue: '{"dt":.received_at[0:10],"family":.family}',
                },
              ]),
            }),
          ]),
        },
        DataFormatConversionConfiguration: Match.objectLike({
          Enabled: true,
          InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: Match.anyValue() } },
          OutputFormatConfiguration: { Serializer: { ParquetSerDe: Match.anyValue() } },
          SchemaConfiguration: Match.objectLike({
            DatabaseName: 'kitebridge_analytics',
            TableName: { Ref: logicalIdOf(analytics.table) },
            VersionId: 'LATEST',
          }),
        }),
        CloudWatchLoggingOptions: Match.objectLike({ Enabled: true }),
      }),
    });
  });

  it('keeps records in a private, encrypted, TLS-only bucket with a lifecycle rule', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...PRIVATE_ENCRYPTED_BUCKET,
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'records',
            Prefix: 'records/',
            ExpirationInDays: 400,
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 90 }],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalIdOf(analytics.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({ LifecycleConfiguration: Match.anyValue() }),
      DeletionPolicy: 'Retain',
    });
  });

  it('leaves out the Standard-IA transition when infrequentAccessAfterDays is 0', () => {
    const t = build({ infrequentAccessAfterDays: 0, retentionDays: 30 }).template;
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'records', ExpirationInDays: 30, Transitions: Match.absent() }),
        ]),
      },
    });
  });

  it('rejects a transition after the expiry at synth, naming both values', () => {
    expect(() => build({ infrequentAccessAfterDays: 400, retentionDays: 100 })).toThrow(
      /infrequentAccessAfterDays \(400\) must be less than retentionDays \(100\)/,
    );
  });

  it('defines the Glue table with partition projection over dt and family, no crawler', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'records',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [
          { Name: 'dt', Type: 'string' },
          { Name: 'family', Type: 'string' },
        ],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': Match.stringLikeRegexp(',NOW$'),
          'projection.family.type': 'enum',
          'projection.family.values': RECORD_FAMILIES.join(','),
          'storage.location.template': Match.anyValue(),
        }),
        StorageDescriptor: Match.objectLike({
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        }),
      }),
    });
    const columns = Object.values(template.findResources('AWS::Glue::Table'))[0]?.Properties.TableInput
      .StorageDescriptor.Columns as { Name: string }[];
    const types = Object.fromEntries(
      (columns as { Name: string; Type: string }[]).map((c) => [c.Name, c.Type]),
    );
    expect(types).toMatchObject({
      schema_version: 'int',
      dedupe_key: 'string',
      occurred_at: 'timestamp',
      build_duration_s: 'double',
      queue_wait_s: 'double',
      job_retried: 'boolean',
    });
    expect(types.family).toBeUndefined();
    // Columns added after version 1 go at the end, nullable, so older Parquet files still read.
    expect(columns.slice(-4).map((c) => c.Name)).toEqual([
      'oversized',
      'monitor_type',
      'test_id',
      'test_url',
    ]);
    expect(types).toMatchObject({ monitor_type: 'string', test_id: 'string', test_url: 'string' });
    template.resourceCountIs('AWS::Glue::Crawler', 0);
    template.resourceCountIs('AWS::Glue::Database', 1);
  });

  it('creates an Athena workgroup with a scanned-bytes cutoff and encrypted results', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        BytesScannedCutoffPerQuery: 1024 * 1024 * 1024,
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: Match.objectLike({ EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } }),
      }),
    });
    const t = build({ bytesScannedCutoffMb: 10 }).template;
    t.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 10 * 1024 * 1024 }),
    });
  });

  it.each(Object.values(NAMED_QUERIES))('stores the named query $id in the workgroup', (query) => {
    template.hasResourceProperties('AWS::Athena::NamedQuery', {
      Name: query.id,
      WorkGroup: { Ref: logicalIdOf(analytics.workgroup) },
      QueryString: Match.stringLikeRegexp('"kitebridge_analytics"\\."records"'),
    });
  });

  it("adds its EMF build metrics to the stack's dashboard, beside ingress health, errors and DLQ depths", () => {
    const body = JSON.stringify(
      stack.resolve(
        (
          template.findResources('AWS::CloudWatch::Dashboard') as Record<
            string,
            { Properties: { DashboardBody: unknown } }
          >
        )[logicalIdOf(stack.observability.dashboard)]?.Properties.DashboardBody,
      ),
    );
    for (const text of [
      'BuildDuration',
      'BuildsFinished',
      'JobQueueWait',
      'RejectedByReason',
      'Reason service=\\\\\\"verify\\\\\\"',
      'AWS/ApiGateway',
      '4XXError',
      '5XXError',
      'Latency',
      'AWS/Lambda',
      'Errors',
      'ApproximateNumberOfMessagesVisible',
      "SEARCH('{kitebridge,service,Reason} MetricName=",
      'Skipped deliveries by consumer and reason',
    ]) {
      expect(body).toContain(text);
    }
  });

  it('is one observed component: its function, its dead letters and its build widgets', () => {
    expect(analytics.observed).toEqual([
      {
        name: 'analytics',
        function: analytics.function,
        deadLetterQueue: analytics.consumer.deadLetterQueue,
        widgets: expect.any(Array),
      },
    ]);
    template.hasOutput('AnalyticsDeadLetterQueueUrl', {
      Value: { Ref: logicalIdOf(analytics.consumer.deadLetterQueue) },
    });
  });

  it('alarms when records stop reaching S3, notifying the alarm topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DeliveryToS3.DataFreshness',
      Namespace: 'AWS/Firehose',
      Dimensions: [{ Name: 'DeliveryStreamName', Value: { Ref: logicalIdOf(analytics.deliveryStream) } }],
      Threshold: Math.max(900, 3 * defaults.bufferSeconds),
      AlarmActions: [{ Ref: logicalIdOf(stack.alarms.topic) }],
    });
  });

  it('subscribes the function to every Buildkite event, with a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['buildkite'] },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
  });

  it('gives the delivery stream only what Firehose documents: no delete, no wildcard actions', () => {
    const statements = statementsOfRole(
      template,
      logicalIdOf(analytics.node.findChild('DeliveryStreamRole')),
    );
    const actions = statements.flatMap((s) => asList(s.Action)).sort();
    expect(actions).toEqual(
      [
        'glue:GetTable',
        'glue:GetTableVersion',
        'glue:GetTableVersions',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:AbortMultipartUpload',
        's3:GetBucketLocation',
        's3:GetObject',
        's3:ListBucket',
        's3:ListBucketMultipartUploads',
        's3:PutObject',
      ].sort(),
    );
    expect(statements.every((s) => !asList(s.Resource).includes('*'))).toBe(true);
  });

  it('lets the function put records on its stream only', () => {
    const fnId = logicalIdOf(analytics.function);
    const statements = statementsOfRole(template, roleOfFunction(template, fnId));
    const firehose = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('firehose:')));
    expect(firehose).toEqual([
      expect.objectContaining({
        Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        Resource: { 'Fn::GetAtt': [logicalIdOf(analytics.deliveryStream), 'Arn'] },
      }),
    ]);
    for (const s of statements) {
      if (asList(s.Resource).includes('*'))
        expect(asList(s.Action).every((a) => a.startsWith('xray:'))).toBe(true);
    }
  });

  it('gets stored oversized bodies only: s3:GetObject under oversized/ of the bodies bucket', () => {
    const fnId = logicalIdOf(analytics.function);
    const statements = statementsOfRole(template, roleOfFunction(template, fnId));
    expect(s3StatementsOf(statements)).toEqual([
      readsOversizedBodies(logicalIdOf(stack.bus.oversizedBodies)),
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          OVERSIZED_BUCKET_NAME: { Ref: logicalIdOf(stack.bus.oversizedBodies) },
          DELIVERY_STREAM_NAME: { Ref: logicalIdOf(analytics.deliveryStream) },
        }),
      },
    });
  });

  it('acknowledges the oversized/* wildcard on the function role only, with a reason', () => {
    const acks = acknowledgements(analytics.function.role as IConstruct).filter((a) =>
      a.id.includes('/oversized/*'),
    );
    expect(acks).toEqual([
      expect.objectContaining({
        path: analytics.function.role?.node.path,
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(stack.bus.oversizedBodies)}.Arn>/oversized/*]`,
        reason: expect.stringMatching(/only GetObject.*oversized\//),
      }),
    ]);
  });

  it('passes AwsSolutions with only scoped acknowledgements', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(stack as Stack);
    const findings = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`),
    );
    expect(findings).toEqual([]);
  });
});

describe('props bounds (checked at synth)', () => {
  const probe = (config: Partial<AnalyticsConfig>, logRetentionDays = 30) => {
    const { stack: s } = buildStack({ analytics: false });
    return () =>
      new Analytics(s, 'Probe', {
        bus: s.bus.bus,
        alarms: s.alarms,
        config: { ...defaults, ...config },
        logRetentionDays,
        oversizedBodies: s.bus.oversizedBodies,
      });
  };

  it('rejects a log retention CloudWatch does not offer, naming the fix', () => {
    expect(probe({}, 100)).toThrow(
      /^Analytics: logRetentionDays must be one of CloudWatch Logs' retention periods .*; got 100\. Pick the nearest of those days\.$/,
    );
  });

  it.each<[string, Partial<AnalyticsConfig>, RegExp]>([
    [
      'a Firehose buffer under 60 s',
      { bufferSeconds: 59 },
      /^Analytics: config\.bufferSeconds .*60.*\. Fix it as for the same key in cdk\.json/,
    ],
    [
      'a Firehose buffer above 900 s',
      { bufferSeconds: 901 },
      /^Analytics: config\.bufferSeconds must be at most 900; got 901\. Fix it as for the same key in cdk\.json/,
    ],
    [
      "a scan cutoff under Athena's 10 MB",
      { bytesScannedCutoffMb: 9 },
      /^Analytics: config\.bytesScannedCutoffMb .*10/,
    ],
    [
      'no query-result retention',
      { queryResultsRetentionDays: 0 },
      /^Analytics: config\.queryResultsRetentionDays .*1/,
    ],
    [
      'no record retention',
      { retentionDays: 0, infrequentAccessAfterDays: 0 },
      /^Analytics: config\.retentionDays .*1/,
    ],
  ])('rejects %s, naming the key and its bound', (_name, config, message) => {
    expect(probe(config)).toThrow(message);
  });
});
