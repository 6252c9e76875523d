import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ERRORS, errorAnswer } from '../../../lambda/verify/answers';
import {
  TRIGGER_ERROR_CODES,
  triggerErrorAnswer,
  type TriggerErrorCode,
} from '../../../lambda/verify/trigger-answers';
import { TRIGGER_KINDS, type TriggerDefinition, type TriggerKind } from '../../../lambda/shared/triggers';
import { NOW } from '../../../support/api-event';
import {
  credentialsFor,
  runTrigger,
  SETTINGS,
  TRIGGER_OF_KIND,
  triggerEvent,
  WRONG_SECRET,
} from './trigger-support';

/** How each kind's caller must be told to authenticate: its header, as the sender spells it, and scheme. */
const SPOKEN: Readonly<Record<TriggerKind, { header: string; scheme: string; jsonFix: string }>> = {
  github: {
    header: 'X-Hub-Signature-256',
    scheme: 'X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>',
    jsonFix: "in GitHub's webhook settings, set Content type to application/json",
  },
  linear: {
    header: 'Linear-Signature',
    scheme: 'Linear-Signature: <hex HMAC-SHA256 of the raw body>',
    jsonFix: 'Linear sends JSON',
  },
  'hmac-sha256': {
    header: 'X-PagerDuty-Signature',
    scheme: 'X-PagerDuty-Signature: <hex HMAC-SHA256 of the raw body>',
    jsonFix: 'the sender must send the payload as JSON',
  },
  token: {
    header: 'X-PD-Token',
    scheme: 'X-PD-Token: <the "token" value of this trigger\'s secret>',
    jsonFix: 'the sender must send the payload as JSON',
  },
  'standard-webhooks': {
    header: 'webhook-signature',
    scheme: 'webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>">',
    jsonFix: 'the sender must send the payload as JSON',
  },
};

/** What the fix for a wrong secret names, per kind. */
const SECRET_FIX: Readonly<Record<TriggerKind, string>> = {
  github: "set the Secret in GitHub's webhook settings",
  linear:
    "put the signing secret from Linear's webhook settings (Settings → API → Webhooks) in this trigger's secret",
  'hmac-sha256': 'have the sender sign with the "token" value of this trigger\'s secret',
  token: 'send the "token" value of this trigger\'s secret in X-PD-Token',
  'standard-webhooks': "put the endpoint's signing secret (whsec_…) from the sender's webhook settings",
};

const PAYLOAD = JSON.stringify({ action: 'closed', number: 7, webhookTimestamp: NOW.getTime() - 5_000 });

/** A request of `definition`'s kind that must be refused with `code`, or undefined when the kind cannot produce it. */
function refusedRequest(definition: TriggerDefinition, code: TriggerErrorCode) {
  const { name, kind } = definition;
  const signed = (body: string, options?: Parameters<typeof credentialsFor>[2]) =>
    credentialsFor(definition, body, options);
  const credentialHeader = Object.keys(signed(PAYLOAD)).at(-1) as string;
  switch (code) {
    case 'missing_auth': {
      const headers = signed(PAYLOAD);
      delete headers[credentialHeader];
      return triggerEvent(name, PAYLOAD, headers);
    }
    case 'ambiguous_auth': {
      const two = [signed(PAYLOAD)[credentialHeader] as string, 'another value'];
      return triggerEvent(name, PAYLOAD, { ...signed(PAYLOAD), [credentialHeader]: two });
    }
    case 'malformed_signature':
      return kind === 'token'
        ? undefined
        : triggerEvent(name, PAYLOAD, { ...signed(PAYLOAD), [credentialHeader]: 'nope' });
    case 'invalid_signature':
      return kind === 'token'
        ? undefined
        : triggerEvent(name, PAYLOAD, signed(PAYLOAD, { secret: WRONG_SECRET }));
    case 'invalid_token':
      return kind === 'token'
        ? triggerEvent(name, PAYLOAD, signed(PAYLOAD, { secret: WRONG_SECRET }))
        : undefined;
    case 'signature_expired':
      if (kind === 'linear') {
        const stale = JSON.stringify({ action: 'update', webhookTimestamp: NOW.getTime() - 61_000 });
        return triggerEvent(name, stale, signed(stale));
      }
      if (kind === 'standard-webhooks') {
        return triggerEvent(name, PAYLOAD, signed(PAYLOAD, { time: new Date(NOW.getTime() - 301_000) }));
      }
      return undefined;
    case 'empty_body':
      return triggerEvent(name, '', signed(''));
    case 'invalid_json':
      return triggerEvent(name, 'a=b', signed('a=b'));
    case 'unsupported_media_type':
      return triggerEvent(name, PAYLOAD, {
        ...signed(PAYLOAD),
        'Content-Type': 'application/x-www-form-urlencoded',
      });
    case 'body_too_large': {
      const big = JSON.stringify({ blob: 'x'.repeat(SETTINGS.maxBodyBytes) });
      return triggerEvent(name, big, signed(big));
    }
    case 'auth_unavailable':
    case 'persist_failed':
      return undefined; // 5xx: not the sender's to fix
  }
}

const FOUR_XX = TRIGGER_ERROR_CODES.filter((code) => ERRORS[code][0] < 500);

/**
 * What the message of each 4xx must name for the sender to fix it, in the kind's own words: its
 * credential header, its signing scheme, how to make the secrets agree, how to send JSON.
 */
const NAMES: Readonly<Record<TriggerErrorCode, readonly (keyof typeof SPOKEN.github | 'secretFix')[]>> = {
  missing_auth: ['header', 'scheme', 'secretFix'],
  ambiguous_auth: ['header'],
  malformed_signature: ['header', 'scheme'],
  invalid_signature: ['header', 'scheme', 'secretFix'],
  invalid_token: ['header', 'secretFix'],
  signature_expired: ['header'],
  empty_body: ['jsonFix'],
  invalid_json: ['jsonFix'],
  unsupported_media_type: ['jsonFix'],
  body_too_large: [],
  auth_unavailable: [],
  persist_failed: [],
};
const cases = TRIGGER_KINDS.flatMap((kind) =>
  FOUR_XX.map((code) => [kind, code, refusedRequest(TRIGGER_OF_KIND[kind], code)] as const),
).filter(([, , event]) => event !== undefined);

describe('answers on /triggers/{name}, in each kind’s own words', () => {
  it('covers every kind and every 4xx the trigger route gives', () => {
    expect(new Set(cases.map(([kind]) => kind))).toEqual(new Set(TRIGGER_KINDS));
    expect(new Set(cases.map(([, code]) => code))).toEqual(new Set(FOUR_XX));
  });

  it.each(cases)('%s, %s', async (kind, code, event) => {
    const { outcome, deliverer } = await runTrigger(event!);
    const spoken = SPOKEN[kind];
    const message = outcome.answer.body.message as string;

    // The machine code and status are the stable ones; only the human message changes.
    expect(outcome.answer.statusCode).toBe(ERRORS[code][0]);
    expect(outcome.answer.body.error).toBe(code);
    expect(deliverer.delivered).toHaveLength(0);

    expect(message).not.toMatch(/buildkite/i);
    for (const part of NAMES[code]) {
      expect(message).toContain(part === 'secretFix' ? SECRET_FIX[kind] : spoken[part]);
    }
  });

  it('tells a Linear sender about webhookTimestamp and a Standard Webhooks sender about webhook-timestamp', async () => {
    const linear = await runTrigger(refusedRequest(TRIGGER_OF_KIND.linear, 'signature_expired')!);
    expect(linear.outcome.answer.body.message).toMatch(/"webhookTimestamp" is missing or more than 60 s/);
    const standard = await runTrigger(
      refusedRequest(TRIGGER_OF_KIND['standard-webhooks'], 'signature_expired')!,
    );
    expect(standard.outcome.answer.body.message).toMatch(/webhook-timestamp is more than 5 minutes from now/);
  });

  it("answers a real Linear body (2021, sent before Linear added webhookTimestamp) in Linear's words", async () => {
    const body = readFileSync(
      path.join(
        __dirname,
        '../../../../shared/realworld/triggers/linear.korosuke613.updateIssueEstimated.json',
      ),
      'utf8',
    );
    const linear = TRIGGER_OF_KIND.linear;
    const { outcome } = await runTrigger(triggerEvent(linear.name, body, credentialsFor(linear, body)));
    expect(outcome.answer).toMatchObject({ statusCode: 401, body: { error: 'signature_expired' } });
    expect(outcome.answer.body.message).toContain('webhookTimestamp');
    expect(outcome.answer.body.message).not.toMatch(/buildkite/i);
  });

  it('answers an unknown trigger 404 without naming any header', async () => {
    const { outcome } = await runTrigger(triggerEvent('nope', PAYLOAD, {}));
    expect(outcome.answer).toMatchObject({ statusCode: 404, body: { error: 'unknown_trigger' } });
    expect(outcome.answer.body.message).not.toMatch(/buildkite/i);
  });

  it.each(TRIGGER_KINDS.flatMap((kind) => TRIGGER_ERROR_CODES.map((code) => [kind, code] as const)))(
    'triggerErrorAnswer(%s, %s) keeps the code and status of errorAnswer and never speaks of Buildkite',
    (kind, code) => {
      const answer = triggerErrorAnswer(TRIGGER_OF_KIND[kind], code);
      expect(answer.statusCode).toBe(errorAnswer(code).statusCode);
      expect(answer.body.error).toBe(code);
      expect(answer.body.message).toEqual(expect.any(String));
      expect(answer.body.message).not.toMatch(/buildkite/i);
    },
  );

  it("leaves the Buildkite route's messages as they were", () => {
    expect(errorAnswer('invalid_signature').body.message).toContain('"<timestamp>.<raw body>"');
    expect(errorAnswer('missing_auth').body.message).toContain('X-Buildkite-Token');
  });
});
