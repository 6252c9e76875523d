import { createHash } from 'node:crypto';
import { TRIGGER_SAFE_HEADERS, type DeliveryMetadata } from '../shared/contract';
import { acceptedAnswer, errorAnswer, type ErrorCode } from './answers';
import { headerValues, type InboundRequest } from './request';
import { checkWithRefresh, SecretUnavailableError } from './token-source';
import {
  checkLinearTimestamp,
  triggerHeader,
  verifyTriggerCredential,
  type TriggerAuthResult,
} from './trigger-auth';
import type { Outcome, TriggerEntry, VerifyDeps } from './verify';

/** Sender delivery-id headers, in order of preference, and the prefix of the dedupe key each gives. */
const DELIVERY_ID_HEADERS: readonly [string, string][] = [
  ['x-github-delivery', 'github'],
  ['linear-delivery', 'linear'],
  ['x-pagerduty-webhook-id', 'pagerduty'],
];

/**
 * A third party's request to start a Buildkite build: authenticated per the trigger's kind,
 * JSON, then delivered as a `trigger.<name>` event carrying the payload and a safe subset of
 * the request headers. Preflight (media type, size) has already passed.
 */
export async function verifyTriggerRequest(
  request: InboundRequest,
  trigger: TriggerEntry,
  deps: Pick<VerifyDeps, 'deliverer'>,
  now: Date,
): Promise<Outcome> {
  const bytes = request.rawBody.length;
  const base = { bytes, event: `trigger.${trigger.definition.name}` };
  const reject = (code: ErrorCode, extra: Partial<Outcome> = {}): Outcome => ({
    answer: errorAnswer(code),
    code,
    ...base,
    ...extra,
  });

  const presented = headerValues(request, triggerHeader(trigger.definition));
  if (presented.length === 0) return reject('missing_auth');
  if (presented.length > 1) return reject('ambiguous_auth');
  let auth: TriggerAuthResult;
  try {
    auth = await checkWithRefresh(trigger.secrets, (secrets) =>
      verifyTriggerCredential(trigger.definition, presented[0] as string, request.rawBody, secrets),
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
  if (trigger.definition.kind === 'linear') {
    const stale = checkLinearTimestamp(payload, now);
    if (stale && !stale.ok) return reject(stale.code, { auth: auth.method });
  }

  const headers: Record<string, string> = {};
  const credentialHeader = triggerHeader(trigger.definition);
  for (const name of TRIGGER_SAFE_HEADERS) {
    if (name === credentialHeader) continue; // never copy the credential onto the bus
    const values = headerValues(request, name);
    if (values.length === 1) headers[name] = values[0] as string;
  }
  const delivery: DeliveryMetadata = {
    receivedAt: now.toISOString(),
    requestId: request.requestId,
    dedupeKey: dedupeKeyFor(headers, request.rawBody),
    auth: auth.method,
    sourceIp: request.sourceIp,
  };
  const common = { ...base, auth: auth.method, dedupeKey: delivery.dedupeKey };
  try {
    const status = await deps.deliverer.deliver({
      kind: 'trigger',
      trigger: trigger.definition.name,
      body: payload,
      text,
      rawBody: request.rawBody,
      headers,
      delivery,
    });
    return { answer: acceptedAnswer(request.requestId, status), code: status, ...common };
  } catch {
    return { answer: errorAnswer('persist_failed'), code: 'persist_failed', ...common };
  }
}

/** The sender's own delivery id when it sends one (a re-sent delivery keeps it), else the body's SHA-256. */
export function dedupeKeyFor(headers: Readonly<Record<string, string>>, rawBody: Buffer): string {
  for (const [header, prefix] of DELIVERY_ID_HEADERS) {
    const id = headers[header];
    if (id) return `${prefix}:${id}`;
  }
  return createHash('sha256').update(rawBody).digest('hex');
}
