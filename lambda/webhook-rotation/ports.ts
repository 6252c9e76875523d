import type { NotificationService } from '../shared/buildkite-webhooks';

/** The four steps Secrets Manager asks a rotation function to do, in order. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** What Secrets Manager invokes the function with. */
export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  /** The id of the version this rotation creates (it carries AWSPENDING). */
  readonly ClientRequestToken: string;
  readonly RotationToken?: string;
}

export const STAGE = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' } as const;

/** One version of the secret with its value. */
export interface SecretVersion {
  readonly versionId: string;
  readonly value: string;
  /** When the version was created, in milliseconds since the epoch. */
  readonly createdAt: number;
}

/** The webhook secret's versions (Secrets Manager, or a fake). */
export interface SecretStore {
  /** Whether rotation is on, and every version's stages. */
  describe(): Promise<{
    readonly rotationEnabled: boolean;
    readonly versions: Record<string, readonly string[]>;
  }>;
  /** The version with this stage and/or id; undefined when there is none or it has no value yet. */
  read(select: { readonly stage?: string; readonly versionId?: string }): Promise<SecretVersion | undefined>;
  /** Creates a version with `value` and `stages` (AWSCURRENT moves to it when listed). */
  put(versionId: string, value: string, stages: readonly string[]): Promise<void>;
  /** Detaches `stage` from version `from`. */
  removeStage(stage: string, from: string): Promise<void>;
}

/** This deployment's webhook in Buildkite. */
export interface WebhookRegistry {
  /** kitebridge's webhook, found by URL and description; throws naming the fix when absent. */
  find(): Promise<NotificationService>;
  /** Replaces the webhook's token (one PATCH). */
  setToken(service: NotificationService, token: string): Promise<void>;
}

export type { Clock } from '../shared/clock';

/** Where the rotation reports what it did (never a token). */
export interface RotationLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
}
