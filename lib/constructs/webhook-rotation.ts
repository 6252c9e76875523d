import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { VERIFY_SECRET_CACHE_SECONDS } from '../../lambda/verify/token-source';
import { MIN_ROTATION_GRACE_MINUTES } from '../config/buildkite-api';
import type { Alarms } from './alarms';
import { KiteFunction } from './kite-function';
import { SERVERLESS_RULES } from './nag-ids';
import type { ObservedComponent } from './observability';

export interface WebhookRotationProps {
  /** The webhook secret the verify function reads (`Ingress.secret`). */
  readonly webhookSecret: secretsmanager.Secret;
  /** The Buildkite API token secret (`BuildkiteApi.secret`); the token needs the notification services scopes. */
  readonly apiTokenSecret: secretsmanager.ISecret;
  readonly organization: string;
  /** The webhook's URL and description in Buildkite: how the function finds it. */
  readonly webhookUrl: string;
  readonly webhookDescription: string;
  /** Days between automatic rotations; 0 leaves only on-demand rotations (`npm run rotate`). @default 30 */
  readonly rotationDays?: number;
  /** Minutes the previous token stays accepted after a rotation. @default 60 */
  readonly graceMinutes?: number;
  readonly logRetentionDays: number;
  /** Where a failed rotation is announced. */
  readonly alarms: Alarms;
}

/** Seconds between AWSCURRENT accepting the new token and Buildkite getting it: the verify cache plus a margin. */
export const ROTATION_PROPAGATION_SECONDS = VERIFY_SECRET_CACHE_SECONDS + 30;

/**
 * Rotates the Buildkite webhook token without refusing a delivery: a rotation function doing
 * Secrets Manager's four steps (lambda/webhook-rotation/app.ts) and the webhook secret's rotation
 * schedule. Its timeout leaves room for the wait between accepting the new token and giving it
 * to Buildkite. Reads the API token secret; reads and writes the webhook secret; nothing else.
 */
export class WebhookRotation extends Construct {
  readonly function: KiteFunction;
  readonly schedule: secretsmanager.RotationSchedule;
  readonly observed: readonly ObservedComponent[];

  constructor(scope: Construct, id: string, props: WebhookRotationProps) {
    super(scope, id);
    const rotationDays = props.rotationDays ?? 30;
    const graceMinutes = props.graceMinutes ?? 60;
    if (!Number.isInteger(rotationDays) || rotationDays < 0 || rotationDays > 1000) {
      throw new Error(
        `WebhookRotation: rotationDays must be a whole number from 0 (no schedule) to 1000, got ${rotationDays}.`,
      );
    }
    if (!Number.isInteger(graceMinutes) || graceMinutes < MIN_ROTATION_GRACE_MINUTES) {
      throw new Error(
        `WebhookRotation: graceMinutes must be a whole number of at least ${MIN_ROTATION_GRACE_MINUTES} (longer than the verify function's ${VERIFY_SECRET_CACHE_SECONDS / 60}-minute secret cache), got ${graceMinutes}.`,
      );
    }

    this.function = new KiteFunction(this, 'Function', {
      entry: path.join(__dirname, '../../lambda/webhook-rotation/handler.ts'),
      description: 'kitebridge: rotates the Buildkite webhook token (Secrets Manager rotation function)',
      logRetentionDays: props.logRetentionDays,
      memorySize: 256,
      // setSecret waits out the verify cache before it PATCHes Buildkite.
      timeout: Duration.seconds(ROTATION_PROPAGATION_SECONDS + 240),
      environment: {
        WEBHOOK_SECRET_ARN: props.webhookSecret.secretArn,
        BUILDKITE_API_TOKEN_SECRET_ARN: props.apiTokenSecret.secretArn,
        BUILDKITE_ORGANIZATION: props.organization,
        WEBHOOK_URL: props.webhookUrl,
        WEBHOOK_DESCRIPTION: props.webhookDescription,
        PROPAGATION_SECONDS: String(ROTATION_PROPAGATION_SECONDS),
        GRACE_MINUTES: String(graceMinutes),
        POWERTOOLS_SERVICE_NAME: 'webhook-rotation',
      },
    });
    props.apiTokenSecret.grantRead(this.function);

    // Grants the function the four secret actions on the webhook secret alone, and lets Secrets
    // Manager invoke it. No schedule with 0 days: RotateSecret (npm run rotate) still works.
    this.schedule = props.webhookSecret.addRotationSchedule('Rotation', {
      rotationLambda: this.function,
      automaticallyAfter: Duration.days(rotationDays),
      // Not at deploy time: the API token secret still holds its placeholder then.
      rotateImmediatelyOnUpdate: false,
    });
    Validations.of(this.function.role as iam.Role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'secretsmanager:GetRandomPassword, added by the CDK rotation schedule, has no resource-level permissions; the function makes its tokens with node:crypto and never calls it. Every secret action is on the two secrets only.',
    });

    Validations.of(this.function).acknowledge({
      id: SERVERLESS_RULES.lambdaDlq,
      reason:
        'Secrets Manager invokes the rotation function synchronously, step by step, and retries a failed rotation itself; a failure alarms below.',
    });

    props.alarms.onAnyOccurrence(
      this,
      'FailedAlarm',
      'The webhook token rotation failed: search the webhook-rotation function log. Both tokens stay accepted until a rotation finishes; Secrets Manager retries it.',
      this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    );
    this.observed = [{ name: 'webhook-rotation', function: this.function }];
  }
}
