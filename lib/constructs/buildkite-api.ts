import { Annotations, CfnOutput, SecretValue, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  BUILDKITE_API_TOKEN_PLACEHOLDER,
  REQUIRED_BUILDKITE_SCOPES,
} from '../../lambda/shared/buildkite-rest';

export interface BuildkiteApiProps {
  /** The Buildkite organization slug the token works on. */
  readonly organization: string;
}

/** The synth note when `buildkiteApi` is not configured: what stays off, and the key that turns it on. */
export const BUILDKITE_API_OFF_NOTE =
  'buildkiteApi is not set: npm run register, delivery reconciliation (build.finished deliveries Buildkite never sends stay lost) ' +
  'and the automatic rotation of the webhook token (npm run rotate) are off; the token is rotated by hand with npm run token. ' +
  'Set "buildkiteApi": {"organization": "<slug>"} to turn them on (README: Register in Buildkite).';

/**
 * The Buildkite API token kitebridge uses to manage its own webhook (register it, rotate its
 * token). The stack creates the secret with a placeholder; a person stores a token with the
 * scopes `read_builds`, `read_notification_services` and `write_notification_services`, created by
 * an organization admin (README: Register in Buildkite). Output `BuildkiteApiTokenSecretArn`.
 */
export class BuildkiteApi extends Construct {
  /** Holds the API token: the token itself, or `{"token": "…"}`. */
  readonly secret: secretsmanager.Secret;
  readonly organization: string;

  constructor(scope: Construct, id: string, props: BuildkiteApiProps) {
    super(scope, id);
    if (!/^[a-z0-9][a-z0-9-]{0,99}$/.test(props.organization)) {
      throw new Error(
        `BuildkiteApi: organization must be the slug from https://buildkite.com/<slug>, got "${props.organization}".`,
      );
    }
    this.organization = props.organization;
    this.secret = new secretsmanager.Secret(this, 'Token', {
      description:
        `kitebridge: a Buildkite API token for organization ${props.organization} with the scopes ` +
        `${REQUIRED_BUILDKITE_SCOPES.join(', ')}. Replace the placeholder with the token.`,
      secretStringValue: SecretValue.unsafePlainText(BUILDKITE_API_TOKEN_PLACEHOLDER),
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A Buildkite API token is issued by Buildkite to a person (an organization admin) and must be stored by that person; no Lambda can mint a new one.',
    });
    Annotations.of(this).addInfo(
      `Store a Buildkite API token (scopes ${REQUIRED_BUILDKITE_SCOPES.join(', ')}) in the BuildkiteApiTokenSecretArn secret, then run npm run register.`,
    );

    new CfnOutput(this, 'TokenSecretArn', {
      key: 'BuildkiteApiTokenSecretArn',
      value: this.secret.secretArn,
      description: `Store a Buildkite API token here (scopes ${REQUIRED_BUILDKITE_SCOPES.join(', ')}).`,
    });
    new CfnOutput(this, 'Organization', {
      key: 'BuildkiteOrganization',
      value: props.organization,
      description: 'The Buildkite organization npm run register and the token rotation work on.',
    });
  }
}
