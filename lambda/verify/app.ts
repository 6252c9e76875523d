import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { answerText, errorAnswer } from './answers';
import { toInboundRequest, type InboundRequest } from './request';
import type { OutcomeObserver, VerifyDeps } from './ports';
import type { Outcome, UnexpectedError, VerifySettings } from './types';
import { verifyDelivery } from './verify';

/**
 * The verify function as a plain async function of an API Gateway REST proxy event. The
 * Lambda handler and the local gateway both build it, each with its own adapters.
 */
export function createVerifyHandler(
  deps: VerifyDeps,
  settings: VerifySettings,
  observe: OutcomeObserver,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => {
    const request = toInboundRequest(event);
    let outcome: Outcome;
    try {
      outcome = await verifyDelivery(request, deps, settings);
    } catch (error) {
      // A defect, not a user error: refuse without detail so nothing half-done is claimed, and
      // hand the error (redacted) to the observer so it is logged, counted and alarmed on.
      outcome = {
        answer: errorAnswer('internal_error'),
        code: 'internal_error',
        bytes: request.rawBody.length,
        error: redactedError(error, request),
      };
    }
    observe(outcome, request.requestId, request.sourceIp);
    return {
      statusCode: outcome.answer.statusCode,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
      body: answerText(outcome.answer),
    };
  };
}

/** Header names whose values are credentials (tokens, signatures, keys) on any route. */
const CREDENTIAL_HEADER = /token|signature|secret|authorization|key/i;

/**
 * The error's name, message and stack with every credential the request presented replaced by
 * `[redacted]`: a defect's message may quote its input, and logs never hold a token.
 */
export function redactedError(error: unknown, request: InboundRequest): UnexpectedError {
  const credentials = [
    ...(request.pathToken ? [request.pathToken] : []),
    ...[...request.headers].filter(([name]) => CREDENTIAL_HEADER.test(name)).flatMap(([, values]) => values),
  ].filter((value) => value.length >= 4);
  const redact = (text: string) =>
    credentials.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
  if (error instanceof Error) {
    return {
      name: error.name,
      message: redact(error.message),
      ...(error.stack ? { stack: redact(error.stack) } : {}),
    };
  }
  return { name: 'NonError', message: redact(String(error)) };
}
