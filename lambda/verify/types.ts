/**
 * The types the verify request path shares: the router (verify.ts), the Buildkite and trigger
 * paths, the app and its observer all import them from here, so the modules import forward only.
 * The dependencies the path is given (VerifyDeps and the adapters' interfaces) are in ports.ts.
 */
import type { AuthMethod } from '../shared/contract';
import type { Answer, ErrorCode } from './answers';

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
