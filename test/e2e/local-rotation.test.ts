/**
 * Acceptance, locally: a webhook token rotation refuses no delivery. `npm start`'s code runs
 * in-process on an ephemeral port with its verify handler reading the local webhook secret through
 * the deployed TokenSource and cache; `npm run rotate -- --local`'s code runs the rotation
 * function's four steps on that secret, against the Buildkite API stub over HTTP. A simulated
 * Buildkite sends a signed delivery over HTTP every 20 s and switches to the token the stub holds
 * at a random moment after the rotation PATCHes it; deliveries with a wrong token arrive at random
 * moments too, each spending the verify handler's refresh budget. Time is simulated (the secret
 * cache, the refresh interval, signature timestamps, the rotation's wait and the grace period);
 * every request is awaited in turn, so no result depends on real timing. fast-check picks the
 * moments.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BuildkiteRestClient } from '../../lambda/shared/buildkite-rest';
import { BuildkiteWebhooks, webhookDescription } from '../../lambda/shared/buildkite-webhooks';
import { computeSignature } from '../../lambda/verify/signature';
import { localWebhookRegistry } from '../../local/adapters/local-webhook-registry';
import { startBuildkiteStub } from '../../local/buildkite-stub';
import { loadLocalConfig } from '../../local/local-config';
import { parseArgs as parseSendArgs, send } from '../../local/send';
import { startLocal } from '../../local/server';
import { register } from '../../scripts/register';
import { rotateLocal } from '../../scripts/rotate';
import { tokenMain } from '../../scripts/token';

const T0 = Date.parse('2026-12-06T12:00:00Z');
/** The deployed verify function's cache, used locally here. */
const CACHE_SECONDS = 300;
const GRACE_MS = 20 * 60_000;
const EVERY_MS = 20_000;
const API_TOKEN = 'stub-api-token';
const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';
const BODY = Buffer.from('{"event":"build.finished","build":{"id":"b-1","number":1,"state":"passed"}}');

interface Scenario {
  /** When the first delivery is sent, before the rotation starts (so where the caches' reads fall). */
  readonly phaseMs: number;
  /** How long after the PATCH the sender starts using the new token. */
  readonly switchDelayMs: number;
  /** Offsets from the rotation's start of deliveries with a wrong token. */
  readonly junkAtMs: readonly number[];
}

interface Outcome {
  /** Deliveries from the sender (not junk) that were not accepted. */
  readonly refused: { at: number; token: 'old' | 'new'; status: number }[];
  readonly sent: { old: number; new: number };
  /** Statuses for the junk deliveries (each must be 401). */
  readonly junkStatuses: number[];
  readonly patches: number;
  readonly stubToken: unknown;
  readonly secretToken: string;
  readonly devToken: string;
  /** After the grace period: the status for each token. */
  readonly afterGrace: { old: number; new: number };
  /** `npm run send` (token from the dev-token file) and `npm run token -- --local`, after it. */
  readonly sendCommand: { token: string; status: number };
  readonly tokenCommand: string;
  /** Lines the rotation printed. */
  readonly printed: string[];
}

async function simulate(s: Scenario): Promise<Outcome> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-rotation-'));
  const stub = await startBuildkiteStub({ organization: 'acme', apiToken: API_TOKEN, port: 0 });
  let time = T0 - 10 * 60_000 - s.phaseMs;
  const now = () => time;
  const local = await startLocal({
    config: loadLocalConfig(),
    dataDir,
    token: OLD,
    secretCacheSeconds: CACHE_SECONDS,
    now,
  });
  try {
    const webhookUrl = `${local.url}/buildkite`;
    const description = webhookDescription('local');
    const api = new BuildkiteWebhooks(
      new BuildkiteRestClient({ baseUrl: stub.url, token: API_TOKEN }),
      'acme',
    );
    await register(api, { url: webhookUrl, token: local.token, description });

    const post = async (token: string, at: number) => {
      const timestamp = String(Math.floor(at / 1000));
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Buildkite-Event': 'build.finished',
          'X-Buildkite-Signature': `timestamp=${timestamp},signature=${computeSignature(token, timestamp, BODY)}`,
        },
        body: BODY,
      });
      await response.arrayBuffer();
      return response.status;
    };

    // The simulated Buildkite: the token its webhook holds, taken up `switchDelayMs` after it changed.
    const refused: Outcome['refused'] = [];
    const sent = { old: 0, new: 0 };
    const junkStatuses: number[] = [];
    const junk = s.junkAtMs.map((ms) => T0 + ms).sort((a, b) => a - b);
    let nextDelivery = time;
    let changeSeenAt: number | undefined;
    const senderToken = (at: number): 'old' | 'new' => {
      if (changeSeenAt === undefined && stub.state.services[0]?.settings.token !== OLD) changeSeenAt = at;
      return changeSeenAt !== undefined && at >= changeSeenAt + s.switchDelayMs ? 'new' : 'old';
    };
    const advanceTo = async (target: number) => {
      for (;;) {
        const nextJunk = junk[0] ?? Number.POSITIVE_INFINITY;
        const next = Math.min(nextDelivery, nextJunk);
        if (next > target) break;
        time = next;
        if (next === nextJunk) {
          junk.shift();
          junkStatuses.push(await post('junk-token-not-in-the-secret', next));
        } else {
          const which = senderToken(next);
          sent[which]++;
          const status = await post(which === 'old' ? OLD : NEW, next);
          if (status !== 202) refused.push({ at: next - T0, token: which, status });
          nextDelivery += EVERY_MS;
        }
      }
      time = target;
    };

    await advanceTo(T0);
    const printed: string[] = [];
    // npm run rotate -- --local, on the simulated clock: its wait lets the sender go on sending.
    await rotateLocal({
      store: local.secret,
      webhook: localWebhookRegistry({
        baseUrl: stub.url,
        apiToken: API_TOKEN,
        organization: 'acme',
        webhookUrl,
        description,
      }),
      clock: { now, sleep: (ms) => advanceTo(time + ms) },
      graceMs: GRACE_MS,
      generateToken: () => NEW,
      say: (line) => void printed.push(line),
    });
    const finishedAt = time;

    // Deliveries go on through the grace period; then the old token is refused.
    await advanceTo(finishedAt + GRACE_MS - 1);
    await advanceTo(finishedAt + GRACE_MS);
    const afterGrace = { old: await post(OLD, time), new: await post(NEW, time) };

    const env = { KITEBRIDGE_DATA_DIR: dataDir, PORT: new URL(local.url).port };
    const options = parseSendArgs(['ping'], env);
    const sendCommand = { token: options.token, status: (await send(options)).status };
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    let tokenCommand: string;
    try {
      expect(await tokenMain(['--local'], env)).toBe(0);
      tokenCommand = String(log.mock.calls.at(-1)?.[0]);
    } finally {
      log.mockRestore();
    }

    return {
      refused,
      sent,
      junkStatuses,
      patches: stub.state.requests.filter((r) => r.method === 'PATCH').length,
      stubToken: stub.state.services[0]?.settings.token,
      secretToken: local.secret.currentToken(),
      devToken: readFileSync(path.join(dataDir, 'dev-token'), 'utf8').trim(),
      afterGrace,
      sendCommand,
      tokenCommand,
      printed,
    };
  } finally {
    await local.close();
    await stub.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const scenarios = fc.record({
  phaseMs: fc.integer({ min: 0, max: EVERY_MS - 1 }),
  switchDelayMs: fc.integer({ min: 0, max: GRACE_MS - EVERY_MS }),
  junkAtMs: fc.array(fc.integer({ min: -CACHE_SECONDS * 1000, max: 2 * CACHE_SECONDS * 1000 }), {
    maxLength: 6,
  }),
});

describe('webhook token rotation in local mode, over HTTP', () => {
  it('refuses no delivery whenever the sender switches; after the grace period the old token gets 401', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        const outcome = await simulate(scenario);
        expect(outcome.refused).toEqual([]);
        // Both tokens were really used (a pass is never an empty run), and every junk delivery was refused.
        expect(outcome.sent.old).toBeGreaterThan(25);
        expect(outcome.sent.new).toBeGreaterThan(0);
        expect(outcome.junkStatuses).toEqual(scenario.junkAtMs.map(() => 401));
        expect(outcome.patches).toBe(1);
        expect({ stub: outcome.stubToken, secret: outcome.secretToken, devToken: outcome.devToken }).toEqual({
          stub: NEW,
          secret: NEW,
          devToken: NEW,
        });
        expect(outcome.afterGrace).toEqual({ old: 401, new: 202 });
        expect(outcome.sendCommand).toEqual({ token: NEW, status: 202 });
        expect(outcome.tokenCommand).toBe(NEW);
        // Each of the four steps is printed, in order, and no token is.
        expect(outcome.printed.filter((l) => /^Step \d\/4 /.test(l)).map((l) => l.split(' ')[2])).toEqual([
          'createSecret:',
          'setSecret:',
          'testSecret:',
          'finishSecret:',
        ]);
        expect(outcome.printed.join('\n')).not.toMatch(new RegExp(`${OLD}|${NEW}`));
      }),
      {
        numRuns: 4,
        // A wrong token just as the rotation starts: it spends the refresh budget a verify handler
        // would need if the new token reached Buildkite before the handler's cache had it.
        examples: [[{ phaseMs: 0, switchDelayMs: 0, junkAtMs: [0, CACHE_SECONDS * 1000] }]],
      },
    );
  });
});
