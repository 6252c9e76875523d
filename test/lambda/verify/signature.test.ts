import fc from 'fast-check';
import { computeSignature, parseSignatureHeader, verifySignature } from '../../../lambda/verify/signature';

describe('computeSignature', () => {
  it('matches the reference test vector', () => {
    // REFERENCE.md section 1: key my-webhook-token, timestamp 1619071700, body {"event":"ping"}.
    expect(computeSignature('my-webhook-token', '1619071700', Buffer.from('{"event":"ping"}'))).toBe(
      'db7dd8a446d9035de73a55191643c0808f30df22970089f2e14f826658a97198',
    );
  });
});

describe('parseSignatureHeader', () => {
  const sig = 'a'.repeat(64);
  it.each([
    [`timestamp=1619071700,signature=${sig}`, { timestamp: '1619071700', signature: sig }],
    [` timestamp = 1619071700 , signature = ${sig} `, { timestamp: '1619071700', signature: sig }],
    [`signature=${sig},timestamp=1619071700`, { timestamp: '1619071700', signature: sig }],
    [`timestamp=1619071700,signature=${'A'.repeat(64)}`, { timestamp: '1619071700', signature: sig }],
  ])('parses %s', (header, expected) => {
    expect(parseSignatureHeader(header)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    [`signature=${sig}`, 'no timestamp'],
    ['timestamp=1619071700', 'no signature'],
    [`timestamp=abc,signature=${sig}`, 'non-numeric timestamp'],
    [`timestamp=-5,signature=${sig}`, 'negative timestamp'],
    [`timestamp=1619071700,signature=${'a'.repeat(63)}`, 'short signature'],
    [`timestamp=1619071700,signature=${'g'.repeat(64)}`, 'non-hex signature'],
    [`timestamp=1619071700,signature=${sig},signature=${sig}`, 'repeated key'],
    [`sha256=${sig}`, "another service's format"],
  ])('rejects %s (%s)', (header) => {
    expect(parseSignatureHeader(header)).toBeUndefined();
  });
});

describe('verifySignature', () => {
  const body = Buffer.from('{"event":"ping"}');
  const now = new Date(1619071700 * 1000);
  const header = (token: string, ts: number) =>
    `timestamp=${ts},signature=${computeSignature(token, String(ts), body)}`;

  it('accepts a valid signature and reports when it was signed', () => {
    const result = verifySignature(header('k', 1619071700), body, ['k'], now, 300);
    expect(result).toEqual({ ok: true, token: 'k', signedAt: new Date(1619071700 * 1000) });
  });

  it('accepts a signature made with any of the current tokens', () => {
    expect(verifySignature(header('old', 1619071700), body, ['new', 'old'], now, 300).ok).toBe(true);
  });

  it.each([
    [1619071700 - 300, true],
    [1619071700 + 300, true],
    [1619071700 - 301, false],
    [1619071700 + 301, false],
  ])('window edge: timestamp %i accepted=%s', (ts, accepted) => {
    const result = verifySignature(header('k', ts), body, ['k'], now, 300);
    expect(result.ok ? 'ok' : result.reason).toBe(accepted ? 'ok' : 'signature_expired');
  });

  it('rejects a signature over different bytes (re-serialised JSON)', () => {
    const pretty = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    const result = verifySignature(header('k', 1619071700), pretty, ['k'], now, 300);
    expect(result).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('rejects a wrong key and a malformed header', () => {
    expect(verifySignature(header('other', 1619071700), body, ['k'], now, 300)).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
    expect(verifySignature('timestamp=1', body, ['k'], now, 300)).toEqual({
      ok: false,
      reason: 'malformed_signature',
    });
  });
});

describe('verifySignature across many tokens', () => {
  it('matches the right token however many it has seen before (its key cache stays bounded)', () => {
    const body = Buffer.from('{"event":"ping"}');
    const now = new Date('2026-11-23T12:00:00.000Z');
    const timestamp = String(Math.floor(now.getTime() / 1000));
    for (let i = 0; i < 40; i++) {
      const token = `token-${i}`;
      const header = `timestamp=${timestamp},signature=${computeSignature(token, timestamp, body)}`;
      expect(verifySignature(header, body, ['other', token], now, 300)).toMatchObject({ ok: true, token });
      expect(verifySignature(header, body, [`token-${i + 1}`], now, 300)).toEqual({
        ok: false,
        reason: 'invalid_signature',
      });
    }
  });
});

describe('parseSignatureHeader against a plain split-based reading of its rule', () => {
  /** The documented rule, written plainly: split on `,`, each part on its first `=`, trimmed. */
  function reference(value: string) {
    const seen = new Set<string>();
    let timestamp: string | undefined;
    let signature: string | undefined;
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const key = part.slice(0, eq).trim();
      if (seen.has(key)) return undefined;
      seen.add(key);
      if (key === 'timestamp') timestamp = part.slice(eq + 1).trim();
      else if (key === 'signature') signature = part.slice(eq + 1).trim();
    }
    if (!timestamp || !/^\d{1,15}$/.test(timestamp)) return undefined;
    if (!signature || !/^[0-9a-fA-F]{64}$/.test(signature)) return undefined;
    return { timestamp, signature: signature.toLowerCase() };
  }

  it('agrees on headers like Buildkite’s and on their near misses', () => {
    const hex = fc.string({
      unit: fc.constantFrom(...'0123456789abcdefABCDEFg'),
      minLength: 62,
      maxLength: 66,
    });
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789x'), minLength: 0, maxLength: 17 });
    const space = fc.constantFrom('', ' ', '\t');
    const header = fc
      .tuple(
        space,
        digits,
        space,
        hex,
        space,
        fc.constantFrom('', ',', ',a=b', ',timestamp=1', ',signature=', 'x'),
      )
      .chain(([s1, ts, s2, sig, s3, extra]) =>
        fc.constantFrom(
          `timestamp=${ts},signature=${sig}${extra}`,
          `${s1}timestamp=${s2}${ts},signature=${sig}${s3}`,
          `signature=${sig},timestamp=${ts}`,
          `timestamp=${ts},signature=${sig}`,
        ),
      );
    fc.assert(
      fc.property(header, (value) => {
        expect(parseSignatureHeader(value)).toEqual(reference(value));
      }),
      { numRuns: 5000 },
    );
  });
});
