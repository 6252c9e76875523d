import {
  bodyHmac,
  checkLinearTimestamp,
  parseTriggerDefinitions,
  verifyTriggerCredential,
  type TriggerDefinition,
} from '../../../lambda/verify/trigger-auth';

const SECRET = 'shared-secret-123';
const body = Buffer.from('{"action":"closed","number":7}');
const hex = bodyHmac(SECRET, body, 'hex');
const b64 = bodyHmac(SECRET, body, 'base64');
const wrongHex = bodyHmac('other', body, 'hex');

const github: TriggerDefinition = { name: 'gh', kind: 'github' };
const linear: TriggerDefinition = { name: 'ln', kind: 'linear' };
const hmacHex: TriggerDefinition = { name: 'h', kind: 'hmac-sha256', header: 'X-Sig' };
const hmacB64: TriggerDefinition = { name: 'h64', kind: 'hmac-sha256', header: 'X-Sig', encoding: 'base64' };
const token: TriggerDefinition = { name: 't', kind: 'token', header: 'X-Token' };

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
    const result = verifyTriggerCredential(definition, header, body, [SECRET]);
    expect(result.ok ? `ok:${result.method}` : result.code).toBe(expected);
  });

  it('accepts a signature made with the previous secret during a rotation', () => {
    const old = bodyHmac('old-secret', body, 'hex');
    expect(verifyTriggerCredential(github, `sha256=${old}`, body, ['new-secret', 'old-secret']).ok).toBe(
      true,
    );
  });

  it('signs the raw bytes: a re-serialised body does not verify', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(verifyTriggerCredential(github, `sha256=${hex}`, reserialised, [SECRET])).toEqual({
      ok: false,
      code: 'invalid_signature',
    });
  });
});

describe('checkLinearTimestamp', () => {
  const now = new Date('2026-11-23T12:00:00.000Z');
  it.each([
    [now.getTime(), undefined],
    [now.getTime() - 60_000, undefined],
    [now.getTime() + 60_000, undefined],
    [now.getTime() - 60_001, 'signature_expired'],
    [now.getTime() + 60_001, 'signature_expired'],
    ['2026-11-23T12:00:00Z', 'signature_expired'],
    [undefined, 'signature_expired'],
  ])('webhookTimestamp %p → %p', (webhookTimestamp, expected) => {
    const result = checkLinearTimestamp({ action: 'create', webhookTimestamp }, now);
    expect(result && !result.ok ? result.code : undefined).toBe(expected);
  });
});

describe('parseTriggerDefinitions', () => {
  it('reads the list the stack sets, and nothing when unset', () => {
    expect(parseTriggerDefinitions(undefined)).toEqual([]);
    expect(parseTriggerDefinitions('[{"name":"gh","kind":"github","secretArn":"arn:x"}]')).toEqual([
      { name: 'gh', kind: 'github', secretArn: 'arn:x' },
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
