import { createHmac } from 'node:crypto';
import type { AuthMethod } from '../shared/contract';
import type { TriggerErrorCode } from './trigger-answers';
import { digestsEqual, matchToken } from './tokens';
import { DEFAULT_TRIGGER_HEADERS, type TriggerDefinition } from '../shared/triggers';

/** The three headers of a Standard Webhooks request (https://www.standardwebhooks.com/). */
export const STANDARD_WEBHOOKS_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/**
 * The same headers as Svix names them: Svix, which powers most Standard Webhooks senders,
 * sends `svix-*` unless the sender pays to have them renamed `webhook-*`; the scheme is the same.
 */
export const SVIX_HEADERS = {
  id: 'svix-id',
  timestamp: 'svix-timestamp',
  signature: 'svix-signature',
} as const;

/** Linear requires `webhookTimestamp` (milliseconds) within a minute of now. */
export const LINEAR_WINDOW_MS = 60_000;

/**
 * Accepted distance between `webhook-timestamp` and now, both ways: the five minutes the
 * Standard Webhooks reference libraries use. Fixed per kind, like Linear's minute.
 */
export const STANDARD_WEBHOOKS_WINDOW_SECONDS = 300;

export type TriggerAuthResult = { ok: true; method: AuthMethod } | { ok: false; code: TriggerErrorCode };

/** The header carrying the token or signature (lower case): never copied onto the bus. */
export function triggerHeader(definition: TriggerDefinition): string {
  return (definition.header ?? DEFAULT_TRIGGER_HEADERS[definition.kind]).toLowerCase();
}

/**
 * The credential headers a kind's check reads (lower case), each as the names it may be sent
 * under, the first being the one `verifyTriggerCredential` reads it as. Each must arrive once.
 */
export function credentialHeaders(definition: TriggerDefinition): readonly (readonly string[])[] {
  if (definition.kind === 'standard-webhooks') {
    return (['id', 'timestamp', 'signature'] as const).map((part) => [
      STANDARD_WEBHOOKS_HEADERS[part],
      SVIX_HEADERS[part],
    ]);
  }
  return [[triggerHeader(definition)]];
}

/** The HMAC-SHA256 of the raw body keyed with `secret`, in the given encoding. */
export function bodyHmac(secret: string, rawBody: Buffer, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(rawBody).digest(encoding);
}

const HEX_64 = /^[0-9a-fA-F]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The spec asks that ids contain no `.`, which would make `<id>.<timestamp>.<body>` ambiguous. */
const WEBHOOK_ID = /^[\x21-\x2d\x2f-\x7e]{1,256}$/;
const UNIX_SECONDS = /^\d{1,15}$/;

/**
 * The HMAC key of a Standard Webhooks secret: `whsec_<base64>`, or the base64 alone (the
 * reference libraries accept both), decoded. Undefined when it is not base64 or decodes to
 * nothing: the spec defines no raw (unencoded) secret, so none is guessed at.
 */
export function standardWebhooksKey(secret: string): Buffer | undefined {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (encoded === '' || !BASE64.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64');
}

/** The base64 HMAC-SHA256 of `<id>.<timestamp>.<raw body>`, keyed with the decoded secret (a `v1` signature). */
export function standardWebhooksSignature(
  key: Buffer,
  id: string,
  timestamp: string,
  rawBody: Buffer,
): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(rawBody).digest('base64');
}

/**
 * Checks a trigger request's credential against every accepted secret, in constant time.
 * `presented` holds each header of `credentialHeaders(definition)` (lower-case names), sent
 * once. The signature kinds sign the raw body bytes. Linear's timestamp is in the body, so it
 * is checked after the body is parsed (see `checkLinearTimestamp`).
 */
export function verifyTriggerCredential(
  definition: TriggerDefinition,
  presented: Readonly<Record<string, string>>,
  rawBody: Buffer,
  secrets: readonly string[],
  now: Date,
): TriggerAuthResult {
  if (definition.kind === 'standard-webhooks') return verifyStandardWebhook(presented, rawBody, secrets, now);
  const headerValue = presented[triggerHeader(definition)] ?? '';
  switch (definition.kind) {
    case 'token':
      return matchToken(headerValue, secrets) !== undefined
        ? { ok: true, method: 'token' }
        : { ok: false, code: 'invalid_token' };
    case 'github': {
      if (!headerValue.startsWith('sha256=') || !HEX_64.test(headerValue.slice(7))) {
        return { ok: false, code: 'malformed_signature' };
      }
      return anySignatureMatches([headerValue.slice(7).toLowerCase()], secrets, (s) =>
        bodyHmac(s, rawBody, 'hex'),
      )
        ? { ok: true, method: 'github' }
        : { ok: false, code: 'invalid_signature' };
    }
    case 'linear': {
      if (!HEX_64.test(headerValue)) return { ok: false, code: 'malformed_signature' };
      return anySignatureMatches([headerValue.toLowerCase()], secrets, (s) => bodyHmac(s, rawBody, 'hex'))
        ? { ok: true, method: 'linear' }
        : { ok: false, code: 'invalid_signature' };
    }
    case 'hmac-sha256': {
      // One signature, or several comma-separated (PagerDuty sends `v1=<hex>,v1=<hex>` while
      // rotating), each optionally prefixed `sha256=` or `v1=`. Any one matching is enough.
      const encoding = definition.encoding ?? 'hex';
      const values = headerValue.split(',').map((part) => part.trim().replace(/^(sha256|v1)=/, ''));
      const wellFormed = values.every((v) => (encoding === 'hex' ? HEX_64.test(v) : BASE64_SHA256.test(v)));
      if (!wellFormed || values.length > 5) return { ok: false, code: 'malformed_signature' };
      const presentedDigests = values.map((v) => (encoding === 'hex' ? v.toLowerCase() : v));
      return anySignatureMatches(presentedDigests, secrets, (s) => bodyHmac(s, rawBody, encoding))
        ? { ok: true, method: 'hmac-sha256' }
        : { ok: false, code: 'invalid_signature' };
    }
  }
}

/**
 * Standard Webhooks: `webhook-signature` is a space-separated list of `<version>,<signature>`;
 * any `v1` entry matching passes, other versions (e.g. `v1a`, asymmetric) are ignored. The
 * timestamp is part of the signed content and must lie within five minutes of now.
 */
function verifyStandardWebhook(
  presented: Readonly<Record<string, string>>,
  rawBody: Buffer,
  secrets: readonly string[],
  now: Date,
): TriggerAuthResult {
  const id = presented[STANDARD_WEBHOOKS_HEADERS.id] ?? '';
  const timestamp = presented[STANDARD_WEBHOOKS_HEADERS.timestamp] ?? '';
  const v1 = (presented[STANDARD_WEBHOOKS_HEADERS.signature] ?? '')
    .split(/\s+/)
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice(3))
    .filter((signature) => BASE64_SHA256.test(signature));
  if (!WEBHOOK_ID.test(id) || !UNIX_SECONDS.test(timestamp) || v1.length === 0) {
    return { ok: false, code: 'malformed_signature' };
  }
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > STANDARD_WEBHOOKS_WINDOW_SECONDS) {
    return { ok: false, code: 'signature_expired' };
  }
  const keys = secrets.map(standardWebhooksKey).filter((key): key is Buffer => key !== undefined);
  return anySignatureMatches(v1, keys, (key) => standardWebhooksSignature(key, id, timestamp, rawBody))
    ? { ok: true, method: 'standard-webhooks' }
    : { ok: false, code: 'invalid_signature' };
}

/** Signs once per secret and compares with every presented digest; nothing stops early. */
function anySignatureMatches<S>(
  presented: readonly string[],
  secrets: readonly S[],
  sign: (secret: S) => string,
) {
  let matched = false;
  for (const secret of secrets) {
    const expected = sign(secret);
    for (const digest of presented) matched = digestsEqual(expected, digest) || matched;
  }
  return matched;
}

/** Linear's replay protection: the body's `webhookTimestamp` (ms) must be within a minute of now. */
export function checkLinearTimestamp(payload: unknown, now: Date): TriggerAuthResult | undefined {
  const timestamp =
    payload !== null && typeof payload === 'object'
      ? (payload as Record<string, unknown>).webhookTimestamp
      : undefined;
  if (typeof timestamp !== 'number' || Math.abs(now.getTime() - timestamp) > LINEAR_WINDOW_MS) {
    return { ok: false, code: 'signature_expired' };
  }
  return undefined;
}
