import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { throttleWarning, type TriggerConfig } from '../config';
import {
  GATEWAY_ANSWERS,
  gatewayAnswerBody,
  type GatewayAnswerCode,
} from '../../lambda/shared/gateway-answers';
import { METRICS_NAMESPACE, UNEXPECTED_ERRORS_METRIC } from '../../lambda/shared/metric-names';
import { BUILDKITE_ROUTES, ROUTES, triggerPath } from '../../lambda/shared/routes';
import { toTriggerDefinition } from '../../lambda/shared/triggers';
import { ACCOUNT_API_GATEWAY_LIMITS, ACCOUNT_LAMBDA_LIMITS } from '../capacity';
import { pascalCase } from '../names';
import type { Alarms } from './alarms';
import { KiteFunction } from './kite-function';
import { nagResourceId, SERVERLESS_RULES } from './nag-ids';
import { DASHBOARD_PERIOD, searchKitebridgeMetrics, type ObservedComponent } from './observability';
import { checkInteger, checkLogRetentionDays, checkNumber } from './prop-checks';

export interface IngressProps {
  /** The kitebridge bus verified deliveries are published to. */
  readonly bus: events.IEventBus;
  /** Where the verify function spools events when PutEvents keeps failing (`Bus.spool`). */
  readonly spool: sqs.IQueue;
  /** Where the verify function stores bodies too large for an event, under `oversized/`. */
  readonly oversizedBodies: s3.IBucket;
  /**
   * JSON array of the detail paths the bus's rules match on (`Bus.routingPaths`): the verify
   * function keeps them in the pointer event of an oversized body.
   */
  readonly routingPaths: string;
  /** Where the request-path alarms (verify errors, API 5xx) notify. */
  readonly alarms: Alarms;
  /** Source CIDRs allowed to call the Buildkite routes; empty means any address. */
  readonly webhookIps: readonly string[];
  /** How old (by its timestamp header) a signed delivery may be, in seconds: 1 to 3600. */
  readonly replayWindowSeconds: number;
  /** The largest body accepted, in bytes: 1024 up to Lambda's 6 MB synchronous payload. */
  readonly maxBodyBytes: number;
  /** Days to keep the verify function's and the access logs (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /** The stage's steady rate, requests per second: 1 to the account's default quota (10,000). */
  readonly throttleRateLimit: number;
  /** The stage's burst, requests: 1 to the account's default quota (5,000). */
  readonly throttleBurstLimit: number;
  /** Third-party pipeline triggers served at `POST /triggers/{name}`. @default none */
  readonly triggers?: readonly TriggerConfig[];
  /**
   * Verify environments kept initialised (provisioned concurrency, billed while deployed). Above 0,
   * the function gets a `live` alias on its current version with this provisioned concurrency,
   * and API Gateway invokes the alias.
   * @default 0 (off: API Gateway invokes the function's $LATEST)
   */
  readonly verifyProvisionedConcurrency?: number;
  /**
   * Whether a rotation schedule rotates the webhook secret (`WebhookRotation` with `rotationDays`
   * above 0). Without one, cdk-nag's rule asking for automatic rotation is acknowledged, with why.
   * @default false
   */
  readonly webhookSecretRotatesAutomatically?: boolean;
}

/** Lambda's synchronous invocation payload limit, which the whole proxy event must fit in. */
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The access-log metric filter's count of 429 answers, in the kitebridge namespace. */
export const THROTTLED_REQUESTS_METRIC = 'ThrottledRequests';

/**
 * The public edge: a regional REST API whose resource policy admits only allowlisted source
 * addresses, the webhook secret, and the verify function behind both Buildkite routes.
 */
export class Ingress extends Construct {
  readonly api: apigateway.RestApi;
  readonly secret: secretsmanager.Secret;
  readonly verify: KiteFunction;
  /** The `live` alias API Gateway invokes; only with `verifyProvisionedConcurrency` above 0. */
  readonly verifyAlias?: lambda.Alias;
  readonly accessLogs: logs.LogGroup;
  /** The URL to register in Buildkite (`POST /buildkite`). */
  readonly webhookUrl: string;
  /** Per trigger name: the secret its callers sign with (or send, for kind `token`). */
  readonly triggerSecrets: Record<string, secretsmanager.Secret> = {};
  /** The verify function's errors and the API's traffic, for the stack's observability. */
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: IngressProps) {
    super(scope, id);
    validate(props);

    this.secret = new secretsmanager.Secret(this, 'WebhookSecret', {
      description:
        'kitebridge: the Buildkite webhook token. {"token": "…"}; add "previousToken" while rotating.',
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'token',
        excludePunctuation: true,
        passwordLength: 48,
      },
    });
    // With a schedule (buildkiteApi and rotationDays > 0) the rule is satisfied: nothing to acknowledge.
    if (!props.webhookSecretRotatesAutomatically) {
      Validations.of(this.secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "No rotation schedule: the token must also change in Buildkite's webhook settings. Without buildkiteApi a person does that, with the zero-downtime manual rotation (npm run token, README: Rotate the token); with buildkiteApi and rotationDays 0 the rotation function runs on demand only (npm run rotate).",
      });
    }

    const triggers = props.triggers ?? [];
    for (const trigger of triggers) {
      this.triggerSecrets[trigger.name] = new secretsmanager.Secret(
        this,
        `TriggerSecret${pascalCase(trigger.name)}`,
        {
          description: `kitebridge trigger ${trigger.name} (${trigger.kind}): {"token": "<shared secret>"}. For linear, put Linear's signing secret here; for standard-webhooks, the sender's whsec_… secret.`,
          generateSecretString: {
            secretStringTemplate: '{}',
            generateStringKey: 'token',
            excludePunctuation: true,
            passwordLength: 48,
          },
        },
      );
      Validations.of(this.triggerSecrets[trigger.name] as secretsmanager.Secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The shared secret is also held by the third party (GitHub, Linear, …), so it is rotated by hand; the README gives the steps.',
      });
    }

    this.verify = new KiteFunction(this, 'Verify', {
      entry: path.join(__dirname, '../../lambda/verify/handler.ts'),
      description: 'kitebridge: verifies Buildkite deliveries and publishes them to the bus',
      logRetentionDays: props.logRetentionDays,
      memorySize: 1024,
      timeout: Duration.seconds(10),
      // The SQS spool and S3 body store are imported on first use: keep them out of index.mjs.
      codeSplitting: true,
      environment: {
        EVENT_BUS_NAME: props.bus.eventBusName,
        WEBHOOK_SECRET_ARN: this.secret.secretArn,
        SPOOL_QUEUE_URL: props.spool.queueUrl,
        OVERSIZED_BUCKET_NAME: props.oversizedBodies.bucketName,
        REPLAY_WINDOW_SECONDS: String(props.replayWindowSeconds),
        MAX_BODY_BYTES: String(props.maxBodyBytes),
        ROUTING_PATHS: props.routingPaths,
        ...(triggers.length > 0
          ? {
              TRIGGERS: Stack.of(this).toJsonString(
                triggers.map((t) =>
                  toTriggerDefinition(t, (this.triggerSecrets[t.name] as secretsmanager.Secret).secretArn),
                ),
              ),
            }
          : {}),
      },
    });
    Validations.of(this.verify).acknowledge({
      id: SERVERLESS_RULES.lambdaDlq,
      reason:
        'Invoked only synchronously by API Gateway, so a function DLQ would never receive anything: a failure is the 5xx answer itself, which alarms, and accepted events that PutEvents refused go to the spool.',
    });
    for (const secret of Object.values(this.triggerSecrets)) secret.grantRead(this.verify);
    props.bus.grantPutEventsTo(this.verify);
    this.secret.grantRead(this.verify);
    props.spool.grantSendMessages(this.verify);
    // PutObject alone (grantPut adds tagging, retention and legal-hold actions it never needs).
    this.verify.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [props.oversizedBodies.arnForObjects('oversized/*')],
      }),
    );
    Validations.of(this.verify.role as iam.Role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(Stack.of(this), props.oversizedBodies.arnForObjects('oversized/*'))}]`,
      reason:
        'Oversized bodies are written under keys chosen per request; the grant is PutObject only, under the oversized/ prefix.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-webhooks`,
      description: 'kitebridge: Buildkite webhooks in, EventBridge events out',
      endpointConfiguration: {
        types: [apigateway.EndpointType.REGIONAL],
        ipAddressType: apigateway.IpAddressType.DUAL_STACK,
      },
      policy: resourcePolicy(props.webhookIps, triggers),
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        metricsEnabled: true,
        dataTraceEnabled: false,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: accessLogFormat(),
      },
    });
    // A resource policy change only takes effect with a new deployment.
    this.api.latestDeployment?.addToLogicalId({
      webhookIps: props.webhookIps,
      triggerIps: triggers.map((t) => [t.name, t.sourceIps ?? []]),
    });

    const provisioned = props.verifyProvisionedConcurrency ?? 0;
    if (provisioned > 0) {
      // Provisioned concurrency applies to a version or alias, never $LATEST: the alias follows
      // each deployment's new version, and API Gateway must invoke it to use the warm environments.
      this.verifyAlias = new lambda.Alias(this, 'VerifyLive', {
        aliasName: 'live',
        version: this.verify.currentVersion,
        provisionedConcurrentExecutions: provisioned,
      });
    }
    const integration = new apigateway.LambdaIntegration(this.verifyAlias ?? this.verify, {
      proxy: true,
      allowTestInvoke: false,
    });
    // The trigger route exists only with triggers configured.
    for (const route of Object.values(ROUTES)) {
      if (route === ROUTES.trigger && triggers.length === 0) continue;
      this.api.root.resourceForPath(route).addMethod('POST', integration);
    }

    for (const [code, answer] of Object.entries(GATEWAY_ANSWERS)) {
      for (const responseType of answer.responseTypes) {
        this.api.addGatewayResponse(`Answer${responseType}`, {
          type: apigateway.ResponseType.of(responseType),
          statusCode: String(answer.status),
          templates: { 'application/json': gatewayAnswerBody(code as GatewayAnswerCode) },
          responseHeaders: { 'Content-Type': "'application/json'" },
        });
      }
    }

    this.alarmOnRequestPathErrors(props.alarms);
    this.alarmOnThrottledDeliveries(props.alarms);
    const warning = throttleWarning(props);
    if (warning) Annotations.of(this).addWarningV2('kitebridge:throttle-refuses-burst', warning);

    this.webhookUrl = this.api.urlForPath(ROUTES.buildkite);
    acknowledgeApiFindings(this.api);
    this.observed = [{ name: 'verify', function: this.verify, widgets: this.dashboardWidgets() }];

    // RestApi adds an output of its own (the stage's root URL): give it a stable key as well.
    const endpoint = this.api.node.tryFindChild('Endpoint');
    if (endpoint instanceof CfnOutput) endpoint.overrideLogicalId('ApiEndpoint');

    new CfnOutput(this, 'WebhookUrl', {
      key: 'WebhookUrl',
      value: this.webhookUrl,
      description: 'Register this URL in Buildkite (token or signature mode).',
    });
    new CfnOutput(this, 'PathTokenUrl', {
      key: 'PathTokenUrl',
      value: `${this.webhookUrl}/<token>`,
      description:
        'For senders that cannot set headers (Test Engine): replace <token> with the webhook token.',
    });
    for (const trigger of triggers) {
      const id = pascalCase(trigger.name);
      new CfnOutput(this, `Trigger${id}Url`, {
        key: `Trigger${id}Url`,
        value: this.api.urlForPath(triggerPath(trigger.name)),
        description: `Where ${trigger.name}'s caller POSTs (${trigger.kind}).`,
      });
      new CfnOutput(this, `Trigger${id}SecretArn`, {
        key: `Trigger${id}SecretArn`,
        value: (this.triggerSecrets[trigger.name] as secretsmanager.Secret).secretArn,
        description: `The shared secret of trigger ${trigger.name} ("token" field).`,
      });
    }
    new CfnOutput(this, 'WebhookSecretArn', {
      key: 'WebhookSecretArn',
      value: this.secret.secretArn,
      description:
        'Read the token: aws secretsmanager get-secret-value --secret-id <arn> --query SecretString --output text',
    });
  }

  /** Requests, 4xx and 5xx; latency; rejected deliveries by reason. */
  private dashboardWidgets(): cloudwatch.IWidget[] {
    const period = DASHBOARD_PERIOD;
    return [
      new cloudwatch.GraphWidget({
        title: 'Webhook API requests, 4xx, 5xx',
        left: [
          this.api.metricCount({ period, label: 'requests' }),
          this.api.metricClientError({ period, label: '4xx' }),
          this.api.metricServerError({ period, label: '5xx' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Webhook API latency (ms)',
        left: [
          this.api.metricLatency({ period, statistic: 'p50', label: 'p50' }),
          this.api.metricLatency({ period, statistic: 'p99', label: 'p99' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Rejected deliveries (4xx) by reason',
        left: [searchKitebridgeMetrics('service,Reason service="verify"', 'RejectedByReason', 'Sum')],
        stacked: true,
        width: 8,
      }),
    ];
  }

  /**
   * Every 5xx on the request path is a delivery the sender was refused: a defect the verify
   * function caught (`UnexpectedErrors`), a crash or timeout it did not (Lambda `Errors`), or
   * anything API Gateway answered 5xx (integration failures included). Each alarms at once.
   */
  private alarmOnRequestPathErrors(alarms: Alarms): void {
    const oneMinuteSum = { period: Duration.minutes(1), statistic: 'Sum' };
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric) =>
      alarms.onAnyOccurrence(this, id, description, metric);
    alarm(
      'VerifyUnexpectedErrorsAlarm',
      'The verify function hit an unexpected error and answered 503: search its log for "Unexpected error" (name, message and stack are logged).',
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: UNEXPECTED_ERRORS_METRIC,
        dimensionsMap: { service: 'verify' },
        ...oneMinuteSum,
      }),
    );
    alarm(
      'VerifyErrorsAlarm',
      'The verify function crashed or timed out: the sender got a 5xx from API Gateway. Check the function log and its duration.',
      this.verify.metricErrors(oneMinuteSum),
    );
    alarm(
      'Api5xxAlarm',
      'The webhook API answered 5xx: those deliveries were refused (Buildkite does not retry). Check the verify function alarms and log.',
      this.api.metricServerError(oneMinuteSum),
    );
  }

  /**
   * Every throttled request is a lost delivery too (Buildkite does not retry): a 429 from the stage
   * or account token bucket, or a verify invocation Lambda throttled (out of concurrency, or
   * scaling faster than it may). REST APIs publish no throttle metric (only 4XXError, which also
   * counts every 401 and 403), so the 429s are counted from the access log's `status`.
   */
  private alarmOnThrottledDeliveries(alarms: Alarms): void {
    const oneMinuteSum = { period: Duration.minutes(1), statistic: 'Sum' };
    const throttled = new logs.MetricFilter(this, 'ThrottledRequests', {
      logGroup: this.accessLogs,
      filterPattern: logs.FilterPattern.any(
        logs.FilterPattern.stringValue('$.status', '=', '429'),
        logs.FilterPattern.numberValue('$.status', '=', 429),
      ),
      metricNamespace: METRICS_NAMESPACE,
      metricName: THROTTLED_REQUESTS_METRIC,
      metricValue: '1',
    });
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric) =>
      alarms.onAnyOccurrence(this, id, description, metric);
    alarm(
      'Api429Alarm',
      "The webhook API answered 429 (throttled): those deliveries are lost, Buildkite does not retry. Raise throttleRateLimit / throttleBurstLimit, or the account's API Gateway quota (README: Capacity).",
      throttled.metric(oneMinuteSum),
    );
    alarm(
      'VerifyThrottlesAlarm',
      "Lambda throttled the verify function: the sender got a 5xx and the delivery is lost. Raise the account's Lambda concurrency or reserve concurrency for the function (README: Capacity).",
      this.verify.metricThrottles(oneMinuteSum),
    );
  }
}

function validate(props: IngressProps): void {
  checkInteger('Ingress', 'replayWindowSeconds', props.replayWindowSeconds, 1, 3600, 'an hour at most');
  checkInteger(
    'Ingress',
    'maxBodyBytes',
    props.maxBodyBytes,
    1024,
    LAMBDA_SYNC_PAYLOAD_BYTES,
    "the body travels in Lambda's 6 MB synchronous payload",
  );
  checkLogRetentionDays('Ingress', props.logRetentionDays);
  checkNumber(
    'Ingress',
    'throttleRateLimit',
    props.throttleRateLimit,
    1,
    ACCOUNT_API_GATEWAY_LIMITS.rateLimit,
    "API Gateway's default account rate per region",
  );
  checkInteger(
    'Ingress',
    'throttleBurstLimit',
    props.throttleBurstLimit,
    1,
    ACCOUNT_API_GATEWAY_LIMITS.burstLimit,
    "API Gateway's default account burst per region",
  );
  checkInteger(
    'Ingress',
    'verifyProvisionedConcurrency',
    props.verifyProvisionedConcurrency ?? 0,
    0,
    ACCOUNT_LAMBDA_LIMITS.concurrency,
    "0 is off; the account's default Lambda concurrency bounds it",
  );
}

/**
 * Allow invoke; then, when an allowlist is set, deny the Buildkite routes to every other
 * address, and likewise each trigger's path to addresses outside its own list.
 */
export function resourcePolicy(
  webhookIps: readonly string[],
  triggers: readonly Pick<TriggerConfig, 'name' | 'sourceIps'>[] = [],
): iam.PolicyDocument {
  const statements = [
    new iam.PolicyStatement({
      effect: iam.Effect.ALLOW,
      principals: [new iam.AnyPrincipal()],
      actions: ['execute-api:Invoke'],
      resources: ['execute-api:/*'],
    }),
  ];
  if (webhookIps.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'BuildkiteSourceIpsOnly',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: BUILDKITE_ROUTES.map((route) => `execute-api:/*/*/${route}`),
        conditions: { NotIpAddress: { 'aws:SourceIp': [...webhookIps] } },
      }),
    );
  }
  for (const trigger of triggers) {
    if (!trigger.sourceIps || trigger.sourceIps.length === 0) continue;
    statements.push(
      new iam.PolicyStatement({
        sid: `Trigger${pascalCase(trigger.name)}SourceIpsOnly`,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [`execute-api:/*/*${triggerPath(trigger.name)}`],
        conditions: { NotIpAddress: { 'aws:SourceIp': [...trigger.sourceIps] } },
      }),
    );
  }
  return new iam.PolicyDocument({ statements });
}

/** JSON access log lines. `resourcePath` (`/buildkite/{urlToken}`), never `path`: the path may hold a token. */
function accessLogFormat(): apigateway.AccessLogFormat {
  const F = apigateway.AccessLogField;
  return apigateway.AccessLogFormat.custom(
    JSON.stringify({
      requestId: F.contextRequestId(),
      requestTime: F.contextRequestTime(),
      sourceIp: F.contextIdentitySourceIp(),
      userAgent: F.contextIdentityUserAgent(),
      httpMethod: F.contextHttpMethod(),
      resourcePath: F.contextResourcePath(),
      status: F.contextStatus(),
      responseLength: F.contextResponseLength(),
      responseLatency: F.contextResponseLatency(),
      integrationLatency: F.contextIntegrationLatency(),
      errorType: F.contextErrorResponseType(),
      xrayTraceId: F.contextXrayTraceId(),
    }),
  );
}

function acknowledgeApiFindings(api: apigateway.RestApi): void {
  const acks: [string, string][] = [
    [
      'AwsSolutions-APIG2',
      'The body must reach the verify function byte for byte (the HMAC covers the raw bytes); it validates the JSON itself after authenticating.',
    ],
    [
      'AwsSolutions-APIG3',
      "The resource policy admits only Buildkite's published source addresses and the stage is throttled; a WAF web ACL can be attached to the stage by operators who want one.",
    ],
    [
      'AwsSolutions-APIG4',
      'Buildkite cannot sign requests with IAM or Cognito: every request is authenticated by the verify function (constant-time token or HMAC signature).',
    ],
    [
      'AwsSolutions-COG4',
      'Buildkite cannot present Cognito tokens: every request is authenticated by the verify function (constant-time token or HMAC signature).',
    ],
    [
      'AwsSolutions-APIG6',
      'Execution logging would need an account-wide CloudWatch role and can log request paths that hold tokens; JSON access logs (resource path only) are enabled instead.',
    ],
  ];
  for (const [id, reason] of acks) Validations.of(api).acknowledge({ id, reason });
}
