/**
 * Property-based fuzzing of the verify handler (`createVerifyHandler`), shared by
 * test/reliability/fuzz.test.ts (a quick sample) and scripts/fuzz.ts (long runs).
 *
 * Random API Gateway REST proxy events (random header names, cases, duplicated and multi-value
 * credentials, arbitrary / JSON / Buildkite-like / unicode / huge bodies, valid and broken base64,
 * signatures valid, off by one, over other bodies or timestamps, path tokens) are driven through
 * the real handler with a recording deliverer and a static token source, and every answer and
 * every delivery is checked independently of the code under test.
 *
 * No jest globals here: the script imports this module too.
 */
import { createHash, createHmac } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { ALL_BUILDKITE_EVENTS, TRIGGER_SAFE_HEADERS } from '../lambda/shared/contract';
import { ERRORS } from '../lambda/verify/answers';
import { createVerifyHandler } from '../lambda/verify/app';
import type { Deliverer, VerifiedDelivery } from '../lambda/verify/ports';
import { computeSignature } from '../lambda/verify/signature';
import { TokenSource } from '../lambda/verify/token-source';
import { bodyHmac, LINEAR_WINDOW_MS } from '../lambda/verify/trigger-auth';
import { type TriggerDefinition } from '../lambda/shared/triggers';
import type { TriggerEntry } from '../lambda/verify/ports';
import type { Outcome, VerifySettings } from '../lambda/verify/types';
import { apiEvent, NOW, NOW_SECONDS, TOKEN } from './api-event';
import { RecordingDeliverer, staticTokens } from './fakes';

// ---------------------------------------------------------------------------------------------
// The system under test, configured.

/** The current token and the previous one (a rotation in progress): both are accepted. */
export const PREVIOUS_TOKEN = 'previous-webhook-token-9876543210';
export const ACCEPTED_TOKENS: readonly string[] = [TOKEN, PREVIOUS_TOKEN];
export const SECRET_VALUE = JSON.stringify({ token: TOKEN, previousToken: PREVIOUS_TOKEN });
export const SETTINGS: VerifySettings = { replayWindowSeconds: 300, maxBodyBytes: 64 * 1024 };
export const SOURCE_IP = '192.0.2.10';

/** Pipeline triggers, one of each kind; each accepts the same two secrets as the webhook. */
export const TRIGGERS: readonly TriggerDefinition[] = [
  { name: 'github-deploy', kind: 'github' },
  { name: 'linear', kind: 'linear' },
  { name: 'hmac-hex', kind: 'hmac-sha256' },
  { name: 'hmac-b64', kind: 'hmac-sha256', header: 'X-Hook-Signature', encoding: 'base64' },
  { name: 'deploy-token', kind: 'token', header: 'X-Deploy-Token' },
];

function triggerEntries(secrets: () => TokenSource): Map<string, TriggerEntry> {
  return new Map(TRIGGERS.map((definition) => [definition.name, { definition, secrets: secrets() }]));
}

/** One generated request, and (for the well-formed arbitrary) what kitebridge must do with it. */
export interface FuzzCase {
  readonly event: APIGatewayProxyEvent;
  readonly expected?: { readonly auth: 'token' | 'signature' | 'path-token'; readonly signedAt?: string };
}

export interface HandlerRun {
  readonly result?: APIGatewayProxyResult;
  readonly thrown?: unknown;
  readonly delivered: readonly VerifiedDelivery[];
  readonly outcomes: readonly Outcome[];
}

class FailingDeliverer implements Deliverer {
  attempts = 0;
  async deliver(): Promise<'published' | 'spooled'> {
    this.attempts++;
    throw new Error('the bus and the spool are both down');
  }
}

/** Runs one event through a freshly built handler; never throws (a throw is recorded). */
export async function runHandler(
  event: APIGatewayProxyEvent,
  deps: { deliverer?: Deliverer; secrets?: () => TokenSource } = {},
): Promise<HandlerRun> {
  const recording = new RecordingDeliverer();
  const outcomes: Outcome[] = [];
  const secrets = deps.secrets ?? (() => staticTokens(SECRET_VALUE));
  const handler = createVerifyHandler(
    {
      tokens: secrets(),
      deliverer: deps.deliverer ?? recording,
      triggers: triggerEntries(secrets),
      now: () => NOW,
    },
    SETTINGS,
    (outcome) => void outcomes.push(outcome),
  );
  try {
    const result = await handler(event);
    return { result, delivered: recording.delivered, outcomes };
  } catch (thrown) {
    return { thrown, delivered: recording.delivered, outcomes };
  }
}

// ---------------------------------------------------------------------------------------------
// An independent reading of a request: what the test believes, computed without the source.

/** The body bytes Lambda would see. */
export function rawBytesOf(event: APIGatewayProxyEvent): Buffer {
  if (event.body === null || event.body === undefined) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Every distinct value of a header across `headers` and `multiValueHeaders`, name case-insensitive. */
export function valuesOf(event: APIGatewayProxyEvent, name: string): string[] {
  const found = new Set<string>();
  const wanted = name.toLowerCase();
  for (const [key, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === wanted) for (const v of values ?? []) found.add(v);
  }
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) found.add(value);
  }
  return [...found];
}

export interface IndependentAuth {
  readonly method: 'token' | 'signature' | 'path-token';
  readonly signedAt?: string;
}

/**
 * Whether the request proves knowledge of an accepted token: the correct path token; or exactly
 * one credential header, being either an accepted token or a signature header holding a
 * timestamp within the window and the HMAC-SHA256 of `<timestamp>.<raw bytes>` under an
 * accepted token. Deliberately lenient on header syntax, strict on the cryptography.
 */
export function independentlyAuthentic(event: APIGatewayProxyEvent): IndependentAuth | undefined {
  const pathToken = event.pathParameters?.urlToken;
  if (pathToken !== undefined) {
    return ACCEPTED_TOKENS.includes(pathToken) ? { method: 'path-token' } : undefined;
  }
  const tokens = valuesOf(event, 'x-buildkite-token');
  const signatures = valuesOf(event, 'x-buildkite-signature');
  if (tokens.length + signatures.length !== 1) return undefined;
  if (tokens.length === 1)
    return ACCEPTED_TOKENS.includes(tokens[0] as string) ? { method: 'token' } : undefined;

  const header = signatures[0] as string;
  const raw = rawBytesOf(event);
  const timestamps = [...header.matchAll(/timestamp\s*=\s*(\d+)/g)].map((m) => m[1] as string);
  const macs = [...header.matchAll(/signature\s*=\s*([0-9a-fA-F]{64})/g)].map((m) =>
    (m[1] as string).toLowerCase(),
  );
  for (const ts of timestamps) {
    if (Math.abs(NOW_SECONDS - Number(ts)) > SETTINGS.replayWindowSeconds) continue;
    for (const token of ACCEPTED_TOKENS) {
      if (macs.includes(computeSignature(token, ts, raw))) {
        return { method: 'signature', signedAt: new Date(Number(ts) * 1000).toISOString() };
      }
    }
  }
  return undefined;
}

/** The configured trigger a request is for, if it used the trigger route. */
export function triggerOf(event: APIGatewayProxyEvent): TriggerDefinition | undefined {
  if (event.resource !== '/triggers/{name}') return undefined;
  return TRIGGERS.find((t) => t.name === event.pathParameters?.name);
}

/**
 * Whether a trigger request proves knowledge of an accepted secret, per its kind: exactly one
 * value of the trigger's header, being the token, or the HMAC-SHA256 of the raw bytes keyed with
 * an accepted secret (`sha256=<hex>` for GitHub, `<hex>` for Linear, either, or base64, for the
 * generic kind).
 */
export function independentlyAuthenticTrigger(event: APIGatewayProxyEvent): string | undefined {
  const trigger = triggerOf(event);
  if (!trigger) return undefined;
  const presented = valuesOf(event, trigger.header ?? defaultHeader(trigger));
  if (presented.length !== 1) return undefined;
  const value = presented[0] as string;
  const raw = rawBytesOf(event);
  for (const secret of ACCEPTED_TOKENS) {
    const hex = createHmac('sha256', secret).update(raw).digest('hex');
    const b64 = createHmac('sha256', secret).update(raw).digest('base64');
    const ok =
      trigger.kind === 'token'
        ? value === secret
        : trigger.kind === 'github'
          ? value.startsWith('sha256=') && value.slice(7).toLowerCase() === hex
          : trigger.kind === 'linear'
            ? value.toLowerCase() === hex
            : trigger.encoding === 'base64'
              ? value.replace(/^sha256=/, '') === b64
              : value.replace(/^sha256=/, '').toLowerCase() === hex;
    if (ok) return trigger.kind;
  }
  return undefined;
}

function defaultHeader(trigger: TriggerDefinition): string {
  return {
    github: 'X-Hub-Signature-256',
    linear: 'Linear-Signature',
    'hmac-sha256': 'X-Signature-256',
    token: 'X-Trigger-Token',
    // Not fuzzed: its signature covers two more headers (see the standard-webhooks trigger tests).
    'standard-webhooks': 'webhook-signature',
  }[trigger.kind];
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

// ---------------------------------------------------------------------------------------------
// Arbitraries.

const nearMiss = (token: string) =>
  fc.tuple(fc.nat(), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 })).map(([at, ch]) => {
    const i = at % token.length;
    const swapped = token.slice(0, i) + ch + token.slice(i + 1);
    return swapped === token ? `${token}${ch}` : swapped;
  });

const tokenValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...ACCEPTED_TOKENS) },
  { weight: 3, arbitrary: nearMiss(TOKEN) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ` ${TOKEN}`,
      `${TOKEN} `,
      TOKEN.toUpperCase(),
      TOKEN.slice(0, -1),
      `${TOKEN}${PREVIOUS_TOKEN}`,
      `${TOKEN},${PREVIOUS_TOKEN}`,
      JSON.stringify({ token: TOKEN }),
      SECRET_VALUE,
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
);

const knownEventArb = fc.constantFrom(...ALL_BUILDKITE_EVENTS);
const validEventNameArb = fc.oneof(
  { weight: 4, arbitrary: knownEventArb },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/) },
);
const eventNameArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: validEventNameArb },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'ping\n',
      ' ping',
      'build finished',
      'x'.repeat(129),
      'é',
      'ping\u0000',
      'build.finished\u2028',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.array(knownEventArb)) },
);

const textArb = fc.string({ unit: 'grapheme', maxLength: 30 });
const buildkiteObjectArb = <E>(event: fc.Arbitrary<E>) =>
  fc.record(
    {
      event,
      build: fc.record(
        {
          id: fc.uuid(),
          number: fc.nat(),
          state: fc.constantFrom('passed', 'failed', 'running', 'canceled'),
          branch: textArb,
          message: fc.string({ unit: 'binary', maxLength: 40 }),
          env: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
        },
        { requiredKeys: [] },
      ),
      pipeline: fc.record({ slug: textArb, name: textArb }, { requiredKeys: [] }),
      sender: fc.record({ id: fc.uuid(), name: textArb }),
      delivery: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ requestId: fc.constant('forged') })),
      extra: fc.jsonValue({ maxDepth: 3 }),
    },
    { requiredKeys: ['event'] },
  );

/** Test Engine monitor bodies (no `event`; `type` and `timestamp`) and near-misses of them. */
const testEngineObjectArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom('passed_on_retry', 'probabilistic_flakiness'),
      fc.constantFrom('', ' ', 'passed on retry', 't'.repeat(120), 'é'),
      fc.integer(),
    ),
    timestamp: fc.oneof(fc.constant('2026-11-23T11:59:00Z'), fc.integer(), fc.constant(null)),
    score: fc.double({ noNaN: true }),
    execution_branch: textArb,
  },
  { requiredKeys: ['type'] },
);

/** Different serialisations of the same object: the bytes are what is signed. */
const serialisedArb = (objects: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .tuple(objects, fc.constantFrom('compact', 'pretty', 'tabs', 'padded', 'eventFirstTwice'))
    .map(([object, style]) => {
      switch (style) {
        case 'compact':
          return JSON.stringify(object);
        case 'pretty':
          return JSON.stringify(object, null, 2);
        case 'tabs':
          return `${JSON.stringify(object, null, '\t')}\n`;
        case 'padded':
          return ` \r\n${JSON.stringify(object)}\n\n `;
        case 'eventFirstTwice': {
          // A duplicated key: JSON.parse keeps the last value; the first is a decoy.
          const text = JSON.stringify(object);
          return text === '{}' ? '{"event":"ping"}' : `{"event":"decoy",${text.slice(1)}`;
        }
      }
    });

const hugeArb = fc
  .record({
    object: buildkiteObjectArb(validEventNameArb),
    pad: fc.integer({ min: 20_000, max: 90_000 }),
    unit: fc.constantFrom('x', 'é', '😀', '\\n', '\u0000'),
    raw: fc.boolean(),
  })
  .map(({ object, pad, unit, raw }) => {
    // Bytes, not characters, count against the limit: multi-byte units straddle it.
    const filler = unit.repeat(Math.ceil(pad / Buffer.byteLength(unit)));
    return raw ? filler : JSON.stringify({ ...object, padding: filler });
  });

const oddTextArb = fc.constantFrom(
  '',
  ' ',
  '\n',
  'null',
  '[]',
  '{}',
  '""',
  '0',
  '{"event":""}',
  '{"event":"ping"}',
  '[{"event":"ping"}]',
  '{"event":"ping"}garbage',
  '{"event":"ping"',
  '\uFEFF{"event":"ping"}',
  '{"event":"ping"}\u0000',
  '{"event":"ping","event":"build.finished"}',
  '{"event":"ping","delivery":{"requestId":"forged"}}',
  '{"event":"ping","__proto__":{"delivery":1}}',
  '{"event":"ping","deliver\\u0079":1}',
  '{"ev\\u0065nt":"ping"}',
  '{"event":"ping"} }',
  '{"event":"p\\u0069ng"}',
  // Test Engine monitor bodies: no event, a type and a timestamp (and near-misses).
  '{"type":"passed_on_retry","timestamp":"2026-11-23T11:59:00Z","score":0.2}',
  '{"type":"passed on retry","timestamp":"2026-11-23T11:59:00Z"}',
  `{"type":"${'t'.repeat(120)}","timestamp":"2026-11-23T11:59:00Z"}`,
  '{"type":"incident_status_update","id":"P1"}',
  '{"type":"","timestamp":"2026-11-23T11:59:00Z"}',
);

type BodySource = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'none' };

const bodySourceArb: fc.Arbitrary<BodySource> = fc.oneof(
  {
    weight: 10,
    arbitrary: serialisedArb(buildkiteObjectArb(eventNameArb)).map((text) => ({
      kind: 'text' as const,
      text,
    })),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.string(),
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'binary' }),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
        oddTextArb,
      )
      .map((text) => ({ kind: 'text' as const, text })),
  },
  { weight: 1, arbitrary: hugeArb.map((text) => ({ kind: 'text' as const, text })) },
  {
    weight: 2,
    arbitrary: serialisedArb(testEngineObjectArb).map((text) => ({ kind: 'text' as const, text })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.uint8Array({ maxLength: 200 }),
        // A Buildkite-like body with bytes that are not UTF-8 inside a string.
        fc
          .tuple(knownEventArb, fc.uint8Array({ minLength: 1, maxLength: 8 }))
          .map(([event, junk]) =>
            Uint8Array.from(
              Buffer.concat([
                Buffer.from(`{"event":"${event}","blob":"`),
                Buffer.from(junk),
                Buffer.from('"}'),
              ]),
            ),
          ),
      )
      .map((bytes) => ({ kind: 'bytes' as const, bytes })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
);

type Encoding =
  | { kind: 'plain' }
  | { kind: 'base64' }
  | { kind: 'base64-corrupt'; at: number; junk: string }
  | { kind: 'flag-on-plain' }
  | { kind: 'empty-string' };

const encodingArb: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'plain' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'base64' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('base64-corrupt' as const),
      at: fc.nat(),
      junk: fc.constantFrom('!', '*', ' ', '\n', '-', '_', '=', '==', '%', 'é', 'A', ''),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'flag-on-plain' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty-string' as const }) },
);

/** The bytes the sender meant to send (what a signer signs), and the event body fields. */
function encodeBody(
  source: BodySource,
  encoding: Encoding,
): { intended: Buffer; body: string | null; isBase64Encoded: boolean } {
  const intended =
    source.kind === 'text'
      ? Buffer.from(source.text, 'utf8')
      : source.kind === 'bytes'
        ? Buffer.from(source.bytes)
        : Buffer.alloc(0);
  if (source.kind === 'none') {
    return {
      intended,
      body: encoding.kind === 'empty-string' ? '' : null,
      isBase64Encoded: encoding.kind === 'base64',
    };
  }
  switch (encoding.kind) {
    case 'plain':
    case 'empty-string':
      // Bytes that are not UTF-8 cannot travel unflagged: they arrive mangled (U+FFFD).
      return {
        intended,
        body: source.kind === 'text' ? source.text : intended.toString('utf8'),
        isBase64Encoded: false,
      };
    case 'base64':
      return { intended, body: intended.toString('base64'), isBase64Encoded: true };
    case 'base64-corrupt': {
      const b64 = intended.toString('base64');
      const i = b64.length === 0 ? 0 : encoding.at % b64.length;
      const corrupt =
        encoding.junk === '' ? b64.slice(0, -1) : b64.slice(0, i) + encoding.junk + b64.slice(i);
      return { intended, body: corrupt, isBase64Encoded: true };
    }
    case 'flag-on-plain':
      return {
        intended,
        body: source.kind === 'text' ? source.text : intended.toString('latin1'),
        isBase64Encoded: true,
      };
  }
}

interface SignatureSpec {
  readonly key: 'current' | 'previous' | { wrong: string };
  /** Header timestamp = now + skew (seconds). */
  readonly skew: number;
  /** When set, the HMAC was computed for this other timestamp. */
  readonly signedSkew: number | undefined;
  readonly leadingZero: boolean;
  readonly mutation: 'none' | 'flip' | 'upper' | 'truncate' | 'otherBody' | 'noDot';
  readonly flipAt: number;
  readonly layout:
    'canonical' | 'spaced' | 'reversed' | 'duplicateKey' | 'extraPart' | 'noTimestamp' | 'semicolon';
}

/** Usually `usual`, sometimes one of `unusual`. */
const mostly = <T>(usual: T, unusual: readonly T[]): fc.Arbitrary<T> =>
  fc.oneof(
    { weight: 2 * unusual.length, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...unusual) },
  );

/** Usually undefined (the common case), sometimes a value. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>, weight = 4): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

const skewArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -300, max: 300 }) },
  { weight: 3, arbitrary: fc.constantFrom(-301, 301, -300, 300, -299, 299, 0) },
  { weight: 1, arbitrary: fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }) },
);

const signatureSpecArb: fc.Arbitrary<SignatureSpec> = fc.record({
  key: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('current' as const, 'previous' as const) },
    { weight: 1, arbitrary: nearMiss(TOKEN).map((wrong) => ({ wrong })) },
  ),
  skew: skewArb,
  signedSkew: rarely(skewArb),
  leadingZero: fc.boolean(),
  mutation: mostly('none' as const, ['flip', 'upper', 'truncate', 'otherBody', 'noDot'] as const),
  flipAt: fc.nat({ max: 63 }),
  layout: mostly(
    'canonical' as const,
    ['spaced', 'reversed', 'duplicateKey', 'extraPart', 'noTimestamp', 'semicolon'] as const,
  ),
});

function signatureValue(spec: SignatureSpec, intended: Buffer): string {
  const ts = `${spec.leadingZero ? '0' : ''}${NOW_SECONDS + spec.skew}`;
  const signedTs = spec.signedSkew === undefined ? ts : String(NOW_SECONDS + spec.signedSkew);
  const key = spec.key === 'current' ? TOKEN : spec.key === 'previous' ? PREVIOUS_TOKEN : spec.key.wrong;
  let mac: string;
  if (spec.mutation === 'otherBody')
    mac = computeSignature(key, signedTs, Buffer.concat([intended, Buffer.from(' ')]));
  else if (spec.mutation === 'noDot')
    mac = createHmac('sha256', key).update(signedTs).update(intended).digest('hex'); // forgot the "."
  else mac = computeSignature(key, signedTs, intended);
  if (spec.mutation === 'flip') {
    const c = mac[spec.flipAt] as string;
    mac = mac.slice(0, spec.flipAt) + (c === '0' ? '1' : '0') + mac.slice(spec.flipAt + 1);
  } else if (spec.mutation === 'upper') mac = mac.toUpperCase();
  else if (spec.mutation === 'truncate') mac = mac.slice(0, 63);
  switch (spec.layout) {
    case 'canonical':
      return `timestamp=${ts},signature=${mac}`;
    case 'spaced':
      return ` timestamp = ${ts} ,  signature= ${mac} `;
    case 'reversed':
      return `signature=${mac},timestamp=${ts}`;
    case 'duplicateKey':
      return `timestamp=${ts},signature=${mac},signature=${mac}`;
    case 'extraPart':
      return `timestamp=${ts},v=1,signature=${mac},flag`;
    case 'noTimestamp':
      return `signature=${mac}`;
    case 'semicolon':
      return `timestamp=${ts};signature=${mac}`;
  }
}

type ValueSpec =
  | { kind: 'literal'; value: string }
  | { kind: 'signature'; spec: SignatureSpec }
  | { kind: 'bodyEvent'; suffix: string };

interface HeaderSpec {
  readonly name: string;
  readonly value: ValueSpec;
  /** Like API Gateway (both maps), or only in one of them (hand-made or unusual events). */
  readonly placement: 'both' | 'single' | 'multi';
}

const placementArb = fc.constantFrom(
  'both',
  'both',
  'both',
  'both',
  'both',
  'both',
  'single',
  'multi',
) as fc.Arbitrary<HeaderSpec['placement']>;

const validContentTypeArb = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;charset=UTF-8',
  ' application/json ',
);
const contentTypeArb = fc.oneof(
  { weight: 16, arbitrary: validContentTypeArb },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'text/plain',
      '',
      'application/jsonp',
      'application/json-patch+json',
      'application/x-www-form-urlencoded',
      '*/*',
      'application/json, text/plain',
      'json',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const header = (name: string, value: fc.Arbitrary<ValueSpec>): fc.Arbitrary<HeaderSpec> =>
  fc.record({ name: fc.mixedCase(fc.constant(name)), value, placement: placementArb });
const literal = (values: fc.Arbitrary<string>) =>
  values.map((value): ValueSpec => ({ kind: 'literal', value }));

const contentTypeHeaderArb = header('Content-Type', literal(contentTypeArb));
const tokenHeaderArb = header('X-Buildkite-Token', literal(tokenValueArb));
const signatureHeaderArb = header(
  'X-Buildkite-Signature',
  fc.oneof(
    { weight: 8, arbitrary: signatureSpecArb.map((spec): ValueSpec => ({ kind: 'signature', spec })) },
    {
      weight: 1,
      arbitrary: literal(
        fc.oneof(
          fc.string({ maxLength: 90 }),
          fc.constantFrom(
            '',
            'timestamp=,signature=',
            `timestamp=${NOW_SECONDS}`,
            `signature=${'0'.repeat(64)}`,
          ),
        ),
      ),
    },
  ),
);
const eventHeaderArb = header(
  'X-Buildkite-Event',
  fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: 'bodyEvent', suffix: '' } as ValueSpec) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(' ', 'x', '\n').map((suffix): ValueSpec => ({ kind: 'bodyEvent', suffix })),
    },
    { weight: 2, arbitrary: literal(fc.oneof(knownEventArb, fc.string({ maxLength: 12 }))) },
  ),
);
const randomHeaderArb: fc.Arbitrary<HeaderSpec> = fc.record({
  name: fc.oneof(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'Host',
      'User-Agent',
      'X-Buildkite-Tokens',
      'X-Buildkite-Token ',
      'X-Buildkite_Token',
      'X-Buildkite-Signature-256',
      'X-Amzn-Trace-Id',
    ),
  ),
  value: literal(fc.string({ maxLength: 30 })),
  placement: placementArb,
});
const anyHeaderArb = fc.oneof(
  contentTypeHeaderArb,
  tokenHeaderArb,
  signatureHeaderArb,
  eventHeaderArb,
  randomHeaderArb,
);

const pathTokenArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ACCEPTED_TOKENS) },
  { weight: 2, arbitrary: nearMiss(TOKEN) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', `${TOKEN}/`, encodeURIComponent(`${TOKEN} `)) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
);

const requestIdArb = fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9-]{1,36}$/));

interface CaseSpec {
  readonly body: BodySource;
  readonly encoding: Encoding;
  readonly headers: readonly HeaderSpec[];
  readonly pathToken: string | undefined;
  readonly requestId: string;
  readonly maps: 'normal' | 'headers-null' | 'multi-null' | 'both-null';
}

/** A plausible request (content type, one credential, maybe an event header) plus some noise. */
const plausibleHeadersArb: fc.Arbitrary<HeaderSpec[]> = fc
  .record({
    contentType: fc.oneof(
      { weight: 15, arbitrary: contentTypeHeaderArb },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    credential: fc.oneof(
      { weight: 4, arbitrary: tokenHeaderArb },
      { weight: 5, arbitrary: signatureHeaderArb },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    eventHeader: fc.option(eventHeaderArb, { freq: 2 }),
    noise: fc.array(
      fc.oneof({ weight: 4, arbitrary: randomHeaderArb }, { weight: 1, arbitrary: anyHeaderArb }),
      {
        maxLength: 2,
      },
    ),
    noiseFirst: fc.boolean(),
  })
  .map(({ contentType, credential, eventHeader, noise, noiseFirst }) => {
    const core = [contentType, credential, eventHeader].filter((h): h is HeaderSpec => h !== null);
    return noiseFirst ? [...noise, ...core] : [...core, ...noise];
  });

const caseSpecArb: fc.Arbitrary<CaseSpec> = fc.record({
  body: bodySourceArb,
  encoding: encodingArb,
  headers: fc.oneof(
    { weight: 8, arbitrary: plausibleHeadersArb },
    { weight: 1, arbitrary: fc.array(anyHeaderArb, { maxLength: 8 }) },
  ),
  pathToken: rarely(pathTokenArb, 6),
  requestId: requestIdArb,
  maps: fc.oneof(
    { weight: 12, arbitrary: fc.constant('normal' as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('headers-null' as const, 'multi-null' as const, 'both-null' as const),
    },
  ),
});

function bodyEventName(intended: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(intended.toString('utf8'));
    const event = (parsed as { event?: unknown } | null)?.event;
    return typeof event === 'string' ? event : 'ping';
  } catch {
    return 'ping';
  }
}

function buildEvent(spec: CaseSpec): APIGatewayProxyEvent {
  const { intended, body, isBase64Encoded } = encodeBody(spec.body, spec.encoding);
  const event = apiEvent({
    ...(body === null ? {} : { body }),
    isBase64Encoded,
    requestId: spec.requestId,
    ...(spec.pathToken === undefined ? {} : { pathToken: spec.pathToken }),
  });
  // Header names are attacker-chosen: `__proto__` and friends must become own properties.
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  for (const h of spec.headers) {
    const value =
      h.value.kind === 'literal'
        ? h.value.value
        : h.value.kind === 'signature'
          ? signatureValue(h.value.spec, intended)
          : bodyEventName(intended) + h.value.suffix;
    if (h.placement !== 'multi') single.set(h.name, value);
    if (h.placement !== 'single') multi.set(h.name, [...(multi.get(h.name) ?? []), value]);
  }
  const nullable = event as unknown as { headers: unknown; multiValueHeaders: unknown };
  nullable.headers =
    spec.maps === 'headers-null' || spec.maps === 'both-null' ? null : Object.fromEntries(single);
  nullable.multiValueHeaders =
    spec.maps === 'multi-null' || spec.maps === 'both-null' ? null : Object.fromEntries(multi);
  return event;
}

/** Payloads a trigger may carry: GitHub- and Linear-like objects, any JSON, anything at all. */
const triggerBodyArb: fc.Arbitrary<BodySource> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          action: fc.constantFrom('closed', 'opened', 'create', 'update'),
          type: fc.constantFrom('Issue', 'PullRequest'),
          // Linear's replay window is a minute, in milliseconds.
          webhookTimestamp: fc.oneof(
            fc.integer({ min: -LINEAR_WINDOW_MS, max: LINEAR_WINDOW_MS }).map((skew) => NOW.getTime() + skew),
            fc.constantFrom(NOW.getTime() - LINEAR_WINDOW_MS - 1, NOW.getTime() / 1000, Number.NaN),
            fc.constant(String(NOW.getTime())),
          ),
          pull_request: fc.record({ merged: fc.boolean(), number: fc.nat() }),
          data: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: ['action'] },
      )
      .map((payload) => ({ kind: 'text' as const, text: JSON.stringify(payload) })),
  },
  {
    weight: 2,
    arbitrary: fc.jsonValue().map((v) => ({ kind: 'text' as const, text: JSON.stringify(v) ?? '' })),
  },
  { weight: 2, arbitrary: bodySourceArb },
);

type TriggerCredential = {
  readonly key: 'current' | 'previous' | 'wrong';
  readonly mutation: 'none' | 'flip' | 'upper' | 'togglePrefix' | 'otherEncoding' | 'otherBody';
  readonly flipAt: number;
};

function triggerCredential(trigger: TriggerDefinition, spec: TriggerCredential, intended: Buffer): string {
  const secret = spec.key === 'current' ? TOKEN : spec.key === 'previous' ? PREVIOUS_TOKEN : `${TOKEN}x`;
  const bytes = spec.mutation === 'otherBody' ? Buffer.concat([intended, Buffer.from('\n')]) : intended;
  const encoding = trigger.encoding ?? 'hex';
  const digest = bodyHmac(
    secret,
    bytes,
    spec.mutation === 'otherEncoding' ? (encoding === 'hex' ? 'base64' : 'hex') : encoding,
  );
  let value = trigger.kind === 'token' ? secret : trigger.kind === 'github' ? `sha256=${digest}` : digest;
  if (spec.mutation === 'flip') {
    const i = spec.flipAt % value.length;
    const c = value[i] === 'a' ? 'b' : 'a';
    value = value.slice(0, i) + c + value.slice(i + 1);
  } else if (spec.mutation === 'upper') value = value.toUpperCase();
  else if (spec.mutation === 'togglePrefix')
    value = value.startsWith('sha256=') ? value.slice(7) : `sha256=${value}`;
  return value;
}

const triggerCaseArb: fc.Arbitrary<FuzzCase> = fc
  .record({
    name: fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom(...TRIGGERS.map((t) => t.name)) },
      { weight: 1, arbitrary: fc.constantFrom('unknown', 'GitHub-Deploy', '', 'linear/') },
    ),
    body: triggerBodyArb,
    encoding: encodingArb,
    contentType: fc.oneof(
      { weight: 10, arbitrary: validContentTypeArb },
      { weight: 1, arbitrary: contentTypeArb },
    ),
    credential: fc.record({
      key: mostly('current' as const, ['previous', 'wrong'] as const),
      mutation: mostly(
        'none' as const,
        ['flip', 'upper', 'togglePrefix', 'otherEncoding', 'otherBody'] as const,
      ),
      flipAt: fc.nat(),
    }),
    /** Which header carries it: the trigger's own, another trigger's, or both (ambiguous). */
    carrier: mostly('own' as const, ['other', 'duplicate', 'none', 'buildkite'] as const),
    nameCase: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
    safeHeaders: fc.array(
      fc.tuple(
        fc.constantFrom(...TRIGGER_SAFE_HEADERS, 'authorization', 'cookie'),
        fc.string({ maxLength: 20 }),
      ),
      { maxLength: 4 },
    ),
    requestId: requestIdArb,
  })
  .map((c): FuzzCase => {
    const { intended, body, isBase64Encoded } = encodeBody(c.body, c.encoding);
    const trigger = TRIGGERS.find((t) => t.name === c.name) ?? (TRIGGERS[0] as TriggerDefinition);
    const other = TRIGGERS.find((t) => t.kind !== trigger.kind) as TriggerDefinition;
    const mixCase = (name: string) =>
      [...name]
        .map((ch, i) => (c.nameCase[i % c.nameCase.length] ? ch.toUpperCase() : ch.toLowerCase()))
        .join('');
    const headers = new Map<string, string[]>();
    const add = (name: string, value: string) => headers.set(name, [...(headers.get(name) ?? []), value]);
    add('Content-Type', c.contentType);
    for (const [name, value] of c.safeHeaders) add(name, value);
    const value = triggerCredential(trigger, c.credential, intended);
    const own = mixCase(trigger.header ?? defaultHeader(trigger));
    if (c.carrier === 'own' || c.carrier === 'duplicate') add(own, value);
    if (c.carrier === 'duplicate') add(own.toLowerCase(), `${value} `);
    if (c.carrier === 'other') add(other.header ?? defaultHeader(other), value);
    if (c.carrier === 'buildkite') add('X-Buildkite-Token', TOKEN);
    const event = apiEvent({ ...(body === null ? {} : { body }), isBase64Encoded, requestId: c.requestId });
    event.resource = '/triggers/{name}';
    event.path = `/triggers/${c.name}`;
    event.pathParameters = { name: c.name };
    event.multiValueHeaders = Object.fromEntries(headers);
    event.headers = Object.fromEntries([...headers].map(([k, v]) => [k, v.at(-1) as string]));
    return { event };
  });

const buildkiteCaseArb: fc.Arbitrary<FuzzCase> = caseSpecArb.map((spec) => ({ event: buildEvent(spec) }));

/**
 * Any request at all, to either route, biased towards plausible ones so that every stage of
 * verification is reached.
 */
export const anyRequestArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 4, arbitrary: buildkiteCaseArb },
  { weight: 1, arbitrary: triggerCaseArb },
);

/** Authentic, well-formed deliveries in every accepted shape: each must be accepted. */
export const authenticRequestArb: fc.Arbitrary<FuzzCase> = fc
  .record({
    object: fc.oneof(
      { weight: 3, arbitrary: buildkiteObjectArb(validEventNameArb) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
            validEventNameArb,
          )
          .map(([dict, event]) => ({ ...dict, event })),
      },
    ),
    style: fc.constantFrom('compact', 'pretty', 'padded'),
    method: fc.constantFrom('token', 'signature', 'path-token'),
    key: fc.constantFrom(...ACCEPTED_TOKENS),
    skew: fc.integer({ min: -300, max: 300 }),
    layout: fc.constantFrom('canonical', 'spaced', 'reversed', 'upper'),
    contentType: validContentTypeArb,
    eventHeader: fc.boolean(),
    base64: fc.boolean(),
    names: fc.record({
      ct: fc.mixedCase(fc.constant('Content-Type')),
      cred: fc.mixedCase(fc.constant('X-Buildkite-Token')),
      sig: fc.mixedCase(fc.constant('X-Buildkite-Signature')),
      ev: fc.mixedCase(fc.constant('X-Buildkite-Event')),
    }),
    duplicateCredential: fc.boolean(),
    extra: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 12 }).filter((n) => !/^(content-type|x-buildkite-.*)$/i.test(n)),
      fc.string({ maxLength: 20 }),
      { maxKeys: 3 },
    ),
    requestId: requestIdArb,
  })
  .map((c): FuzzCase => {
    const text =
      c.style === 'compact'
        ? JSON.stringify(c.object)
        : c.style === 'pretty'
          ? JSON.stringify(c.object, null, 2)
          : `\n ${JSON.stringify(c.object)}\t\n`;
    const raw = Buffer.from(text, 'utf8');
    const headers = new Map<string, string[]>(Object.entries(c.extra).map(([k, v]) => [k, [v]]));
    headers.set(c.names.ct, [c.contentType]);
    if (c.eventHeader) headers.set(c.names.ev, [c.object.event]);
    const ts = String(NOW_SECONDS + c.skew);
    let expected: FuzzCase['expected'];
    if (c.method === 'token') {
      // Sent twice with the same value (a proxy duplicating it) is still one credential.
      headers.set(c.names.cred, c.duplicateCredential ? [c.key, c.key] : [c.key]);
      expected = { auth: 'token' };
    } else if (c.method === 'signature') {
      const mac = computeSignature(c.key, ts, raw);
      const value =
        c.layout === 'canonical'
          ? `timestamp=${ts},signature=${mac}`
          : c.layout === 'spaced'
            ? `timestamp = ${ts}, signature = ${mac}`
            : c.layout === 'reversed'
              ? `signature=${mac},timestamp=${ts}`
              : `timestamp=${ts},signature=${mac.toUpperCase()}`;
      headers.set(c.names.sig, c.duplicateCredential ? [value, value] : [value]);
      expected = { auth: 'signature', signedAt: new Date(Number(ts) * 1000).toISOString() };
    } else {
      expected = { auth: 'path-token' };
    }
    const event = apiEvent({
      body: c.base64 ? raw.toString('base64') : text,
      isBase64Encoded: c.base64,
      requestId: c.requestId,
      ...(c.method === 'path-token' ? { pathToken: c.key } : {}),
    });
    event.multiValueHeaders = Object.fromEntries(headers);
    event.headers = Object.fromEntries([...headers].map(([k, v]) => [k, v.at(-1) as string]));
    return { event, expected };
  });

// ---------------------------------------------------------------------------------------------
// Properties.

export class PropertyStats {
  runs = 0;
  readonly statuses = new Map<number, number>();
  readonly codes = new Map<string, number>();

  record(run: HandlerRun): void {
    this.runs++;
    const status = run.result?.statusCode ?? -1;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const code = run.outcomes[0]?.code ?? (run.thrown ? 'threw' : 'none');
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }
}

export interface FuzzProperty {
  readonly name: string;
  readonly description: string;
  build(stats: PropertyStats): fc.IAsyncProperty<[FuzzCase]>;
}

class Violation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PropertyViolation';
  }
}
function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Violation(message);
}

type Answer = { id?: unknown; status?: unknown; error?: unknown; message?: unknown };
function parseAnswer(run: HandlerRun): Answer {
  must(run.result, `the handler threw: ${String(run.thrown)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.result.body);
  } catch {
    throw new Violation(`the answer body is not JSON (status ${run.result.statusCode})`);
  }
  must(
    parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed),
    'the answer is not a JSON object',
  );
  return parsed as Answer;
}

const property = (
  name: string,
  description: string,
  arbitrary: fc.Arbitrary<FuzzCase>,
  check: (fuzz: FuzzCase, stats: PropertyStats) => Promise<void>,
): FuzzProperty => ({
  name,
  description,
  build: (stats) => fc.asyncProperty(arbitrary, (fuzz) => check(fuzz, stats)),
});

async function recorded(fuzz: FuzzCase, stats: PropertyStats, deps?: Parameters<typeof runHandler>[1]) {
  const run = await runHandler(fuzz.event, deps);
  stats.record(run);
  return run;
}

export const PROPERTIES: readonly FuzzProperty[] = [
  property('never-throws', 'the handler resolves for any event', anyRequestArb, async (fuzz, stats) => {
    const run = await recorded(fuzz, stats);
    must(run.thrown === undefined && run.result, `the handler rejected: ${String(run.thrown)}`);
    must(run.outcomes.length === 1, `observed ${run.outcomes.length} outcomes, expected exactly 1`);
  }),

  property('never-5xx', 'with working dependencies no answer is 5xx', anyRequestArb, async (fuzz, stats) => {
    const run = await recorded(fuzz, stats);
    const status = run.result?.statusCode ?? -1;
    must(status >= 200 && status < 500, `status ${status} (${String(run.outcomes[0]?.code)})`);
  }),

  property(
    'answer-shape',
    '202 {id,status} with the request id, or 4xx {error,message} from the table; delivered iff 202',
    anyRequestArb,
    async (fuzz, stats) => {
      const run = await recorded(fuzz, stats);
      const answer = parseAnswer(run);
      const result = run.result as APIGatewayProxyResult;
      must(
        result.headers?.['Content-Type'] === 'application/json',
        'the answer is not labelled application/json',
      );
      if (result.statusCode === 202) {
        must(
          isDeepStrictEqual(Object.keys(answer).sort(), ['id', 'status']),
          `202 keys ${Object.keys(answer).join(',')}`,
        );
        must(answer.id === fuzz.event.requestContext.requestId, '202 id is not the request id');
        must(answer.status === 'published', `202 status ${String(answer.status)} with a working deliverer`);
        must(run.delivered.length === 1, `202 but ${run.delivered.length} deliveries`);
      } else {
        must(
          isDeepStrictEqual(Object.keys(answer).sort(), ['error', 'message']),
          `error keys ${Object.keys(answer).join(',')}`,
        );
        must(
          typeof answer.error === 'string' && answer.error in ERRORS,
          `unknown error code ${String(answer.error)}`,
        );
        const [status] = ERRORS[answer.error as keyof typeof ERRORS];
        must(
          status === result.statusCode,
          `${answer.error} answered ${result.statusCode}, the table says ${status}`,
        );
        must(typeof answer.message === 'string' && answer.message.length > 0, 'empty message');
        must(run.delivered.length === 0, `${result.statusCode} but something was delivered`);
      }
    },
  ),

  property(
    'delivered-is-authentic',
    'anything delivered carried an accepted credential (re-verified here) and is well-formed JSON, delivered as sent',
    anyRequestArb,
    async (fuzz, stats) => {
      const run = await recorded(fuzz, stats);
      must(run.delivered.length <= 1, `${run.delivered.length} deliveries for one request`);
      const delivered = run.delivered[0];
      if (!delivered) return;
      const { event } = fuzz;

      // What both routes share: exact bytes, size, media type, JSON, request metadata.
      const raw = rawBytesOf(event);
      must(delivered.rawBody.equals(raw), 'the delivered bytes are not the request bytes');
      must(raw.length <= SETTINGS.maxBodyBytes, `delivered ${raw.length} bytes, over the limit`);
      must(delivered.text === raw.toString('utf8'), 'text is not the raw bytes as UTF-8');
      const contentTypes = valuesOf(event, 'content-type');
      must(
        contentTypes.length === 1 &&
          /^application\/json$/i.test((contentTypes[0] as string).split(';')[0]?.trim() ?? ''),
        `delivered with Content-Type ${JSON.stringify(contentTypes)}`,
      );
      let parsed: unknown;
      try {
        parsed = JSON.parse(delivered.text);
      } catch {
        throw new Violation('delivered a body that is not JSON');
      }
      must(isDeepStrictEqual(parsed, delivered.body), 'the delivered body is not the parsed text');
      must(delivered.delivery.requestId === event.requestContext.requestId, 'requestId not carried');
      must(delivered.delivery.sourceIp === SOURCE_IP, 'sourceIp not carried');
      must(delivered.delivery.receivedAt === NOW.toISOString(), 'receivedAt is not the handler clock');

      if (event.resource === '/triggers/{name}') {
        const trigger = triggerOf(event);
        must(
          trigger && delivered.kind === 'trigger',
          'a trigger-route request was delivered as something else',
        );
        must(delivered.trigger === trigger.name, `delivered as trigger ${delivered.trigger}`);
        const method = independentlyAuthenticTrigger(event);
        must(method, `delivered a ${trigger.kind} trigger request without an accepted credential`);
        must(delivered.delivery.auth === method, `auth ${delivered.delivery.auth}, expected ${method}`);
        if (trigger.kind === 'linear') {
          const ts = (parsed as { webhookTimestamp?: unknown } | null)?.webhookTimestamp;
          must(typeof ts === 'number' && Math.abs(ts - NOW.getTime()) <= 60_000, 'a stale Linear request');
        }
        // Only the safe headers travel, and never the trigger's own credential header.
        const credentialHeader = (trigger.header ?? defaultHeader(trigger)).toLowerCase();
        for (const [name, value] of Object.entries(delivered.headers)) {
          must(
            (TRIGGER_SAFE_HEADERS as readonly string[]).includes(name),
            `header ${name} copied into the event`,
          );
          must(name !== credentialHeader, 'the credential header was copied into the event');
          must(isDeepStrictEqual(valuesOf(event, name), [value]), `header ${name} copied with another value`);
        }
        const deliveryId = (['x-github-delivery', 'linear-delivery', 'x-pagerduty-webhook-id'] as const)
          .map((h) => [h, delivered.headers[h]] as const)
          .find(([, v]) => v && v.trim() !== '');
        const prefixes = {
          'x-github-delivery': 'github',
          'linear-delivery': 'linear',
          'x-pagerduty-webhook-id': 'pagerduty',
        };
        must(
          delivered.delivery.dedupeKey ===
            (deliveryId ? `${prefixes[deliveryId[0]]}:${deliveryId[1]}` : sha256(raw)),
          'dedupeKey is neither the sender delivery id nor the SHA-256 of the body',
        );
        return;
      }

      must(delivered.kind === 'buildkite', 'a Buildkite-route request was delivered as a trigger');
      const auth = independentlyAuthentic(event);
      must(auth, 'delivered a request that does not carry an accepted credential');
      must(
        delivered.delivery.auth === auth.method,
        `auth ${delivered.delivery.auth}, expected ${auth.method}`,
      );
      must(delivered.delivery.signedAt === auth.signedAt, 'signedAt differs from the signed timestamp');
      must(
        delivered.delivery.dedupeKey === expectedDedupeKey(parsed, raw),
        'dedupeKey is neither the build.finished key (build, state, finish time) nor the SHA-256 of the raw bytes',
      );
      must(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), 'delivered a non-object');
      // The detail-type: `event`, or for a Test Engine monitor body (no event; type and timestamp) workflow.<type>.
      const body = parsed as { event?: unknown; type?: unknown; timestamp?: unknown };
      const monitor =
        body.event === undefined && typeof body.type === 'string' && typeof body.timestamp === 'string';
      const name = monitor ? `workflow.${String(body.type)}` : body.event;
      must(
        typeof name === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(name),
        'delivered without a valid event',
      );
      must(delivered.detailType === name, `delivered as ${delivered.detailType}, expected ${String(name)}`);
      const eventHeaders = valuesOf(event, 'x-buildkite-event');
      must(
        eventHeaders.length === 0 ||
          (eventHeaders.length === 1 &&
            (eventHeaders[0] === name || (monitor && eventHeaders[0] === body.type))),
        'event header mismatch',
      );
    },
  ),

  property(
    'no-secret-in-answer',
    'no answer, outcome or log attribute contains an accepted token',
    anyRequestArb,
    async (fuzz, stats) => {
      const run = await recorded(fuzz, stats);
      const texts = [
        run.result?.body ?? '',
        JSON.stringify(run.result?.headers ?? {}),
        JSON.stringify(run.outcomes),
      ];
      for (const text of texts) {
        for (const token of ACCEPTED_TOKENS)
          must(!text.includes(token), 'an answer or outcome contains a token');
      }
    },
  ),

  property(
    'authentic-accepted',
    'every authentic, well-formed delivery is accepted and delivered exactly as sent',
    authenticRequestArb,
    async (fuzz, stats) => {
      const run = await recorded(fuzz, stats);
      const code = run.outcomes[0]?.code;
      must(
        run.result?.statusCode === 202,
        `an authentic delivery was answered ${run.result?.statusCode} ${code}`,
      );
      must(run.delivered.length === 1, `${run.delivered.length} deliveries`);
      const delivered = run.delivered[0] as VerifiedDelivery;
      must(delivered.delivery.auth === fuzz.expected?.auth, `auth ${delivered.delivery.auth}`);
      must(delivered.delivery.signedAt === fuzz.expected?.signedAt, 'signedAt');
      must(delivered.rawBody.equals(rawBytesOf(fuzz.event)), 'bytes changed');
      must(
        isDeepStrictEqual(delivered.body, JSON.parse(rawBytesOf(fuzz.event).toString('utf8'))),
        'body changed',
      );
    },
  ),

  property(
    'persist-failure-refuses',
    'when neither bus nor spool works, exactly the would-be 202s become 503 persist_failed; others are unchanged',
    anyRequestArb,
    async (fuzz, stats) => {
      const working = await runHandler(fuzz.event);
      const failing = new FailingDeliverer();
      const broken = await recorded(fuzz, stats, { deliverer: failing });
      must(working.result && broken.result, 'the handler threw');
      if (working.result.statusCode === 202) {
        must(broken.result.statusCode === 503, `would-be 202 answered ${broken.result.statusCode}`);
        must((JSON.parse(broken.result.body) as Answer).error === 'persist_failed', 'not persist_failed');
        must(failing.attempts === 1, `${failing.attempts} delivery attempts`);
      } else {
        must(
          working.result.statusCode === broken.result.statusCode &&
            working.result.body === broken.result.body,
          'a refused request was answered differently when delivery is down',
        );
        must(failing.attempts === 0, 'a refused request reached the deliverer');
      }
    },
  ),

  property(
    'secret-outage-fails-closed',
    'when the secret cannot be read nothing is delivered; only 503 auth_unavailable or pre-auth 4xx',
    anyRequestArb,
    async (fuzz, stats) => {
      const secrets = () =>
        new TokenSource(async () => {
          throw new Error('AccessDeniedException');
        });
      const run = await recorded(fuzz, stats, { secrets });
      const code = run.outcomes[0]?.code;
      must(run.delivered.length === 0, 'delivered without being able to read the secret');
      must(
        code === 'auth_unavailable' ||
          code === 'unknown_trigger' ||
          code === 'unsupported_media_type' ||
          code === 'body_too_large' ||
          code === 'missing_auth' ||
          code === 'ambiguous_auth',
        `code ${String(code)} while the secret is unreadable`,
      );
    },
  ),
];

// ---------------------------------------------------------------------------------------------
// Running and reporting.

export interface PropertyRun {
  readonly property: FuzzProperty;
  readonly stats: PropertyStats;
  readonly details: fc.RunDetails<[FuzzCase]>;
  readonly ms: number;
}

export async function runFuzzProperty(
  fuzzProperty: FuzzProperty,
  options: { numRuns: number; seed?: number; path?: string },
): Promise<PropertyRun> {
  const stats = new PropertyStats();
  const started = performance.now();
  const details = await fc.check(fuzzProperty.build(stats), {
    numRuns: options.numRuns,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.path === undefined ? {} : { path: options.path }),
  });
  return { property: fuzzProperty, stats, details, ms: performance.now() - started };
}

/** Replaces every accepted token (and any 64-hex MAC) so a report can be pasted anywhere. */
export function redact(text: string): string {
  let out = text;
  for (const [i, token] of ACCEPTED_TOKENS.entries()) {
    out = out.split(token).join(`<token${i}>`);
    out = out.split(Buffer.from(token).toString('base64').slice(0, 36)).join(`<token${i}-base64>`);
  }
  return out.replace(/[0-9a-fA-F]{64}/g, '<hmac>');
}

/** A failure report with the counterexample, seed and path to replay it, secrets redacted. */
export function formatFailure(run: PropertyRun): string {
  const { details } = run;
  if (!details.failed) return `${run.property.name}: passed`;
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const example = details.counterexample ? fc.stringify(details.counterexample[0]) : '(none)';
  return redact(
    [
      `Property "${run.property.name}" failed after ${details.numRuns} runs: ${error}`,
      `Replay: npm run fuzz -- --only ${run.property.name} --seed ${details.seed} --path "${details.counterexamplePath ?? ''}"`,
      `Counterexample: ${example}`,
    ].join('\n'),
  );
}

/** `202×812 400×96 …`, most frequent first. */
export function formatCounts<K>(counts: ReadonlyMap<K, number>): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${String(key)}×${n}`)
    .join(' ');
}

/**
 * The dedupe key the contract promises, written out independently of the verify code: a
 * `build.finished` naming a build id and state is keyed `build.finished:<id>:<state or blocked>`
 * plus `:<finished_at cut to the second, as ISO>` when that parses; every other body by the SHA-256
 * of its bytes.
 */
function expectedDedupeKey(parsed: unknown, raw: Buffer): string {
  const body = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const build = body.build as Record<string, unknown> | null | undefined;
  if (body.event === 'build.finished' && typeof build === 'object' && build !== null) {
    const { id, state, blocked, finished_at } = build;
    if (typeof id === 'string' && id !== '' && typeof state === 'string' && state !== '') {
      const key = `build.finished:${id}:${blocked === true ? 'blocked' : state}`;
      const ms = typeof finished_at === 'string' ? new Date(finished_at).getTime() : Number.NaN;
      return Number.isFinite(ms) ? `${key}:${new Date(Math.floor(ms / 1000) * 1000).toISOString()}` : key;
    }
  }
  return sha256(raw);
}
