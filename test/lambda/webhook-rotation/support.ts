/**
 * In-memory stand-ins for the rotation's ports: a Secrets Manager secret with version stages (as
 * PutSecretValue and UpdateSecretVersionStage move them), a Buildkite webhook, and a fake clock.
 */
import type { NotificationService } from '../../../lambda/shared/buildkite-webhooks';
import {
  STAGE,
  type Clock,
  type SecretStore,
  type SecretVersion,
  type WebhookRegistry,
} from '../../../lambda/webhook-rotation/ports';

interface StoredVersion {
  value?: string;
  createdAt: number;
  stages: Set<string>;
}

/** One secret's versions, with Secrets Manager's stage rules. */
export class MemorySecret implements SecretStore {
  readonly versions = new Map<string, StoredVersion>();
  rotationEnabled = true;
  readonly writes: { versionId: string; value: string; stages: readonly string[] }[] = [];

  constructor(
    private readonly now: () => number,
    initial: string,
  ) {
    this.versions.set('v0', { value: initial, createdAt: now(), stages: new Set([STAGE.current]) });
  }

  /** What RotateSecret does: a version with AWSPENDING and no value yet. */
  startRotation(versionId: string): void {
    this.detach(STAGE.pending);
    this.versions.set(versionId, { createdAt: this.now(), stages: new Set([STAGE.pending]) });
  }

  currentValue(): string {
    for (const v of this.versions.values()) if (v.stages.has(STAGE.current)) return v.value as string;
    throw new Error('no AWSCURRENT');
  }

  async describe() {
    return {
      rotationEnabled: this.rotationEnabled,
      versions: Object.fromEntries([...this.versions].map(([id, v]) => [id, [...v.stages]])),
    };
  }

  async read(select: {
    readonly stage?: string;
    readonly versionId?: string;
  }): Promise<SecretVersion | undefined> {
    for (const [versionId, v] of this.versions) {
      if (select.versionId !== undefined && versionId !== select.versionId) continue;
      if (select.stage !== undefined && !v.stages.has(select.stage)) continue;
      return v.value === undefined ? undefined : { versionId, value: v.value, createdAt: v.createdAt };
    }
    return undefined;
  }

  async put(versionId: string, value: string, stages: readonly string[]): Promise<void> {
    const existing = this.versions.get(versionId);
    if (existing?.value !== undefined) {
      if (existing.value !== value)
        throw new Error(`ResourceExistsException: version ${versionId} has another value`);
      return;
    }
    this.writes.push({ versionId, value, stages });
    for (const stage of stages) {
      if (stage === STAGE.current) {
        this.detach(STAGE.previous);
        for (const v of this.versions.values()) if (v.stages.has(STAGE.current)) v.stages.add(STAGE.previous);
      }
      this.detach(stage);
    }
    const version = existing ?? { createdAt: this.now(), stages: new Set<string>() };
    version.value = value;
    version.createdAt = this.now();
    for (const stage of stages) version.stages.add(stage);
    this.versions.set(versionId, version);
  }

  async removeStage(stage: string, from: string): Promise<void> {
    this.versions.get(from)?.stages.delete(stage);
  }

  private detach(stage: string): void {
    for (const v of this.versions.values()) v.stages.delete(stage);
  }
}

/** kitebridge's webhook in Buildkite: its token, and when it was PATCHed. */
export class MemoryWebhook implements WebhookRegistry {
  patches: { at: number; token: string }[] = [];
  service: NotificationService;

  constructor(
    private readonly now: () => number,
    token: string,
  ) {
    this.service = {
      id: 'svc-1',
      provider: 'webhook',
      description: 'kitebridge (Kitebridge)',
      settings: { url: 'https://x.example/v1/buildkite', token, token_mode: 'signature' },
    };
  }

  async find(): Promise<NotificationService> {
    return this.service;
  }

  async setToken(_service: NotificationService, token: string): Promise<void> {
    this.patches.push({ at: this.now(), token });
    this.service = { ...this.service, settings: { ...this.service.settings, token } };
  }
}

/** A clock that only moves when told; `sleep` runs `onAdvance` for the time slept. */
export class FakeClock implements Clock {
  constructor(
    public time: number,
    private readonly onAdvance: (to: number) => Promise<void> = async (to) => {
      this.time = to;
    },
  ) {}

  now = (): number => this.time;

  sleep = async (ms: number): Promise<void> => {
    await this.onAdvance(this.time + ms);
  };
}

export const silentLog = { info: () => undefined, warn: () => undefined };
