import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { toInboundRequest } from './request';
import { errorAnswer } from './answers';
import { verifyDelivery, type Outcome, type VerifyDeps, type VerifySettings } from './verify';

/** Receives every outcome once, after the answer is decided: logging and metrics live here. */
export type OutcomeObserver = (outcome: Outcome, requestId: string, sourceIp: string) => void;

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
    } catch {
      // A defect, not a user error: refuse without detail so nothing half-done is claimed.
      outcome = {
        answer: errorAnswer('internal_error'),
        code: 'internal_error',
        bytes: request.rawBody.length,
      };
    }
    observe(outcome, request.requestId, request.sourceIp);
    return {
      statusCode: outcome.answer.statusCode,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
      body: JSON.stringify(outcome.answer.body),
    };
  };
}
