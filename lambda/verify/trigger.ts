import { createHash } from 'node:crypto';
import {
  TRIGGER_SAFE_HEADERS,
  triggerDetailType,
  triggerPingDetailType,
  type DeliveryMetadata,
} from '../shared/contract';
import { acceptedAnswer } from './answers';
import { pingAnswer, triggerErrorAnswer, type TriggerErrorCode } from './trigger-answers';
import { headerValues, type InboundRequest } from './request';
import { checkWithRefresh, SecretUnavailableError } from './token-source';
import {
  checkLinearTimestamp,
  credentialHeaders,
  triggerHeader,
  verifyTriggerCredential,
  type TriggerAuthResult,
} from './trigger-auth';
import { type TriggerKind } from '../shared/triggers';
import type { TriggerEntry, VerifyDeps } from './ports';
import type { Outcome } from './types';

/** Sender delivery-id headers, in order of preference, and the prefix of the dedupe key each gives. */
const DELIVERY_ID_HEADERS: readonly (readonly [header: string, prefix: string, onlyFor?: TriggerKind])[] = [
  ['x-github-delivery', 'github'],
  ['linear-delivery', 'linear'],
  ['x-pagerduty-webhook-id', 'pagerduty'],
  // Standard Webhooks sign the id with the body, so it is trusted only where it was verified.
  ['webhook-id', 'standard-webhooks', 'standard-webhooks'],
  ['svix-id', 'standard-webhooks', 'standard-webhooks'],
];

/**
 * A trigger request refused before its credential is looked at (media type, size), answered in
 * the trigger kind's own words.
 */
export function refusedTriggerRequest(trigger: TriggerEntry, code: TriggerErrorCode, bytes: number): Outcome {
  return { answer: triggerErrorAnswer(trigger.definition, code), code, bytes };
}

/**
 * A third party's request to start a Buildkite build: authenticated per the trigger's kind,
 * JSON, then delivered as a `trigger.<name>` event carrying the payload and a safe subset of
 * the request headers; a sender's ping as `trigger.<name>.ping`. Preflight (media type, size)
 * has already passed.
 */
export async function verifyTriggerRequest(
  request: InboundRequest,
  trigger: TriggerEntry,
  deps: Pick<VerifyDeps, 'deliverer'>,
  now: Date,
): Promise<Outcome> {
  const { definition } = trigger;
  const bytes = request.rawBody.length;
  const base = { bytes, event: triggerDetailType(definition.name) };
  const reject = (code: TriggerErrorCode, extra: Partial<Outcome> = {}): Outcome => ({
    answer: triggerErrorAnswer(definition, code),
    code,
    ...base,
    ...extra,
  });

  const presented: Record<string, string> = {};
  for (const names of credentialHeaders(definition)) {
    const values = [...new Set(names.flatMap((name) => headerValues(request, name)))];
    if (values.length === 0) return reject('missing_auth');
    if (values.length > 1) return reject('ambiguous_auth');
    presented[names[0] as string] = values[0] as string;
  }
  let auth: TriggerAuthResult;
  try {
    auth = await checkWithRefresh(trigger.secrets, (secrets) =>
      verifyTriggerCredential(definition, presented, request.rawBody, secrets, now),
    );
  } catch (error) {
    if (error instanceof SecretUnavailableError) return reject('auth_unavailable');
    throw error;
  }
  if (!auth.ok) return reject(auth.code);

  const text = request.rawBody.toString('utf8');
  if (text.trim() === '') return reject('empty_body', { auth: auth.method });
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return reject('invalid_json', { auth: auth.method });
  }
  if (definition.kind === 'linear') {
    const stale = checkLinearTimestamp(payload, now);
    if (stale && !stale.ok) return reject(stale.code, { auth: auth.method });
  }

  const headers: Record<string, string> = {};
  const credentialHeader = triggerHeader(definition);
  for (const name of TRIGGER_SAFE_HEADERS) {
    if (name === credentialHeader) continue; // never copy the token or signature onto the bus
    const values = headerValues(request, name);
    if (values.length === 1) headers[name] = values[0] as string;
  }
  const ping = pingOf(definition.kind, headers, payload);
  const delivery: DeliveryMetadata = {
    receivedAt: now.toISOString(),
    requestId: request.requestId,
    dedupeKey: dedupeKeyFor(headers, request.rawBody, definition.kind),
    auth: auth.method,
    sourceIp: request.sourceIp,
  };
  const detailType = ping ? triggerPingDetailType(definition.name) : base.event;
  const common = { ...base, event: detailType, auth: auth.method, dedupeKey: delivery.dedupeKey };
  try {
    const status = await deps.deliverer.deliver({
      kind: 'trigger',
      trigger: definition.name,
      body: payload,
      text,
      rawBody: request.rawBody,
      headers,
      delivery,
      ...(ping ? { detailType } : {}),
    });
    const answer = ping
      ? pingAnswer(request.requestId, status, ping)
      : acceptedAnswer(request.requestId, status);
    return { answer, code: status, ...common };
  } catch {
    return { answer: triggerErrorAnswer(definition, 'persist_failed'), code: 'persist_failed', ...common };
  }
}

/**
 * Names the sender's test request when this is one, else undefined. Only documented tests count:
 * - GitHub sends `X-GitHub-Event: ping` when a webhook is created (any kind: GitHub can also
 *   be verified as `hmac-sha256` on `X-Hub-Signature-256`);
 * - PagerDuty v3 sends `{"event": {"event_type": "pagey.ping"}}` from "Send test event"
 *   (the `hmac-sha256` and `token` kinds, and any other);
 * - Svix, behind most Standard Webhooks senders, sends the `svix.ping` example `{"success": true}`
 *   from its "Testing" tab (`standard-webhooks` kind only: elsewhere that body means nothing).
 * Linear documents no test request; the Standard Webhooks spec defines none.
 */
export function pingOf(
  kind: TriggerKind,
  headers: Readonly<Record<string, string>>,
  payload: unknown,
): string | undefined {
  if (headers['x-github-event'] === 'ping') return "GitHub's ping";
  const body = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? payload : {};
  const event = (body as { event?: unknown }).event;
  if (
    event !== null &&
    typeof event === 'object' &&
    (event as { event_type?: unknown }).event_type === 'pagey.ping'
  ) {
    return "PagerDuty's pagey.ping";
  }
  if (kind === 'standard-webhooks') {
    const keys = Object.keys(body);
    const svixExample = keys.length === 1 && (body as { success?: unknown }).success === true;
    if (svixExample || (body as { type?: unknown }).type === 'svix.ping') return 'The svix.ping test message';
  }
  return undefined;
}

/** The sender's own delivery id when it sends one (a re-sent delivery keeps it), else the body's SHA-256. */
export function dedupeKeyFor(
  headers: Readonly<Record<string, string>>,
  rawBody: Buffer,
  kind?: TriggerKind,
): string {
  for (const [header, prefix, onlyFor] of DELIVERY_ID_HEADERS) {
    if (onlyFor !== undefined && onlyFor !== kind) continue;
    const id = headers[header];
    if (id && id.trim() !== '') return `${prefix}:${id}`;
  }
  return createHash('sha256').update(rawBody).digest('hex');
}
