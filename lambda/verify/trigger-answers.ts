import { DEFAULT_TRIGGER_HEADERS, type TriggerDefinition } from '../shared/triggers';
import { ERRORS, errorAnswer, type Answer, type ErrorCode } from './answers';

// The answers only `/triggers/{name}` gives: loaded with the trigger path on first use (see
// verify.ts), never by a Buildkite request.

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
