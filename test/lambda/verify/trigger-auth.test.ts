import { Webhook } from 'standardwebhooks';
import {
  bodyHmac,
  checkLinearTimestamp,
  standardWebhooksKey,
  triggerHeader,
  verifyTriggerCredential,
} from '../../../lambda/verify/trigger-auth';
import { parseTriggerDefinitions } from '../../../lambda/verify/trigger-config';
import { type TriggerDefinition } from '../../../lambda/shared/triggers';

const SECRET = 'shared-secret-123';
const NOW = new Date('2026-11-23T12:00:00.000Z');
const body = Buffer.from('{"action":"closed","number":7}');
const hex = bodyHmac(SECRET, body, 'hex');
const b64 = bodyHmac(SECRET, body, 'base64');
const wrongHex = bodyHmac('other', body, 'hex');

const github: TriggerDefinition = { name: 'gh', kind: 'github' };
const linear: TriggerDefinition = { name: 'ln', kind: 'linear' };
const hmacHex: TriggerDefinition = { name: 'h', kind: 'hmac-sha256', header: 'X-Sig' };
const hmacB64: TriggerDefinition = { name: 'h64', kind: 'hmac-sha256', header: 'X-Sig', encoding: 'base64' };
const token: TriggerDefinition = { name: 't', kind: 'token', header: 'X-Token' };
const standard: TriggerDefinition = { name: 'sw', kind: 'standard-webhooks' };

/** Checks a single-header kind's credential as the verify function presents it. */
function check(definition: TriggerDefinition, header: string, raw = body, secrets = [SECRET]) {
  return verifyTriggerCredential(definition, { [triggerHeader(definition)]: header }, raw, secrets, NOW);
}

describe('verifyTriggerCredential', () => {
  it.each<[string, TriggerDefinition, string, string]>([
    ['github valid', github, `sha256=${hex}`, 'ok:github'],
    ['github upper-case hex', github, `sha256=${hex.toUpperCase()}`, 'ok:github'],
    ['github wrong secret', github, `sha256=${wrongHex}`, 'invalid_signature'],
    ['github without the sha256= prefix', github, hex, 'malformed_signature'],
    ['github with sha1= prefix', github, `sha1=${hex.slice(0, 40)}`, 'malformed_signature'],
    ['linear valid', linear, hex, 'ok:linear'],
    ['linear wrong secret', linear, wrongHex, 'invalid_signature'],
    ['linear not hex', linear, 'zz', 'malformed_signature'],
    ['hmac hex valid', hmacHex, hex, 'ok:hmac-sha256'],
    ['hmac hex with sha256= prefix', hmacHex, `sha256=${hex}`, 'ok:hmac-sha256'],
    ['hmac hex given base64', hmacHex, b64, 'malformed_signature'],
    ['hmac PagerDuty v1= form', hmacHex, `v1=${hex}`, 'ok:hmac-sha256'],
    [
      'hmac PagerDuty rotation (two signatures, one valid)',
      hmacHex,
      `v1=${wrongHex},v1=${hex}`,
      'ok:hmac-sha256',
    ],
    ['hmac two signatures, none valid', hmacHex, `v1=${wrongHex},v1=${wrongHex}`, 'invalid_signature'],
    ['hmac base64 valid', hmacB64, b64, 'ok:hmac-sha256'],
    ['hmac base64 given hex', hmacB64, hex, 'malformed_signature'],
    ['hmac base64 wrong secret', hmacB64, bodyHmac('other', body, 'base64'), 'invalid_signature'],
    ['token valid', token, SECRET, 'ok:token'],
    ['token wrong', token, 'nope', 'invalid_token'],
  ])('%s', (_name, definition, header, expected) => {
    const result = check(definition, header);
    expect(result.ok ? `ok:${result.method}` : result.code).toBe(expected);
  });

  it('accepts a signature made with the previous secret during a rotation', () => {
    const old = bodyHmac('old-secret', body, 'hex');
    expect(check(github, `sha256=${old}`, body, ['new-secret', 'old-secret']).ok).toBe(true);
  });

  it('signs the raw bytes: a re-serialised body does not verify', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(check(github, `sha256=${hex}`, reserialised)).toEqual({ ok: false, code: 'invalid_signature' });
  });
});

/**
 * Standard Webhooks, checked against signatures made by the spec's own TypeScript library
 * (`standardwebhooks` on npm), never by kitebridge's signing code.
 */
describe('verifyTriggerCredential: standard-webhooks', () => {
  // A secret in the form Svix shows it: whsec_ + base64 of 24 random bytes.
  const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const OTHER = 'whsec_' + Buffer.from('another-secret-of-24-byte').toString('base64');
  const ID = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
  const seconds = (date: Date) => String(Math.floor(date.getTime() / 1000));
  const at = (offsetSeconds: number) => new Date(NOW.getTime() + offsetSeconds * 1000);

  /** Headers as a Standard Webhooks sender sends them, signed by the reference library. */
  function signed(options: { secret?: string; id?: string; time?: Date; payload?: Buffer } = {}) {
    const time = options.time ?? NOW;
    const id = options.id ?? ID;
    return {
      'webhook-id': id,
      'webhook-timestamp': seconds(time),
      'webhook-signature': new Webhook(options.secret ?? WHSEC).sign(id, time, options.payload ?? body),
    };
  }
  const verify = (presented: Record<string, string>, raw = body, secrets = [WHSEC]) => {
    const result = verifyTriggerCredential(standard, presented, raw, secrets, NOW);
    return result.ok ? `ok:${result.method}` : result.code;
  };

  it('accepts a message signed by the reference library', () => {
    expect(verify(signed())).toBe('ok:standard-webhooks');
  });

  it('refuses a tampered body', () => {
    expect(verify(signed(), Buffer.from('{"action":"closed","number":8}'))).toBe('invalid_signature');
  });

  it('refuses a message signed with another secret', () => {
    expect(verify(signed({ secret: OTHER }))).toBe('invalid_signature');
  });

  it('signs the id and the timestamp too: changing either breaks the signature', () => {
    const good = signed();
    expect(verify({ ...good, 'webhook-id': 'msg_other' })).toBe('invalid_signature');
    expect(verify({ ...good, 'webhook-timestamp': seconds(at(1)) })).toBe('invalid_signature');
  });

  it.each([
    ['exactly 5 minutes old', -300, 'ok:standard-webhooks'],
    ['exactly 5 minutes ahead', 300, 'ok:standard-webhooks'],
    ['expired (5 min 1 s old)', -301, 'signature_expired'],
    ['from the future (5 min 1 s ahead)', 301, 'signature_expired'],
    ['a day old', -86_400, 'signature_expired'],
  ])('a timestamp %s (%i s) → %s', (_name, offset, expected) => {
    expect(verify(signed({ time: at(offset) }))).toBe(expected);
  });

  it('accepts any matching v1 among several space-separated signatures, ignoring other versions', () => {
    const right = signed()['webhook-signature'];
    const wrong = signed({ secret: OTHER })['webhook-signature'];
    const v1a =
      'v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==';
    expect(verify({ ...signed(), 'webhook-signature': `${wrong} ${v1a} ${right}` })).toBe(
      'ok:standard-webhooks',
    );
    expect(verify({ ...signed(), 'webhook-signature': `${wrong} ${v1a}` })).toBe('invalid_signature');
    // The right digest under another version is not a v1 signature.
    expect(verify({ ...signed(), 'webhook-signature': `${v1a} ${right.replace('v1,', 'v2,')}` })).toBe(
      'malformed_signature',
    );
  });

  it('accepts a signature made with either secret while the sender rotates', () => {
    expect(verify(signed({ secret: OTHER }), body, [WHSEC, OTHER])).toBe('ok:standard-webhooks');
  });

  it('takes the secret with or without the whsec_ prefix (the reference library does both)', () => {
    const bare = WHSEC.slice('whsec_'.length);
    expect(verify(signed({ secret: bare }), body, [WHSEC])).toBe('ok:standard-webhooks');
    expect(verify(signed(), body, [bare])).toBe('ok:standard-webhooks');
  });

  it.each<[string, Record<string, string>]>([
    ['a timestamp that is not unix seconds', { 'webhook-timestamp': NOW.toISOString() }],
    ['an id containing "." (ambiguous signed content)', { 'webhook-id': 'msg.1' }],
    [
      'a signature without its version',
      { 'webhook-signature': 'K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=' },
    ],
    ['a v1 signature that is not base64 of 32 bytes', { 'webhook-signature': 'v1,abc' }],
  ])('calls %s malformed', (_name, override) => {
    expect(verify({ ...signed(), ...override })).toBe('malformed_signature');
  });

  it('cannot match with a configured secret that is not base64', () => {
    expect(verify(signed(), body, ['not base64!'])).toBe('invalid_signature');
  });

  it.each([
    [WHSEC, 24],
    ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 24],
    ['whsec_', undefined],
    ['whsec_not-base64', undefined],
    ['abc', undefined],
  ])('standardWebhooksKey(%p) has %p bytes', (secret, bytes) => {
    expect(standardWebhooksKey(secret)?.length).toBe(bytes);
  });
});

describe('checkLinearTimestamp', () => {
  it.each([
    [NOW.getTime(), undefined],
    [NOW.getTime() - 60_000, undefined],
    [NOW.getTime() + 60_000, undefined],
    [NOW.getTime() - 60_001, 'signature_expired'],
    [NOW.getTime() + 60_001, 'signature_expired'],
    ['2026-11-23T12:00:00Z', 'signature_expired'],
    [undefined, 'signature_expired'],
  ])('webhookTimestamp %p → %p', (webhookTimestamp, expected) => {
    const result = checkLinearTimestamp({ action: 'create', webhookTimestamp }, NOW);
    expect(result && !result.ok ? result.code : undefined).toBe(expected);
  });
});

describe('parseTriggerDefinitions', () => {
  it('reads the list the stack sets, and nothing when unset', () => {
    expect(parseTriggerDefinitions(undefined)).toEqual([]);
    expect(
      parseTriggerDefinitions(
        '[{"name":"gh","kind":"github","secretArn":"arn:x"},{"name":"sw","kind":"standard-webhooks","secretArn":"arn:y"}]',
      ),
    ).toEqual([
      { name: 'gh', kind: 'github', secretArn: 'arn:x' },
      { name: 'sw', kind: 'standard-webhooks', secretArn: 'arn:y' },
    ]);
  });
  it.each([
    ['not json', /not JSON/],
    ['{}', /must be a JSON list/],
    ['[{"name":"gh","kind":"sha1","secretArn":"a"}]', /TRIGGERS\[0\] needs/],
    ['[{"name":"gh","kind":"github"}]', /TRIGGERS\[0\] needs/],
  ])('rejects %s', (value, message) => {
    expect(() => parseTriggerDefinitions(value)).toThrow(message);
  });
});
