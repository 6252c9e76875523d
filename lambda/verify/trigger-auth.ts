import { createHmac } from 'node:crypto';
import type { AuthMethod } from '../shared/contract';
import type { ErrorCode } from './answers';
import { digestsEqual, matchToken } from './tokens';

/** How a trigger's caller proves who it is. */
export type TriggerKind = 'github' | 'linear' | 'hmac-sha256' | 'token';

/** A trigger as the verify function sees it (from its TRIGGERS environment variable). */
export interface TriggerDefinition {
  readonly name: string;
  readonly kind: TriggerKind;
  /** The header carrying the signature or token (`hmac-sha256` and `token` kinds). */
  readonly header?: string;
  /** Digest encoding of an `hmac-sha256` signature. @default 'hex' */
  readonly encoding?: 'hex' | 'base64';
  /** ARN of the secret holding the shared secret or token (runtime only). */
  readonly secretArn?: string;
}

/** Default header per kind; `hmac-sha256` and `token` may name their own. */
export const DEFAULT_TRIGGER_HEADERS: Readonly<Record<TriggerKind, string>> = {
  github: 'x-hub-signature-256',
  linear: 'linear-signature',
  'hmac-sha256': 'x-signature-256',
  token: 'x-trigger-token',
};

/** Linear requires `webhookTimestamp` (milliseconds) within a minute of now. */
export const LINEAR_WINDOW_MS = 60_000;

export type TriggerAuthResult = { ok: true; method: AuthMethod } | { ok: false; code: ErrorCode };

export function triggerHeader(definition: TriggerDefinition): string {
  return (definition.header ?? DEFAULT_TRIGGER_HEADERS[definition.kind]).toLowerCase();
}

/** The HMAC-SHA256 of the raw body keyed with `secret`, in the given encoding. */
export function bodyHmac(secret: string, rawBody: Buffer, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(rawBody).digest(encoding);
}

const HEX_64 = /^[0-9a-fA-F]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Checks a trigger request's credential (one header value) against every accepted secret, in
 * constant time. The signature kinds sign the raw body bytes. Linear's timestamp is checked
 * separately, after the body is parsed (see `checkLinearTimestamp`).
 */
export function verifyTriggerCredential(
  definition: TriggerDefinition,
  headerValue: string,
  rawBody: Buffer,
  secrets: readonly string[],
): TriggerAuthResult {
  switch (definition.kind) {
    case 'token':
      return matchToken(headerValue, secrets) !== undefined
        ? { ok: true, method: 'token' }
        : { ok: false, code: 'invalid_token' };
    case 'github': {
      if (!headerValue.startsWith('sha256=') || !HEX_64.test(headerValue.slice(7))) {
        return { ok: false, code: 'malformed_signature' };
      }
      return anySignatureMatches(headerValue.slice(7).toLowerCase(), secrets, (s) =>
        bodyHmac(s, rawBody, 'hex'),
      )
        ? { ok: true, method: 'github' }
        : { ok: false, code: 'invalid_signature' };
    }
    case 'linear': {
      if (!HEX_64.test(headerValue)) return { ok: false, code: 'malformed_signature' };
      return anySignatureMatches(headerValue.toLowerCase(), secrets, (s) => bodyHmac(s, rawBody, 'hex'))
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
      const matched = values.some((value) =>
        anySignatureMatches(encoding === 'hex' ? value.toLowerCase() : value, secrets, (s) =>
          bodyHmac(s, rawBody, encoding),
        ),
      );
      return matched ? { ok: true, method: 'hmac-sha256' } : { ok: false, code: 'invalid_signature' };
    }
  }
}

function anySignatureMatches(
  presented: string,
  secrets: readonly string[],
  sign: (secret: string) => string,
): boolean {
  let matched = false;
  for (const secret of secrets) matched = digestsEqual(sign(secret), presented) || matched;
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

const KINDS: readonly TriggerKind[] = ['github', 'linear', 'hmac-sha256', 'token'];

/**
 * Reads the TRIGGERS environment variable the stack sets (a JSON list of definitions, each with
 * its secret's ARN). Absent means no triggers. A malformed value fails the cold start, naming it.
 */
export function parseTriggerDefinitions(value: string | undefined): TriggerDefinition[] {
  if (value === undefined || value === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('Environment variable TRIGGERS is not JSON; redeploy the stack.');
  }
  if (!Array.isArray(parsed))
    throw new Error('Environment variable TRIGGERS must be a JSON list; redeploy the stack.');
  return parsed.map((item: unknown, i) => {
    const d = item as Partial<TriggerDefinition>;
    if (
      typeof d?.name !== 'string' ||
      !KINDS.includes(d.kind as TriggerKind) ||
      typeof d.secretArn !== 'string'
    ) {
      throw new Error(
        `TRIGGERS[${i}] needs a name, a kind (${KINDS.join(', ')}) and a secretArn; redeploy the stack.`,
      );
    }
    return d as TriggerDefinition;
  });
}
