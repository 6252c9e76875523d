/**
 * Acceptance: a rotation refuses no delivery. A simulated Buildkite sends a signed delivery every
 * 7 s to one of several warm verify functions (each with its own secret cache of 300 s and its own
 * rate-limited refresh-on-mismatch), and switches to the new token at a random moment after the
 * rotation PATCHes its webhook. Junk deliveries with a wrong token arrive at random moments too:
 * each spends a function's refresh budget, so only the rotation's ordering can save the day.
 * Everything runs on a fake clock; fast-check picks the moments.
 */
import fc from 'fast-check';
import { rotateWebhookToken, type RotationSettings } from '../../../lambda/webhook-rotation/app';
import { ROTATION_STEPS } from '../../../lambda/webhook-rotation/ports';
import { computeSignature, verifySignature } from '../../../lambda/verify/signature';
import {
  checkWithRefresh,
  TokenSource,
  VERIFY_SECRET_CACHE_SECONDS,
} from '../../../lambda/verify/token-source';
import { FakeClock, MemorySecret, MemoryWebhook, silentLog } from './support';

const ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:WebhookSecret-abc';
const VERSION = '11111111-2222-3333-4444-555555555555';
const T0 = Date.parse('2026-12-06T12:00:00Z');
const CACHE_MS = VERIFY_SECRET_CACHE_SECONDS * 1000; // the deployed verify function's secret cache
const GRACE_MS = 60 * 60_000;
const SAFE: RotationSettings = { webhookSecretArn: ARN, propagationMs: CACHE_MS + 30_000, graceMs: GRACE_MS };
const EVERY_MS = 7_000;
const BODY = Buffer.from('{"event":"build.finished","build":{"id":"b-1"}}');

/** One warm verify function: a 300 s cache over AWSCURRENT under the real TokenSource. */
class WarmVerify {
  private cached: string | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private readonly source: TokenSource;

  constructor(
    private readonly secret: MemorySecret,
    private readonly now: () => number,
  ) {
    this.source = new TokenSource(
      async (fresh) => {
        if (fresh || this.cached === undefined || this.now() - this.readAt >= CACHE_MS) {
          this.cached = this.secret.currentValue();
          this.readAt = this.now();
        }
        return this.cached;
      },
      { now },
    );
  }

  /** The verify function's signature check with its refresh: true is 2xx, false is 401. */
  async accepts(token: string): Promise<boolean> {
    const now = new Date(this.now());
    const timestamp = String(Math.floor(now.getTime() / 1000));
    const header = `timestamp=${timestamp},signature=${computeSignature(token, timestamp, BODY)}`;
    const result = await checkWithRefresh(this.source, (tokens) => {
      const check = verifySignature(header, BODY, tokens, now, 300);
      return check.ok ? ({ ok: true } as const) : ({ ok: false, code: 'invalid_signature' } as const);
    });
    return result.ok;
  }
}

interface Scenario {
  readonly functions: number;
  /** Seconds Secrets Manager lets pass before each of the four steps. */
  readonly gaps: readonly number[];
  /** How long after the PATCH Buildkite's sender starts using the new token. */
  readonly switchDelayMs: number;
  /** Offsets from the rotation's start of junk deliveries (a wrong token, to every function). */
  readonly junkAtMs: readonly number[];
  /** Which function each delivery reaches, cycled. */
  readonly route: readonly number[];
}

interface Outcome {
  readonly refused: { at: number; token: 'old' | 'new'; fn: number }[];
  /** Deliveries sent with each token (so a pass is never an empty run). */
  readonly sent: { old: number; new: number };
  readonly patchedAt: number;
  readonly finishedAt: number;
  /** After the grace period and a cache period more: per function, whether old and new are accepted. */
  readonly afterGrace: { old: boolean; new: boolean }[];
}

async function simulate(s: Scenario, settings: RotationSettings): Promise<Outcome> {
  const start = T0 - 602_000;
  let nextDelivery = start;
  let delivery = 0;
  const junk = [...s.junkAtMs].map((ms) => T0 + ms).sort((a, b) => a - b);
  const refused: Outcome['refused'] = [];
  const sent = { old: 0, new: 0 };
  const clock = new FakeClock(start, (to) => advanceTo(to));
  const now = clock.now;
  const secret = new MemorySecret(now, '{"token":"old"}');
  const webhook = new MemoryWebhook(now, 'old');
  const fns = Array.from({ length: s.functions }, () => new WarmVerify(secret, now));

  const senderToken = (t: number): 'old' | 'new' => {
    const patch = webhook.patches[0];
    return patch !== undefined && t >= patch.at + s.switchDelayMs ? 'new' : 'old';
  };
  async function advanceTo(target: number): Promise<void> {
    for (;;) {
      const nextJunk = junk[0] ?? Number.POSITIVE_INFINITY;
      const next = Math.min(nextDelivery, nextJunk);
      if (next > target) break;
      clock.time = next;
      if (next === nextJunk) {
        junk.shift();
        for (const fn of fns) await fn.accepts('junk-token');
      } else {
        const which = (s.route[delivery % s.route.length] ?? 0) % s.functions;
        const token = senderToken(next);
        sent[token]++;
        if (!(await fns[which]!.accepts(token))) refused.push({ at: next - T0, token, fn: which });
        delivery++;
        nextDelivery += EVERY_MS;
      }
    }
    clock.time = target;
  }

  await advanceTo(T0);
  secret.startRotation(VERSION);
  const deps = { secrets: () => secret, webhook, clock, log: silentLog, generateToken: () => 'new' };
  for (const [i, Step] of ROTATION_STEPS.entries()) {
    await advanceTo(clock.now() + (s.gaps[i] ?? 0) * 1000);
    await rotateWebhookToken({ Step, SecretId: ARN, ClientRequestToken: VERSION }, deps, settings);
  }
  const finishedAt = clock.now();
  const patchedAt = webhook.patches[0]?.at ?? Number.NaN;
  // Deliveries go on through the grace period, with the sender on the new token by then.
  await advanceTo(Math.max(finishedAt, patchedAt + s.switchDelayMs) + GRACE_MS / 2);
  await advanceTo(finishedAt + GRACE_MS + CACHE_MS + 1);
  const afterGrace: Outcome['afterGrace'] = [];
  for (const fn of fns) afterGrace.push({ old: await fn.accepts('old'), new: await fn.accepts('new') });
  return { refused, sent, patchedAt, finishedAt, afterGrace };
}

const scenarios = fc.record({
  functions: fc.integer({ min: 1, max: 4 }),
  gaps: fc.array(fc.integer({ min: 0, max: 180 }), { minLength: 4, maxLength: 4 }),
  switchDelayMs: fc.integer({ min: 0, max: 45 * 60_000 }),
  junkAtMs: fc.array(fc.integer({ min: -300_000, max: 20 * 60_000 }), { maxLength: 12 }),
  route: fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 16 }),
});

describe('webhook token rotation, end to end on a fake clock', () => {
  it('refuses no delivery whenever the sender switches; after the grace period the old token gets 401', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        const outcome = await simulate(scenario, SAFE);
        expect(outcome.refused).toEqual([]);
        expect(outcome.sent.old).toBeGreaterThan(100);
        expect(outcome.sent.new).toBeGreaterThan(100);
        expect(outcome.patchedAt).toBeGreaterThanOrEqual(T0 + SAFE.propagationMs);
        expect(outcome.afterGrace).toEqual(
          Array.from({ length: scenario.functions }, () => ({ old: false, new: true })),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('has teeth: without the wait before the PATCH, a function that just spent its refresh refuses the new token', async () => {
    const scenario: Scenario = {
      functions: 1,
      gaps: [0, 0, 0, 0],
      switchDelayMs: 0,
      junkAtMs: [0],
      route: [0],
    };
    const unsafe = await simulate(scenario, { ...SAFE, propagationMs: 0 });
    expect(unsafe.refused.length).toBeGreaterThan(0);
    expect(unsafe.refused[0]).toMatchObject({ token: 'new', fn: 0 });
    const safe = await simulate(scenario, SAFE);
    expect(safe.refused).toEqual([]);
  });
});
