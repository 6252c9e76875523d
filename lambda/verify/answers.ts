import { jsonString } from './json-text';

/**
 * Every answer the request path can give (DESIGN.md section 4). Error answers carry a stable
 * machine code and a message for a human; none of them ever echoes a token or signature.
 */
export interface Answer {
  readonly statusCode: number;
  readonly body: Record<string, unknown>;
}

export const ERRORS = {
  // 400: the request is authentic (or we could not tell yet) but malformed.
  empty_body: [400, 'The body is empty; Buildkite sends a JSON object.'],
  invalid_json: [400, 'The body is not valid JSON.'],
  not_an_object: [400, 'The body must be a JSON object.'],
  missing_event: [
    400,
    'The body has no string "event" field (Buildkite webhooks), nor string "type" and "timestamp" fields (Test Engine monitors): it is not a Buildkite delivery.',
  ],
  invalid_event: [
    400,
    'The "event" field must be 1-128 letters, digits, dots, dashes, colons or underscores.',
  ],
  invalid_type: [
    400,
    'The "type" field of a Test Engine body must be 1-119 letters, digits, dots, dashes, colons or underscores.',
  ],
  event_mismatch: [400, 'The X-Buildkite-Event header and the body\'s "event" field disagree.'],
  // 401: authentication failed.
  missing_auth: [
    401,
    'No credentials: send X-Buildkite-Token or X-Buildkite-Signature, or use the /buildkite/{token} URL.',
  ],
  ambiguous_auth: [401, 'Send exactly one of X-Buildkite-Token or X-Buildkite-Signature, each at most once.'],
  invalid_token: [401, 'The token does not match; copy it again from the webhook secret.'],
  malformed_signature: [
    401,
    'X-Buildkite-Signature must look like "timestamp=<unix seconds>,signature=<64 hex digits>".',
  ],
  signature_expired: [
    401,
    "The signature timestamp is outside the accepted window; check the sender's clock, or resend.",
  ],
  invalid_signature: [
    401,
    'The signature does not match: it must be the HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the webhook token.',
  ],
  // 404
  unknown_trigger: [
    404,
    'No trigger of that name is configured; see the "triggers" list in the kitebridge configuration.',
  ],
  // 413 / 415
  body_too_large: [413, 'The body is larger than this endpoint accepts.'],
  unsupported_media_type: [415, 'Content-Type must be application/json.'],
  // 503: the only 5xx. Nothing was accepted; the sender may retry.
  auth_unavailable: [503, 'Credentials could not be loaded to verify this request; retry shortly.'],
  internal_error: [503, 'An unexpected error occurred; nothing was accepted. Retry shortly.'],
  persist_failed: [503, 'The event could not be stored; nothing was accepted. Retry shortly.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export function errorAnswer(code: ErrorCode, detail?: string): Answer {
  const [statusCode, message] = ERRORS[code];
  return { statusCode, body: { error: code, message: detail ? `${message} ${detail}` : message } };
}

/**
 * The body of a plain 202: `{ id, status }`. A class, so `answerText` knows its shape and writes
 * its JSON from the two strings instead of `JSON.stringify` walking an object (every accepted
 * request answers one).
 */
class AcceptedBody {
  constructor(
    readonly id: string,
    readonly status: 'published' | 'spooled',
  ) {}
}

export function acceptedAnswer(id: string, status: 'published' | 'spooled'): Answer {
  return { statusCode: 202, body: new AcceptedBody(id, status) as unknown as Record<string, unknown> };
}

/** The answer's body as JSON text: the same text as `JSON.stringify(answer.body)`. */
export function answerText(answer: Answer): string {
  const body: unknown = answer.body;
  return body instanceof AcceptedBody
    ? `{"id":${jsonString(body.id)},"status":"${body.status}"}`
    : JSON.stringify(body);
}
