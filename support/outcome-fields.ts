import type { Outcome } from '../lambda/verify/types';

/**
 * The fields the verify function logs for one request after Powertools Logger's own keys, in
 * their order: requestId, sourceIp, then the outcome's status, code, event, auth, bytes,
 * dedupeKey and error (JSON leaves out the undefined ones).
 */
export function outcomeLogFields(outcome: Outcome, requestId: string, sourceIp: string) {
  const { answer, code, event, auth, bytes, dedupeKey, error } = outcome;
  return { requestId, sourceIp, status: answer.statusCode, code, event, auth, bytes, dedupeKey, error };
}
