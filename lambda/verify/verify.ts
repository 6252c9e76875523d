import { createHash } from 'node:crypto';
import {
  buildFinishedDedupeKey,
  testEngineDetailType,
  type AuthMethod,
  type DeliveryMetadata,
} from '../shared/contract';
import { acceptedAnswer, errorAnswer, type ErrorCode } from './answers';
import { isoTime } from './iso-time';
import { jsonString } from './json-text';
import { headerValues, isJsonContentType, type InboundRequest } from './request';
import { verifySignature } from './signature';
import { checkWithRefresh, SecretUnavailableError, type TokenSource } from './token-source';
import { matchToken } from './tokens';
import { onFirstUse } from '../shared/on-first-use';
import type { VerifiedBuildkiteDelivery, VerifyDeps } from './ports';
import type { Outcome, VerifySettings } from './types';

/**
 * The `/triggers/{name}` path (sender-specific checks and answers), a chunk of its own loaded by
 * the first request to a configured trigger: a Buildkite request, the common first request, never
 * loads it (bench/README.md, cold start).
 */
const triggerPath = onFirstUse(() => import('./trigger'));

type AuthResult = { ok: true; method: AuthMethod; signedAt?: Date } | { ok: false; code: ErrorCode };

/**
 * Authenticates, validates and delivers one Buildkite request. Order: media type, size,
 * authentication (on the raw bytes, before anything is parsed), then shape. Only an
 * authentic, well-formed body reaches the deliverer.
 */
export async function verifyDelivery(
  request: InboundRequest,
  deps: VerifyDeps,
  settings: VerifySettings,
): Promise<Outcome> {
  const now = deps.now?.() ?? new Date();
  const bytes = request.rawBody.length;

  if (request.triggerName !== undefined) {
    const trigger = deps.triggers?.get(request.triggerName);
    if (!trigger) return rejected('unknown_trigger', bytes);
    const { refusedTriggerRequest, verifyTriggerRequest } = await triggerPath();
    const refused = preflight(request, settings);
    if (refused) return refusedTriggerRequest(trigger, refused, bytes);
    return verifyTriggerRequest(request, trigger, deps, now);
  }
  const refused = preflight(request, settings);
  if (refused) return rejected(refused, bytes);

  let auth: AuthResult;
  try {
    auth = await authenticate(request, deps.tokens, now, settings.replayWindowSeconds);
  } catch (error) {
    if (error instanceof SecretUnavailableError) return rejected('auth_unavailable', bytes);
    throw error;
  }
  if (!auth.ok) return rejected(auth.code, bytes);

  const parsed = parseBody(request);
  if (!parsed.ok) return { ...rejected(parsed.code, bytes), auth: auth.method };
  const { body, text, detailType: event } = parsed;

  // A build.finished is keyed by build and state, so the reconciler's copy of one Buildkite never
  // sent shares its key; every other body by its SHA-256.
  const dedupeKey =
    (event === 'build.finished' ? buildFinishedDedupeKey((body as { build?: unknown }).build) : undefined) ??
    createHash('sha256').update(request.rawBody).digest('hex');
  // Literals rather than conditional spreads (this runs on every request); the key order is
  // the contract's, as the detail's JSON shows it.
  const receivedAt = isoTime(now);
  const { requestId, sourceIp, rawBody } = request;
  const signedAt = auth.signedAt ? isoTime(auth.signedAt) : undefined;
  const delivery: DeliveryMetadata =
    signedAt !== undefined
      ? { receivedAt, requestId, dedupeKey, auth: auth.method, signedAt, sourceIp }
      : { receivedAt, requestId, dedupeKey, auth: auth.method, sourceIp };
  const deliveryText = deliveryJson(receivedAt, requestId, dedupeKey, auth.method, signedAt, sourceIp);
  // The request's own text round-trips to its bytes exactly; a decoded one may not.
  const verified: VerifiedBuildkiteDelivery =
    text === request.text
      ? {
          kind: 'buildkite',
          detailType: event,
          body,
          text,
          rawBody,
          textBytes: rawBody.length,
          delivery,
          deliveryText,
        }
      : { kind: 'buildkite', detailType: event, body, text, rawBody, delivery, deliveryText };
  try {
    const status = await deps.deliverer.deliver(verified);
    return {
      answer: acceptedAnswer(requestId, status),
      code: status,
      event,
      auth: auth.method,
      bytes,
      dedupeKey,
    };
  } catch {
    return {
      answer: errorAnswer('persist_failed'),
      code: 'persist_failed',
      event,
      auth: auth.method,
      bytes,
      dedupeKey,
    };
  }
}

/**
 * `JSON.stringify` of the delivery metadata literal `verifyDelivery` builds from the same parts
 * (same keys, same order, `signedAt` only when given), written from its parts: the ISO times and
 * the auth method need no escaping, so only the request id, the dedupe key and the address are
 * quoted (`jsonString`): about a third of the cost of serialising the object, on every request.
 */
export function deliveryJson(
  receivedAt: string,
  requestId: string,
  dedupeKey: string,
  auth: AuthMethod,
  signedAt: string | undefined,
  sourceIp: string,
): string {
  const str = jsonString;
  const signed = signedAt === undefined ? '' : `,"signedAt":"${signedAt}"`;
  return `{"receivedAt":"${receivedAt}","requestId":${str(requestId)},"dedupeKey":${str(dedupeKey)},"auth":"${auth}"${signed},"sourceIp":${str(sourceIp)}}`;
}

/** The outcome of a request refused with `code` (a module function: no closure per request). */
function rejected(code: ErrorCode, bytes: number): Outcome {
  return { answer: errorAnswer(code), code, bytes };
}

/** Checks every route shares, before any credential is looked at: media type and size. */
function preflight(
  request: InboundRequest,
  settings: VerifySettings,
): 'unsupported_media_type' | 'body_too_large' | undefined {
  const contentTypes = headerValues(request, 'content-type');
  if (contentTypes.length !== 1 || !isJsonContentType(contentTypes[0])) return 'unsupported_media_type';
  if (request.rawBody.length > settings.maxBodyBytes) return 'body_too_large';
  return undefined;
}

/** Not async itself: a request refused on its headers alone needs no promise, the rest is checkWithRefresh's. */
function authenticate(
  request: InboundRequest,
  source: TokenSource,
  now: Date,
  windowSeconds: number,
): AuthResult | Promise<AuthResult> {
  const tokenHeaders = headerValues(request, 'x-buildkite-token');
  const signatureHeaders = headerValues(request, 'x-buildkite-signature');

  let check: (tokens: readonly string[]) => AuthResult;
  if (request.pathToken !== undefined) {
    const pathToken = request.pathToken;
    check = (tokens) =>
      matchToken(pathToken, tokens) !== undefined
        ? { ok: true, method: 'path-token' }
        : { ok: false, code: 'invalid_token' };
  } else if (tokenHeaders.length + signatureHeaders.length === 0) {
    return { ok: false, code: 'missing_auth' };
  } else if (tokenHeaders.length + signatureHeaders.length > 1) {
    return { ok: false, code: 'ambiguous_auth' };
  } else if (tokenHeaders.length === 1) {
    const token = tokenHeaders[0] as string;
    check = (tokens) =>
      matchToken(token, tokens) !== undefined
        ? { ok: true, method: 'token' }
        : { ok: false, code: 'invalid_token' };
  } else {
    const header = signatureHeaders[0] as string;
    check = (tokens) => {
      const result = verifySignature(header, request.rawBody, tokens, now, windowSeconds);
      return result.ok
        ? { ok: true, method: 'signature', signedAt: result.signedAt }
        : { ok: false, code: result.reason };
    };
  }

  return checkWithRefresh(source, check);
}

/** EventBridge detail-types are 1–128 characters; Buildkite's names are dotted lower-case words. */
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

type ParseResult =
  | { ok: true; body: Record<string, unknown>; text: string; detailType: string }
  | { ok: false; code: ErrorCode };

/**
 * The body as a JSON object and its detail-type: `event` for Buildkite webhooks; for a Test
 * Engine monitor body, which has no `event` but names its monitor in `type` (and always has a
 * `timestamp`), `workflow.<type>`.
 */
function parseBody(request: InboundRequest): ParseResult {
  const text = request.text ?? request.rawBody.toString('utf8');
  if (text.trim() === '') return { ok: false, code: 'empty_body' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json' };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return { ok: false, code: 'not_an_object' };
  const { event, type, timestamp } = body as Record<string, unknown>;
  let detailType: string;
  if (event !== undefined) {
    if (typeof event !== 'string' || event.trim() === '') return { ok: false, code: 'missing_event' };
    detailType = event;
  } else if (typeof type === 'string' && type.trim() !== '' && typeof timestamp === 'string') {
    // Test Engine monitor bodies always carry `timestamp`; other senders' `type` bodies
    // (PagerDuty's, say) do not, and are not Buildkite deliveries.
    detailType = testEngineDetailType(type);
  } else {
    return { ok: false, code: 'missing_event' };
  }
  if (!EVENT_NAME.test(detailType))
    return { ok: false, code: event !== undefined ? 'invalid_event' : 'invalid_type' };
  // Buildkite sends X-Buildkite-Event equal to `event`; Test Engine documents no such header, so
  // for a monitor body it may name either the monitor type or the detail-type.
  const headerEvents = headerValues(request, 'x-buildkite-event');
  const agrees = (name: string | undefined) => name === detailType || (event === undefined && name === type);
  if (headerEvents.length > 1 || (headerEvents.length === 1 && !agrees(headerEvents[0]))) {
    return { ok: false, code: 'event_mismatch' };
  }
  return { ok: true, body: body as Record<string, unknown>, text, detailType };
}
