import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** The parsed `X-Buildkite-Signature` header. */
export interface SignatureHeader {
  /** The timestamp exactly as sent: it is part of the signed message. */
  readonly timestamp: string;
  readonly signature: string;
}

/** `timestamp=<1–15 digits>,signature=<64 hex digits>` with nothing else: Buildkite's header. */
const CANONICAL_HEADER = /^timestamp=(\d{1,15}),signature=([0-9a-fA-F]{64})$/;

/**
 * Parses `timestamp=<unix seconds>,signature=<hex>`: split on `,`, each part on the first
 * `=`, white space trimmed. Returns undefined when either part is missing or ill-formed.
 */
export function parseSignatureHeader(value: string): SignatureHeader | undefined {
  // What Buildkite sends, exactly: read with one match (the general parse below gives the same).
  const canonical = CANONICAL_HEADER.exec(value);
  if (canonical !== null) {
    return { timestamp: canonical[1] as string, signature: (canonical[2] as string).toLowerCase() };
  }
  // One pass with indexOf instead of split into parts (this runs on every signed request).
  const keys = new Set<string>();
  let timestamp: string | undefined;
  let signature: string | undefined;
  // The next `=` at or after `start`: searched again only once passed, so the scan stays linear
  // however many parts lack one.
  let eq = value.indexOf('=');
  for (let start = 0; start <= value.length;) {
    let end = value.indexOf(',', start);
    if (end < 0) end = value.length;
    if (eq >= 0 && eq < start) eq = value.indexOf('=', start);
    if (eq >= 0 && eq < end) {
      const key = value.slice(start, eq).trim();
      if (keys.has(key)) return undefined;
      keys.add(key);
      if (key === 'timestamp') timestamp = value.slice(eq + 1, end).trim();
      else if (key === 'signature') signature = value.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  if (!timestamp || !/^\d{1,15}$/.test(timestamp)) return undefined;
  if (!signature || !/^[0-9a-fA-F]{64}$/.test(signature)) return undefined;
  return { timestamp, signature: signature.toLowerCase() };
}

/** HMAC-SHA256 keyed with the token over `<timestamp>.<raw body bytes>`, lowercase hex. */
export function computeSignature(token: string, timestamp: string, rawBody: Buffer): string {
  return signatureDigest(token, timestamp, rawBody).toString('hex');
}

/** The HMAC-SHA256 of `computeSignature` as bytes: compared as such, with no hex text made. */
function signatureDigest(token: string, timestamp: string, rawBody: Buffer): Buffer {
  return createHmac('sha256', token).update(`${timestamp}.`).update(rawBody).digest();
}

/**
 * The HMAC key object of each token seen, made once: `createHmac` with a `KeyObject` skips
 * importing the key on every request. A handful of tokens at most (the current one, the previous
 * one during a rotation); emptied if it ever holds `HMAC_KEY_LIMIT`, so it cannot grow.
 */
const hmacKeys = new Map<string, KeyObject>();
const HMAC_KEY_LIMIT = 16;

function hmacKey(token: string): KeyObject {
  let key = hmacKeys.get(token);
  if (key === undefined) {
    if (hmacKeys.size >= HMAC_KEY_LIMIT) hmacKeys.clear();
    key = createSecretKey(Buffer.from(token, 'utf8'));
    hmacKeys.set(token, key);
  }
  return key;
}

/** The presented signature's bytes: see verifySignature. */
const givenSignature = Buffer.alloc(32);

export type SignatureCheck =
  | { readonly ok: true; readonly token: string; readonly signedAt: Date }
  | {
      readonly ok: false;
      readonly reason: 'malformed_signature' | 'signature_expired' | 'invalid_signature';
    };

/**
 * Verifies a signature against every candidate token (all are tried, so timing does not
 * reveal which matched). The timestamp must lie within `windowSeconds` of `now`, both ways.
 */
export function verifySignature(
  header: string,
  rawBody: Buffer,
  tokens: readonly string[],
  now: Date,
  windowSeconds: number,
): SignatureCheck {
  const parsed = parseSignatureHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed_signature' };
  const signedAtSeconds = Number(parsed.timestamp);
  if (Math.abs(now.getTime() / 1000 - signedAtSeconds) > windowSeconds) {
    return { ok: false, reason: 'signature_expired' };
  }
  // 64 hex digits (checked by the parser): always 32 bytes, the digest's length. Decoded into
  // one buffer kept for it (this function is synchronous, so no other call can be using it).
  const given = givenSignature;
  given.write(parsed.signature, 'hex');
  let matched: string | undefined;
  for (const token of tokens) {
    const expected = createHmac('sha256', hmacKey(token))
      .update(`${parsed.timestamp}.`)
      .update(rawBody)
      .digest();
    if (timingSafeEqual(expected, given) && matched === undefined) matched = token;
  }
  return matched === undefined
    ? { ok: false, reason: 'invalid_signature' }
    : { ok: true, token: matched, signedAt: new Date(signedAtSeconds * 1000) };
}
