import { DEFAULT_TRIGGER_HEADERS, type TriggerDefinition } from '../shared/triggers';
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

/**
 * A sender's verified test request (GitHub's ping, say): recorded on the bus but never
 * relayed. `what` names it for the sender, e.g. "GitHub's ping".
 */
export function pingAnswer(id: string, status: 'published' | 'spooled', what: string): Answer {
  return {
    statusCode: 202,
    body: {
      id,
      status,
      ping: true,
      message: `${what} was verified and recorded; a ping never starts a build.`,
    },
  };
}

/**
 * The codes `/triggers/{name}` answers with besides `unknown_trigger` (which has no kind to
 * speak for): the messages of the 4xx among them are written per trigger kind.
 */
export const TRIGGER_ERROR_CODES = [
  'missing_auth',
  'ambiguous_auth',
  'malformed_signature',
  'invalid_signature',
  'invalid_token',
  'signature_expired',
  'empty_body',
  'invalid_json',
  'unsupported_media_type',
  'body_too_large',
  'auth_unavailable',
  'persist_failed',
] as const satisfies readonly ErrorCode[];

export type TriggerErrorCode = (typeof TRIGGER_ERROR_CODES)[number];

/** How one trigger kind's sender is spoken to: in its own header names, scheme and settings. */
interface SenderVoice {
  /** The credential header(s) as the sender spells them, for "send X once". */
  readonly headers: string;
  /** What a request without the credential lacks. */
  readonly missing: string;
  /** What a valid request carries. */
  readonly scheme: string;
  /** How to make the secrets agree. */
  readonly secretFix: string;
  /** How to make the sender send a JSON body. */
  readonly jsonFix: string;
  /** A signed request that is too old (kinds with a timestamp). */
  readonly expired?: string;
}

function voiceOf(definition: Pick<TriggerDefinition, 'kind' | 'header' | 'encoding'>): SenderVoice {
  const header = definition.header ?? DEFAULT_TRIGGER_HEADERS[definition.kind];
  const secretToken = 'the "token" value of this trigger\'s secret';
  switch (definition.kind) {
    case 'github':
      return {
        headers: header,
        missing: `No ${header} header: GitHub signs a delivery only when the webhook has a secret`,
        scheme: `${header}: sha256=<hex HMAC-SHA256 of the raw body>`,
        secretFix: `set the Secret in GitHub's webhook settings (Settings → Webhooks → Edit) to ${secretToken}`,
        jsonFix: "in GitHub's webhook settings, set Content type to application/json",
      };
    case 'linear':
      return {
        headers: header,
        missing: `No ${header} header: Linear signs every delivery`,
        scheme: `${header}: <hex HMAC-SHA256 of the raw body>, and a body "webhookTimestamp" (ms) within 60 s of now`,
        secretFix:
          'put the signing secret from Linear\'s webhook settings (Settings → API → Webhooks) in this trigger\'s secret as {"token": "<signing secret>"}',
        jsonFix: 'Linear sends JSON, so check that the request comes from Linear',
        expired:
          'The body\'s "webhookTimestamp" is missing or more than 60 s from now (Linear-Signature matched): resend it from Linear, or check the sender\'s clock.',
      };
    case 'hmac-sha256': {
      const digest = definition.encoding === 'base64' ? 'base64' : 'hex';
      return {
        headers: header,
        missing: `No ${header} header`,
        scheme: `${header}: <${digest} HMAC-SHA256 of the raw body> (sha256= or v1= prefix allowed; up to 5, comma-separated)`,
        secretFix: `have the sender sign with ${secretToken}`,
        jsonFix: 'the sender must send the payload as JSON',
      };
    }
    case 'token':
      return {
        headers: header,
        missing: `No ${header} header`,
        scheme: `${header}: <${secretToken}>`,
        secretFix: `send ${secretToken} in ${header}`,
        jsonFix: 'the sender must send the payload as JSON',
      };
    case 'standard-webhooks':
      return {
        headers:
          'webhook-id, webhook-timestamp and webhook-signature (or svix-id, svix-timestamp and svix-signature)',
        missing:
          'A Standard Webhooks header is missing: webhook-id, webhook-timestamp and webhook-signature (or their Svix names svix-id, svix-timestamp and svix-signature) are all required',
        scheme:
          'webhook-id, webhook-timestamp (unix seconds) and webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>"> (space-separated; any v1 entry may match)',
        secretFix:
          'put the endpoint\'s signing secret (whsec_…) from the sender\'s webhook settings in this trigger\'s secret as {"token": "whsec_…"}',
        jsonFix: 'the sender must send the payload as JSON',
        expired:
          "webhook-timestamp is more than 5 minutes from now (webhook-signature matched): check the sender's clock, or resend the message from the sender.",
      };
  }
}

function triggerMessage(code: ErrorCode, voice: SenderVoice): string | undefined {
  switch (code) {
    case 'missing_auth':
      return `${voice.missing}. Send ${voice.scheme}; ${voice.secretFix}.`;
    case 'ambiguous_auth':
      return `Send ${voice.headers} once each; this request repeats a header with different values.`;
    case 'malformed_signature':
      return `The credential is malformed: send ${voice.scheme}.`;
    case 'invalid_signature':
      return `The signature does not match: send ${voice.scheme}, keyed with this trigger's secret. To fix it, ${voice.secretFix}.`;
    case 'invalid_token':
      return `${voice.headers} does not match this trigger's token: ${voice.secretFix}.`;
    case 'signature_expired':
      return voice.expired;
    case 'empty_body':
      return `The body is empty; ${voice.jsonFix}.`;
    case 'invalid_json':
      return `The body is not valid JSON; ${voice.jsonFix}.`;
    case 'unsupported_media_type':
      return `Content-Type must be application/json; ${voice.jsonFix}.`;
    default:
      return undefined;
  }
}

/**
 * An error answer on `/triggers/{name}`: the stable code of `errorAnswer`, with a message in
 * the trigger kind's own words (its headers, signing scheme and settings), never Buildkite's.
 */
export function triggerErrorAnswer(
  definition: Pick<TriggerDefinition, 'kind' | 'header' | 'encoding'>,
  code: ErrorCode,
): Answer {
  const message = triggerMessage(code, voiceOf(definition));
  return message === undefined
    ? errorAnswer(code)
    : { statusCode: ERRORS[code][0], body: { error: code, message } };
}
