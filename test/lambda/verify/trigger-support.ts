import type { APIGatewayProxyEvent } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { toInboundRequest } from '../../../lambda/verify/request';
import { bodyHmac } from '../../../lambda/verify/trigger-auth';
import { type TriggerDefinition, type TriggerKind } from '../../../lambda/shared/triggers';
import type { TriggerEntry } from '../../../lambda/verify/ports';
import type { VerifySettings } from '../../../lambda/verify/types';
import { verifyDelivery } from '../../../lambda/verify/verify';
import { apiEvent, NOW, TOKEN } from '../../../support/api-event';
import { RecordingDeliverer, staticTokens } from '../../../support/fakes';

/**
 * The shared secret of every test trigger. It is in Standard Webhooks form (whsec_ + base64 of
 * 24 bytes), which the other kinds use as an ordinary string.
 */
export const TRIGGER_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const WRONG_SECRET = 'whsec_' + Buffer.from('not-the-secret-24-bytes!').toString('base64');

/** One trigger of each kind, as a deployment might declare them. */
export const TRIGGER_OF_KIND: Readonly<Record<TriggerKind, TriggerDefinition>> = {
  github: { name: 'github-deploy', kind: 'github' },
  linear: { name: 'linear-issues', kind: 'linear' },
  'hmac-sha256': { name: 'pagerduty-signed', kind: 'hmac-sha256', header: 'X-PagerDuty-Signature' },
  token: { name: 'pagerduty-token', kind: 'token', header: 'X-PD-Token' },
  'standard-webhooks': { name: 'svix-app', kind: 'standard-webhooks' },
};

export const SETTINGS: VerifySettings = { replayWindowSeconds: 300, maxBodyBytes: 1_000_000 };

/**
 * A POST /triggers/{name} event. A header given as a list is sent once per value (a header
 * repeated with different values).
 */
export function triggerEvent(
  name: string,
  body: string,
  headers: Readonly<Record<string, string | readonly string[]>>,
): APIGatewayProxyEvent {
  const event = apiEvent({ body });
  const all: Record<string, readonly string[]> = { 'Content-Type': ['application/json'] };
  for (const [header, value] of Object.entries(headers))
    all[header] = typeof value === 'string' ? [value] : value;
  return {
    ...event,
    resource: '/triggers/{name}',
    path: `/triggers/${name}`,
    pathParameters: { name },
    headers: Object.fromEntries(
      Object.entries(all).map(([h, values]) => [h, values[values.length - 1] as string]),
    ),
    multiValueHeaders: Object.fromEntries(Object.entries(all).map(([h, values]) => [h, [...values]])),
  };
}

/**
 * The credential headers a sender of `definition`'s kind would send for `body`, signed with
 * `secret` at `time`. Standard Webhooks are signed by the reference library, not by kitebridge.
 */
export function credentialsFor(
  definition: TriggerDefinition,
  body: string,
  options: { secret?: string; time?: Date; id?: string } = {},
): Record<string, string> {
  const secret = options.secret ?? TRIGGER_SECRET;
  const raw = Buffer.from(body);
  switch (definition.kind) {
    case 'github':
      return { 'X-Hub-Signature-256': `sha256=${bodyHmac(secret, raw, 'hex')}` };
    case 'linear':
      return { 'Linear-Signature': bodyHmac(secret, raw, 'hex') };
    case 'hmac-sha256':
      return { [definition.header as string]: `v1=${bodyHmac(secret, raw, definition.encoding ?? 'hex')}` };
    case 'token':
      return { [definition.header as string]: secret };
    case 'standard-webhooks': {
      const time = options.time ?? NOW;
      const id = options.id ?? 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
      return {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(time.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(id, time, body),
      };
    }
  }
}

/** Runs one trigger request through the verify function's core with the given triggers. */
export async function runTrigger(
  event: APIGatewayProxyEvent,
  definitions: readonly TriggerDefinition[] = Object.values(TRIGGER_OF_KIND),
  settings: VerifySettings = SETTINGS,
  secret = TRIGGER_SECRET,
) {
  const triggers = new Map<string, TriggerEntry>(
    definitions.map((d) => [
      d.name,
      { definition: d, secrets: staticTokens(JSON.stringify({ token: secret })) },
    ]),
  );
  const deliverer = new RecordingDeliverer();
  const outcome = await verifyDelivery(
    toInboundRequest(event),
    { tokens: staticTokens(TOKEN), deliverer, triggers, now: () => NOW },
    settings,
  );
  return { outcome, deliverer };
}
