/**
 * The types the verify request path shares: the router (verify.ts), the Buildkite and trigger
 * paths, the app and its observer all import them from here, so the modules import forward only.
 */
import type { AuthMethod } from '../shared/contract';
import type { Answer, ErrorCode } from './answers';
import type { Deliverer } from './delivery';
import type { TokenSource } from './token-source';
import type { TriggerDefinition } from '../shared/triggers';

export interface VerifySettings {
  /** Accepted distance, in seconds, between a signature's timestamp and now, both ways. */
  readonly replayWindowSeconds: number;
  /** Larger bodies are answered 413. */
  readonly maxBodyBytes: number;
}

/** What happened to one request, for logs and metrics: never holds a credential. */
export interface Outcome {
  readonly answer: Answer;
  readonly code: ErrorCode | 'published' | 'spooled';
  readonly event?: string;
  readonly auth?: AuthMethod;
  readonly bytes: number;
  readonly dedupeKey?: string;
  /** A defect (not a user error) that made the answer 503 `internal_error`: for the log, redacted. */
  readonly error?: UnexpectedError;
}

/** An unexpected error as it may be logged: name, message and stack, with request credentials removed. */
export interface UnexpectedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** A configured trigger and the source of its secrets. */
export interface TriggerEntry {
  readonly definition: TriggerDefinition;
  readonly secrets: TokenSource;
}

export interface VerifyDeps {
  /** The Buildkite webhook tokens. */
  readonly tokens: TokenSource;
  readonly deliverer: Deliverer;
  /** Configured pipeline triggers by name. @default none */
  readonly triggers?: ReadonlyMap<string, TriggerEntry>;
  readonly now?: () => Date;
}
