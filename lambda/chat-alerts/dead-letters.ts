/**
 * Permanent failures skip Lambda's two asynchronous retries: they would only repeat a request the
 * chat service already refused (and post nothing), delaying the DLQ alarm by about three minutes.
 * The wrapper writes such an event to the consumer's dead-letter queue itself, in the shape of
 * Lambda's own on-failure record (so one redrive procedure fits both), logs the reason, and returns.
 * Any other error is rethrown: Lambda retries twice, then its on-failure destination, the same
 * queue, takes the event. If writing to the queue fails, the original error is rethrown, so the
 * event is never lost.
 */
import { PermanentError } from './errors';
import type { DeadLetterRecord, DeadLetterSink } from './ports';

/** The Lambda context fields the wrapper reads. */
export interface InvocationContext {
  readonly awsRequestId: string;
  readonly invokedFunctionArn: string;
  readonly functionVersion?: string;
}

export interface DeadLetterLog {
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** Wraps a handler so that permanent errors go to `sink` at once; see the module comment. */
export function withPermanentFailuresToDeadLetters<E>(
  handle: (event: E) => Promise<void>,
  sink: DeadLetterSink,
  log: DeadLetterLog,
  now: () => Date = () => new Date(),
): (event: E, context: InvocationContext) => Promise<void> {
  return async (event, context) => {
    try {
      await handle(event);
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      const record: DeadLetterRecord = {
        version: '1.0',
        timestamp: now().toISOString(),
        requestContext: {
          requestId: context.awsRequestId,
          functionArn: context.invokedFunctionArn,
          condition: 'PermanentError',
          approximateInvokeCount: 1,
        },
        requestPayload: event,
        responseContext: {
          statusCode: 200,
          executedVersion: context.functionVersion ?? '$LATEST',
          functionError: error.name,
        },
        responsePayload: { errorType: error.name, errorMessage: error.message },
      };
      try {
        await sink.send(record);
      } catch (sendError) {
        log.error('Could not write a permanent failure to the dead-letter queue; rethrowing', {
          error: error.message,
          sendError: String(sendError),
        });
        throw error;
      }
      log.error('Permanent failure: event sent to the dead-letter queue without retries', {
        errorType: error.name,
        reason: error.message,
      });
    }
  };
}
