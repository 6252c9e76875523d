/**
 * The interfaces the chat-alerts app needs: its state (DynamoDB when deployed, aws-adapters.ts;
 * memory or a JSON file locally and in tests, local/adapters/), posting (http-poster.ts), and where
 * permanently failed events go (dead-letters.ts).
 */
import type { Message } from './alert-message';
import type { Destination, FailedJob } from './model';
import type { StreakState } from './transitions';

/** A failure alert that was (or is being) posted for a build: follow-ups go to the same places. */
export interface BuildAlertRecord {
  readonly destinations: readonly string[];
  /** Failed jobs already listed, in the alert or in follow-ups. */
  readonly jobIds: readonly string[];
}

/** `claimed`: post now; `sent`: already posted; `busy`: another invocation holds an unexpired claim. */
export type ClaimResult = 'claimed' | 'sent' | 'busy';

/** What the chat-alerts app keeps between events. */
export interface AlertStateStore {
  /**
   * Reads a pipeline+branch streak, applies `update`, and writes the result atomically (retrying
   * on a concurrent write); returns what `update` returned alongside the state.
   */
  updateStreak<T>(
    key: string,
    update: (current: StreakState | undefined) => { state: StreakState; result: T },
  ): Promise<T>;
  putFailedJob(buildId: string, job: FailedJob): Promise<void>;
  listFailedJobs(buildId: string): Promise<FailedJob[]>;
  /** Records that a failure alert goes to `destinations`; an existing record is kept. */
  createBuildAlert(buildId: string, destinations: readonly string[]): Promise<void>;
  getBuildAlert(buildId: string): Promise<BuildAlertRecord | undefined>;
  addListedJobs(buildId: string, jobIds: readonly string[]): Promise<void>;
  /** Claims the right to post `key` to `destination` for `leaseMs`. */
  claimDelivery(key: string, destination: string, leaseMs: number): Promise<ClaimResult>;
  completeDelivery(key: string, destination: string): Promise<void>;
  /** Gives a claim back after a failed post, so a retry can post at once. */
  releaseDelivery(key: string, destination: string): Promise<void>;
}

/** What a poster is given: the message (for readable output) and the service payload. */
export interface RenderedAlert {
  readonly message: Message;
  readonly payload: unknown;
}

/** Sends one rendered alert to one destination; throws the errors above. */
export interface Poster {
  post(destination: Destination, alert: RenderedAlert): Promise<void>;
}

/** Where the consumer logs; never given a webhook URL. */
export interface AlertLog {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

/** Where permanently failed events are recorded. */
export interface DeadLetterSink {
  send(record: DeadLetterRecord): Promise<void>;
}

/** Lambda's asynchronous-invocation failure record, as its SQS on-failure destination writes it. */
export interface DeadLetterRecord {
  readonly version: '1.0';
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'PermanentError';
    readonly approximateInvokeCount: 1;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: 200;
    readonly executedVersion: string;
    readonly functionError: string;
  };
  readonly responsePayload: { readonly errorType: string; readonly errorMessage: string };
}
