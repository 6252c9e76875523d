/**
 * The webhook secret in local mode: a stand-in for the Secrets Manager secret, kept in the data
 * folder (`webhook-secret.json`) so that `npm start`, `npm run rotate -- --local`, `npm run send`
 * and `npm run token -- --local` (separate processes) share it. It holds versions with stages as
 * Secrets Manager does (AWSCURRENT, AWSPENDING, AWSPREVIOUS); each version's value is the text
 * the deployed secret would hold (`{"token": …}`, with `previousToken(s)` and `previousExpiresAt`
 * during and after a rotation: lambda/verify/tokens.ts reads it).
 *
 * It is the rotation function's SecretStore (lambda/webhook-rotation/ports.ts), and gives the
 * local verify handler a fetcher with the deployed fetcher's cache semantics (a value is served
 * for `maxAgeMs`; a `fresh` read always reads the file). Whenever AWSCURRENT moves, the dev-token
 * file gets the current token: `npm run send` and `npm run register -- --local` read it there.
 *
 * Writes go to a temporary file renamed over the old one, so a reader in another process never
 * sees half a file. The file is readable by its owner only: it holds tokens.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SecretFetcher } from '../../lambda/verify/token-source';
import { primaryToken, readWebhookSecret } from '../../lambda/verify/tokens';
import { STAGE, type SecretStore, type SecretVersion } from '../../lambda/webhook-rotation/ports';
import { devTokenFile } from '../local-env';

/** The file, in the data folder, that holds the local webhook secret. */
export function localSecretFile(dataDir: string): string {
  return path.join(dataDir, 'webhook-secret.json');
}

/** The id the local rotation uses for the secret (Secrets Manager's SecretId, locally). */
export function localSecretId(dataDir: string): string {
  return `local:${localSecretFile(dataDir)}`;
}

interface StoredVersion {
  /** Absent between RotateSecret and createSecret, as in Secrets Manager. */
  value?: string;
  createdAt: string;
  stages: string[];
}

/** The file's shape. */
interface StoredSecret {
  /** How long `npm start`'s verify handler serves a value before reading the file again. */
  verifyCacheSeconds: number;
  rotationEnabled: boolean;
  lastRotatedAt?: string;
  versions: Record<string, StoredVersion>;
}

/** The local secret is missing or unreadable: the message says what to do. */
export class LocalSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalSecretError';
  }
}

export interface LocalSecretStoreOptions {
  /** Milliseconds since the epoch, for version creation times. @default Date.now */
  readonly now?: () => number;
}

export class LocalSecretStore implements SecretStore {
  readonly file: string;
  private readonly now: () => number;

  constructor(
    readonly dataDir: string,
    options: LocalSecretStoreOptions = {},
  ) {
    this.file = localSecretFile(dataDir);
    this.now = options.now ?? Date.now;
  }

  /**
   * A new secret holding `token` alone (what `npm start` does at each start), replacing any
   * earlier one and any rotation in progress; `verifyCacheSeconds` is recorded for the rotation.
   */
  reset(token: string, verifyCacheSeconds: number): void {
    this.write({
      verifyCacheSeconds,
      rotationEnabled: true,
      versions: {
        [randomUUID()]: {
          value: JSON.stringify({ token }),
          createdAt: new Date(this.now()).toISOString(),
          stages: [STAGE.current],
        },
      },
    });
  }

  /** How long the verify handler of `npm start` caches the secret, in milliseconds. */
  verifyCacheMs(): number {
    return this.load().verifyCacheSeconds * 1000;
  }

  /** The AWSCURRENT value. */
  currentValue(): string {
    const current = this.find(this.load(), { stage: STAGE.current });
    if (current?.version.value === undefined) {
      throw new LocalSecretError(`${this.file} has no current value: restart npm start to write a new one.`);
    }
    return current.version.value;
  }

  /** The token Buildkite should have: the current value's `token`. */
  currentToken(): string {
    const token = primaryToken(readWebhookSecret(this.currentValue()));
    if (token === undefined) throw new LocalSecretError(`${this.file} holds no current token.`);
    return token;
  }

  /** The version of a rotation in progress (AWSPENDING and not AWSCURRENT), if any. */
  pendingVersion(): string | undefined {
    return Object.entries(this.load().versions).find(
      ([, v]) => v.stages.includes(STAGE.pending) && !v.stages.includes(STAGE.current),
    )?.[0];
  }

  /** When the last rotation finished, if one did since the secret was written. */
  lastRotatedAt(): string | undefined {
    return this.load().lastRotatedAt;
  }

  /** What RotateSecret does: a version carrying AWSPENDING and no value yet. */
  startRotation(versionId: string): void {
    const secret = this.load();
    detach(secret, STAGE.pending);
    secret.versions[versionId] = { createdAt: new Date(this.now()).toISOString(), stages: [STAGE.pending] };
    this.write(secret);
  }

  /**
   * The current value, read from the file at most every `maxAgeMs` (`now` tells the time); a
   * `fresh` read always reads it. The deployed verify handler's fetcher, over the file.
   */
  fetcher(maxAgeMs: number, now: () => number = this.now): SecretFetcher {
    let cached: string | undefined;
    let readAt = Number.NEGATIVE_INFINITY;
    return async (fresh) => {
      if (fresh || cached === undefined || now() - readAt >= maxAgeMs) {
        cached = this.currentValue();
        readAt = now();
      }
      return cached;
    };
  }

  async describe() {
    const secret = this.load();
    return {
      rotationEnabled: secret.rotationEnabled,
      versions: Object.fromEntries(Object.entries(secret.versions).map(([id, v]) => [id, [...v.stages]])),
    };
  }

  async read(select: {
    readonly stage?: string;
    readonly versionId?: string;
  }): Promise<SecretVersion | undefined> {
    const found = this.find(this.load(), select);
    if (found?.version.value === undefined) return undefined;
    return {
      versionId: found.id,
      value: found.version.value,
      createdAt: Date.parse(found.version.createdAt),
    };
  }

  /** PutSecretValue: a version that has a value already keeps it (a different one is an error). */
  async put(versionId: string, value: string, stages: readonly string[]): Promise<void> {
    const secret = this.load();
    const existing = secret.versions[versionId];
    if (existing?.value !== undefined) {
      if (existing.value !== value) {
        throw new LocalSecretError(`Version ${versionId} of ${this.file} exists with another value.`);
      }
      return;
    }
    const version: StoredVersion = existing ?? { createdAt: '', stages: [] };
    if (stages.includes(STAGE.current)) {
      // As in Secrets Manager: the version losing AWSCURRENT gets AWSPREVIOUS.
      detach(secret, STAGE.previous);
      for (const v of Object.values(secret.versions)) {
        if (v.stages.includes(STAGE.current)) v.stages.push(STAGE.previous);
      }
    }
    for (const stage of stages) detach(secret, stage);
    version.value = value;
    version.createdAt = new Date(this.now()).toISOString();
    version.stages = [...new Set([...version.stages, ...stages])];
    secret.versions[versionId] = version;
    this.write(secret);
  }

  /** UpdateSecretVersionStage with RemoveFromVersionId; removing AWSPENDING ends a rotation. */
  async removeStage(stage: string, from: string): Promise<void> {
    const secret = this.load();
    const version = secret.versions[from];
    if (!version?.stages.includes(stage)) return;
    version.stages = version.stages.filter((s) => s !== stage);
    if (stage === STAGE.pending) secret.lastRotatedAt = new Date(this.now()).toISOString();
    this.write(secret);
  }

  private find(
    secret: StoredSecret,
    select: { readonly stage?: string; readonly versionId?: string },
  ): { id: string; version: StoredVersion } | undefined {
    for (const [id, version] of Object.entries(secret.versions)) {
      if (select.versionId !== undefined && id !== select.versionId) continue;
      if (select.stage !== undefined && !version.stages.includes(select.stage)) continue;
      return { id, version };
    }
    return undefined;
  }

  private load(): StoredSecret {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new LocalSecretError(
          `No local webhook secret at ${this.file}: start kitebridge with npm start (it writes one), with the same KITEBRIDGE_DATA_DIR.`,
        );
      }
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as StoredSecret;
      if (typeof parsed.versions !== 'object' || parsed.versions === null) throw new Error('no versions');
      return parsed;
    } catch {
      throw new LocalSecretError(
        `${this.file} is not a local webhook secret kitebridge can read: delete it and restart npm start.`,
      );
    }
  }

  private write(secret: StoredSecret): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(secret, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    // The dev token follows AWSCURRENT: npm run send and npm run register -- --local read it.
    const current = this.find(secret, { stage: STAGE.current })?.version.value;
    const token = current === undefined ? undefined : primaryToken(readWebhookSecret(current));
    if (token !== undefined) {
      const tokenFile = devTokenFile(this.dataDir);
      writeFileSync(`${tokenFile}.${process.pid}.tmp`, `${token}\n`, { mode: 0o600 });
      renameSync(`${tokenFile}.${process.pid}.tmp`, tokenFile);
    }
  }
}

function detach(secret: StoredSecret, stage: string): void {
  for (const v of Object.values(secret.versions)) v.stages = v.stages.filter((s) => s !== stage);
}
