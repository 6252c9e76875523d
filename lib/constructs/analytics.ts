import * as path from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ANALYTICS_METRICS, ANALYTICS_SERVICE } from '../../lambda/analytics/metrics';
import { NAMED_QUERIES, renderQuery } from '../../lambda/analytics/queries';
import { RECORD_COLUMNS, RECORD_FAMILIES } from '../../lambda/analytics/record';
import { ANALYTICS_PATTERN } from '../../lambda/analytics/rules';
import { METRICS_NAMESPACE } from '../../lambda/shared/metric-names';
import { analyticsConfigSchema, type AnalyticsConfig } from '../config/analytics';
import type { Alarms } from './alarms';
import { Consumer } from './consumer';
import { KiteFunction } from './kite-function';
import { nagResourceId } from './nag-ids';
import { searchKitebridgeMetrics, type ObservedComponent } from './observability';
import { grantReadOversizedBodies } from './oversized-bodies';
import { checkLogRetentionDays, checkWithSchema, PropError } from './prop-checks';

export interface AnalyticsProps {
  /** The kitebridge bus; the rule takes every Buildkite event on it. */
  readonly bus: events.IEventBus;
  /** Where the dead-letter and delivery-freshness alarms notify. */
  readonly alarms: Alarms;
  /** The `analytics` config, checked against its schema (lib/config/analytics.ts) at synth. */
  readonly config: AnalyticsConfig;
  /** Days to keep the function's and the delivery stream's logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /**
   * The bucket where the verify function stores oversized bodies: the function reads a pointer
   * event's whole body from it (`s3:GetObject` under `oversized/` only).
   */
  readonly oversizedBodies: s3.IBucket;
}

/** The Glue table's partition keys: `dt` (UTC date of `received_at`) and `family`. */
export const PARTITION_KEYS = ['dt', 'family'] as const;
/** Where records land in the bucket, under `dt=YYYY-MM-DD/family=<family>/`. */
export const RECORDS_PREFIX = 'records/';
/** First date the `dt` projection covers. */
export const PROJECTION_START = '2025-01-01';

/** A Glue / Athena identifier from a stack name: lower case, underscores. */
function glueName(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/**
 * The analytics consumer: a rule for every Buildkite event, a function that maps each to a flat
 * record (an oversized delivery's stored body read whole first) and writes it to Firehose, which
 * converts it to Parquet (schema from the Glue table) and writes it to S3 under
 * `records/dt=…/family=…/`; a Glue database and table with partition
 * projection (no crawler); an Athena workgroup with a scanned-bytes cutoff and the named queries;
 * and the build-metric widgets it adds to the stack's dashboard (`observed`). The DLQ and its
 * alarm come with the Consumer.
 */
export class Analytics extends Construct {
  readonly bucket: s3.Bucket;
  readonly queryResults: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly deliveryStream: firehose.DeliveryStream;
  readonly workgroup: athena.CfnWorkGroup;
  readonly namedQueries: Readonly<Record<keyof typeof NAMED_QUERIES, athena.CfnNamedQuery>>;
  readonly function: KiteFunction;
  readonly consumer: Consumer;
  /** Fires when records stop reaching S3 (delivery or Parquet conversion failing). */
  readonly deliveryAlarm: cloudwatch.Alarm;
  /** The function, its dead letters and the build-metric widgets, for the stack's observability. */
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id);
    const { config } = props;
    if (config.infrequentAccessAfterDays > 0 && config.infrequentAccessAfterDays >= config.retentionDays) {
      throw new PropError(
        'Analytics',
        'config.infrequentAccessAfterDays',
        `(${config.infrequentAccessAfterDays}) must be less than retentionDays (${config.retentionDays}): lower it, or 0 keeps records in S3 Standard.`,
      );
    }
    checkWithSchema('Analytics', 'config', analyticsConfigSchema, config);
    checkLogRetentionDays('Analytics', props.logRetentionDays);
    const stack = Stack.of(this);

    this.bucket = new s3.Bucket(this, 'Records', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Analytics history is data people keep: it outlives `cdk destroy`.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'records',
          prefix: RECORDS_PREFIX,
          expiration: Duration.days(config.retentionDays),
          transitions:
            config.infrequentAccessAfterDays > 0
              ? [
                  {
                    storageClass: s3.StorageClass.INFREQUENT_ACCESS,
                    transitionAfter: Duration.days(config.infrequentAccessAfterDays),
                  },
                ]
              : [],
        },
        { id: 'errors', prefix: 'errors/', expiration: Duration.days(30) },
        { id: 'multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Written only by this Firehose stream and read through Athena by IAM principals; CloudTrail data events cover audit needs without a second bucket.',
    });

    this.queryResults = new s3.Bucket(this, 'QueryResults', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
      lifecycleRules: [
        { expiration: Duration.days(config.queryResultsRetentionDays) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(this.queryResults).acknowledge({
      id: 'AwsSolutions-S1',
      reason: `Holds only Athena query results, deleted after ${config.queryResultsRetentionDays} days; Athena and CloudTrail record who ran which query.`,
    });

    const databaseName = glueName(`${stack.stackName}_analytics`);
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: databaseName,
        description: 'kitebridge analytics: one record per Buildkite event',
      },
    });
    const location = `s3://${this.bucket.bucketName}/${RECORDS_PREFIX}`;
    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName,
      tableInput: {
        name: 'records',
        description: 'kitebridge analytics records (schema in docs/analytics.md)',
        tableType: 'EXTERNAL_TABLE',
        parameters: {
          classification: 'parquet',
          EXTERNAL: 'TRUE',
          'parquet.compression': 'SNAPPY',
          // Partition projection: Athena computes partitions from these, so no crawler and no
          // MSCK REPAIR; new days and families are queryable as soon as Firehose writes them.
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': `${PROJECTION_START},NOW`,
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.family.type': 'enum',
          'projection.family.values': RECORD_FAMILIES.join(','),
          'storage.location.template': `${location}dt=\${dt}/family=\${family}/`,
        },
        partitionKeys: PARTITION_KEYS.map((name) => ({ name, type: 'string' })),
        storageDescriptor: {
          location,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          // `family` is a partition key, so it is not a data column.
          columns: RECORD_COLUMNS.filter((c) => c.name !== 'family').map((c) => ({
            name: c.name,
            type: c.type,
            comment: c.doc.slice(0, 255),
          })),
        },
      },
    });
    this.table.addResourceDependency(this.database);

    const streamLogs = new logs.LogGroup(this, 'DeliveryStreamLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const streamRole = new iam.Role(this, 'DeliveryStreamRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'kitebridge analytics delivery stream: write records to S3, read the Glue schema',
    });
    // Least privilege, written out: the Firehose L2 grants its role read/write/delete (and
    // glue:GetSchemaVersion on "*") on whatever it is given. It gets this role without policy
    // updates, and the role gets exactly what Firehose documents for an S3 destination with
    // record format conversion from a Glue table.
    const tableArn = stack.formatArn({
      service: 'glue',
      resource: 'table',
      resourceName: `${databaseName}/records`,
    });
    const streamPolicy = new iam.Policy(this, 'DeliveryStreamPolicy', {
      roles: [streamRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          resources: [this.bucket.bucketArn],
        }),
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
          resources: [this.bucket.arnForObjects('records/*'), this.bucket.arnForObjects('errors/*')],
        }),
        new iam.PolicyStatement({
          actions: ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'],
          resources: [
            stack.formatArn({ service: 'glue', resource: 'catalog' }),
            stack.formatArn({ service: 'glue', resource: 'database', resourceName: databaseName }),
            tableArn,
          ],
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [streamLogs.logGroupArn],
        }),
      ],
    });
    Validations.of(streamPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(stack, this.bucket.arnForObjects('records/*'))}]`,
      reason:
        'Firehose writes objects under generated keys (date, family, random suffix) below the records/ prefix.',
    });
    Validations.of(streamPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(stack, this.bucket.arnForObjects('errors/*'))}]`,
      reason: 'Firehose writes records it could not convert under generated keys below the errors/ prefix.',
    });
    // The L2 (aws-kinesisfirehose, 2.276) supports record format conversion and dynamic
    // partitioning, so no L1 is needed. Partitioning is dynamic with inline jq: Firehose prefix
    // expressions alone can only use the arrival time, not a record field like `family`, and
    // taking `dt` from `received_at` keeps events replayed from the archive in their own day.
    this.deliveryStream = new firehose.DeliveryStream(this, 'DeliveryStream', {
      encryption: firehose.StreamEncryption.awsOwnedKey(),
      destination: new firehose.S3Bucket(this.bucket, {
        role: streamRole.withoutPolicyUpdates(),
        loggingConfig: new firehose.EnableLogging(streamLogs),
        bufferingInterval: Duration.seconds(config.bufferSeconds),
        bufferingSize: Size.mebibytes(64),
        dataOutputPrefix: `${RECORDS_PREFIX}dt=!{partitionKeyFromQuery:dt}/family=!{partitionKeyFromQuery:family}/`,
        errorOutputPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/',
        dynamicPartitioning: { enabled: true },
        processors: [
          firehose.MetadataExtractionProcessor.jq16({ dt: '.received_at[0:10]', family: '.family' }),
        ],
        dataFormatConversion: {
          schemaConfiguration: firehose.SchemaConfiguration.fromCfnTable(this.table),
          inputFormat: firehose.InputFormat.OPENX_JSON,
          outputFormat: firehose.OutputFormat.PARQUET,
        },
      }),
    });
    // Firehose checks its access when the stream is created: the policy must exist first.
    this.deliveryStream.node.addDependency(this.table, streamPolicy);

    this.function = new KiteFunction(this, 'Function', {
      entry: path.join(__dirname, '../../lambda/analytics/handler.ts'),
      // The S3 client (for oversized bodies only) loads on first use, off the cold start.
      codeSplitting: true,
      description: 'kitebridge analytics: one record per Buildkite event to Firehose',
      logRetentionDays: props.logRetentionDays,
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment: {
        DELIVERY_STREAM_NAME: this.deliveryStream.deliveryStreamName,
        OVERSIZED_BUCKET_NAME: props.oversizedBodies.bucketName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_SERVICE_NAME: ANALYTICS_SERVICE,
      },
    });
    this.deliveryStream.grantPutRecords(this.function);
    grantReadOversizedBodies(this.function, props.oversizedBodies, 'the analytics function');

    // Firehose retries S3 delivery for a day and writes records it cannot convert under errors/:
    // either way the newest record in S3 grows old, which is what this watches.
    const freshnessLimit = Math.max(900, 3 * config.bufferSeconds);
    this.deliveryAlarm = props.alarms.add(
      new cloudwatch.Alarm(this, 'DeliveryFreshnessAlarm', {
        alarmDescription: `Analytics records have not reached S3 for over ${freshnessLimit} s: check the delivery stream's errors/ prefix and its CloudWatch logs.`,
        metric: this.deliveryStream.metric('DeliveryToS3.DataFreshness', {
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
        threshold: freshnessLimit,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    this.consumer = new Consumer(this, 'Analytics', {
      bus: props.bus,
      alarms: props.alarms,
      pattern: ANALYTICS_PATTERN,
      receiver: { function: this.function },
      description: 'kitebridge analytics: every Buildkite event to Firehose',
    });

    const resultsLocation = `s3://${this.queryResults.bucketName}/results/`;
    this.workgroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: glueName(`${stack.stackName}-analytics`),
      description: 'kitebridge analytics queries, with a per-query scanned-bytes cutoff',
      recursiveDeleteOption: true,
      state: 'ENABLED',
      workGroupConfiguration: {
        bytesScannedCutoffPerQuery: config.bytesScannedCutoffMb * 1024 * 1024,
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: resultsLocation,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    const queries: Partial<Record<keyof typeof NAMED_QUERIES, athena.CfnNamedQuery>> = {};
    for (const [key, query] of Object.entries(NAMED_QUERIES) as [
      keyof typeof NAMED_QUERIES,
      (typeof NAMED_QUERIES)[keyof typeof NAMED_QUERIES],
    ][]) {
      const named = new athena.CfnNamedQuery(this, `Query${key.charAt(0).toUpperCase()}${key.slice(1)}`, {
        name: query.id,
        description: query.description.slice(0, 1024),
        database: databaseName,
        workGroup: this.workgroup.ref,
        queryString: renderQuery(query, `"${databaseName}"."records"`),
      });
      named.addResourceDependency(this.workgroup);
      queries[key] = named;
    }
    this.namedQueries = queries as Record<keyof typeof NAMED_QUERIES, athena.CfnNamedQuery>;

    this.observed = [
      {
        name: 'analytics',
        function: this.function,
        deadLetterQueue: this.consumer.deadLetterQueue,
        widgets: buildMetricWidgets(),
      },
    ];

    new CfnOutput(this, 'WorkGroupName', {
      key: 'AnalyticsWorkGroup',
      value: this.workgroup.ref,
      description: 'Run the named analytics queries in this Athena workgroup.',
    });
    new CfnOutput(this, 'RecordsBucketName', {
      key: 'AnalyticsRecordsBucket',
      value: this.bucket.bucketName,
      description: 'Analytics records as Parquet; kept after `cdk destroy` (delete it yourself).',
    });
  }
}

/** Build duration, builds finished and job queue wait, from the analytics function's EMF metrics. */
function buildMetricWidgets(): cloudwatch.IWidget[] {
  const analytics = (dimensions: string) => `service,${dimensions} service="${ANALYTICS_SERVICE}"`;
  return [
    new cloudwatch.GraphWidget({
      title: 'Build duration p95 per pipeline (s)',
      left: [searchKitebridgeMetrics(analytics('Pipeline'), ANALYTICS_METRICS.buildDuration, 'p95')],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Builds finished by pipeline and state',
      left: [searchKitebridgeMetrics(analytics('Pipeline,State'), ANALYTICS_METRICS.buildsFinished, 'Sum')],
      stacked: true,
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Job queue wait p95 per queue (s)',
      left: [searchKitebridgeMetrics(analytics('Queue'), ANALYTICS_METRICS.jobQueueWait, 'p95')],
      width: 8,
    }),
  ];
}
