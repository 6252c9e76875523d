/**
 * What a pipeline trigger is, for every part of kitebridge: config validation, the CDK
 * constructs, the verify function and local mode all take these facts from here.
 */

/** Every way a trigger's caller may prove who it is. */
export const TRIGGER_KINDS = ['github', 'linear', 'hmac-sha256', 'token', 'standard-webhooks'] as const;

/** How a trigger's caller proves who it is. */
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/**
 * The rule a trigger name follows: it becomes a URL path segment (`/triggers/<name>`), part of
 * detail-types (`trigger.<name>`), construct ids and output keys.
 */
export const TRIGGER_NAME = {
  pattern: /^[a-z0-9][a-z0-9-]{0,62}$/,
  message: 'must be 1-63 lower-case letters, digits or dashes (it becomes a URL path)',
} as const;

/** A trigger as the verify function sees it (from its TRIGGERS environment variable). */
export interface TriggerDefinition {
  readonly name: string;
  readonly kind: TriggerKind;
  /** The header carrying the signature or token (`hmac-sha256` and `token` kinds). */
  readonly header?: string;
  /** Digest encoding of an `hmac-sha256` signature. @default 'hex' */
  readonly encoding?: 'hex' | 'base64';
  /** ARN of the secret holding the shared secret or token (runtime only). */
  readonly secretArn?: string;
}

/**
 * A configured trigger as the verify function sees it: the deployed stack passes the ARN of
 * its secret; local mode passes none (every trigger's secret is the dev token there).
 */
export function toTriggerDefinition(
  trigger: {
    readonly name: string;
    readonly kind: TriggerKind;
    readonly header?: string | undefined;
    readonly encoding?: 'hex' | 'base64' | undefined;
  },
  secretArn?: string,
): TriggerDefinition {
  return {
    name: trigger.name,
    kind: trigger.kind,
    ...(trigger.header ? { header: trigger.header } : {}),
    ...(trigger.encoding ? { encoding: trigger.encoding } : {}),
    ...(secretArn !== undefined ? { secretArn } : {}),
  };
}

/**
 * The header carrying the signature or token, per kind, spelled as the sender documents it;
 * `hmac-sha256` and `token` may name their own.
 */
export const DEFAULT_TRIGGER_HEADERS: Readonly<Record<TriggerKind, string>> = {
  github: 'X-Hub-Signature-256',
  linear: 'Linear-Signature',
  'hmac-sha256': 'X-Signature-256',
  token: 'X-Trigger-Token',
  'standard-webhooks': 'webhook-signature',
};
