/**
 * The local console's HTTP side: the page, its script (bundled in memory with esbuild from
 * local/console/client/main.ts, Microsoft's adaptivecards renderer included, so nothing comes from a
 * CDN), a JSON API and a server-sent-event stream of changes. Served by the local gateway on
 * every path that is not a webhook route, to loopback callers only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type * as http from 'node:http';
import { isIPv6 } from 'node:net';
import * as path from 'node:path';
import type { AnalyticsRecord } from '../../lambda/analytics/record';
import { validatePattern, type EventPattern } from '../../lambda/shared/event-pattern';
import { explainMatch } from '../../lambda/shared/pattern-explain';
import { ROUTES, triggerPath } from '../../lambda/shared/routes';
import { toTriggerDefinition } from '../../lambda/shared/triggers';
import type { KitebridgeConfig } from '../../lib/config';
import { localRecordsFile } from '../consumers/analytics';
import { PROJECT_ROOT } from '../local-env';
import { buildRequest, type AuthMode, type SendOptions, type SendTrigger } from '../send';
import { analyticsCharts } from './analytics';
import { CONSOLE_HEADER, summary, type Delivery, type Journal } from './journal';
import { CONSOLE_PAGE } from './page';
import type {
  WireAnalytics,
  WireDelivery,
  WireDeliverySummary,
  WireFixture,
  WirePatternAnswer,
  WireSendAnswer,
  WireState,
} from './wire';

export interface ConsoleOptions {
  readonly journal: Journal;
  /** Values that must never reach the page (chat webhook URLs, trigger URLs), besides the token. */
  readonly secrets?: readonly string[];
  /** @default fixtures/ in the project */
  readonly fixturesDir?: string;
}

export interface ConsoleSettings extends ConsoleOptions {
  readonly config: KitebridgeConfig;
  readonly dataDir: string;
  /** The webhook token: signs what the console sends; never sent to the page. */
  readonly token: string;
  /** Where the gateway listens, once it does. */
  readonly url: () => string;
}

export interface ConsoleApp {
  /** Answers a console request; false when the request is not the console's (then 404). */
  readonly handle: (request: http.IncomingMessage, response: http.ServerResponse) => boolean;
  /** Ends the event streams (a clean stop waits for open responses). */
  readonly close: () => void;
}

/** A request the console refuses, with the status and the reason shown. */
class ConsoleError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const LOOPBACK_HOSTS = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;

function isLoopback(address: string | undefined): boolean {
  const ip = address?.startsWith('::ffff:') ? address.slice(7) : (address ?? '');
  return isIPv6(ip) ? ip === '::1' : ip.startsWith('127.');
}

/**
 * The values to mask: each secret, and of a URL its path and query, every query value and every
 * long path segment (a Slack webhook's last part, a Buildkite trigger token), not short words
 * such as `services` that also appear in bodies.
 */
export function secretValues(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (value.length >= 4) out.add(value);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue;
    }
    if (url.pathname.length > 1) out.add(`${url.pathname}${url.search}`);
    for (const part of url.searchParams.values()) if (part.length >= 8) out.add(part);
    for (const part of url.pathname.split('/')) if (part.length >= 16) out.add(decodeURIComponent(part));
  }
  // Longest first: a secret that contains another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** The fixtures the page can send: Buildkite bodies and trigger bodies. */
function listFixtures(dir: string): { buildkite: string[]; triggers: string[] } {
  const names = (sub: string) => {
    try {
      return readdirSync(path.join(dir, sub))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .sort();
    } catch {
      return [];
    }
  };
  return { buildkite: names('buildkite'), triggers: names('triggers') };
}

/** What the page may ask to send. */
interface SendRequest {
  readonly fixture?: string;
  readonly body?: string;
  readonly mode?: 'token' | 'signature' | 'path-token';
  readonly trigger?: string;
  /** Sign with a wrong secret: see how a refused request looks. */
  readonly wrongSecret?: boolean;
}

/** The CDK snippet that adds `pattern` as a consumer, in the README's "Add a consumer" form. */
export function consumerSnippet(pattern: EventPattern): string {
  const json = JSON.stringify(pattern, null, 2).replace(/\n/g, '\n  ');
  return [
    `stack.addConsumer('MyConsumer', {`,
    `  pattern: ${json},`,
    `  receiver: { function: myFunction },`,
    `});`,
  ].join('\n');
}

export function createConsole(settings: ConsoleSettings): ConsoleApp {
  const { journal, config } = settings;
  const fixturesDir = settings.fixturesDir ?? path.join(PROJECT_ROOT, 'fixtures');
  // The token changes with a local rotation (npm run rotate -- --local): every token seen since
  // the start stays masked (an old one is still accepted for the grace period), the new one too.
  const tokensSeen = new Set<string>();
  let secrets: string[] = [];
  const currentSecrets = (): readonly string[] => {
    const token = settings.token;
    if (!tokensSeen.has(token)) {
      tokensSeen.add(token);
      // Answers are JSON: a secret holding `"` or `\` shows there escaped, once (a parsed body's
      // value) or twice (the raw body's JSON text), so those forms are masked too.
      const escaped = (v: string) => JSON.stringify(v).slice(1, -1);
      const plain = secretValues([...tokensSeen, ...(settings.secrets ?? [])]);
      secrets = [...new Set(plain.flatMap((v) => [v, escaped(v), escaped(escaped(v))]))].sort(
        (a, b) => b.length - a.length,
      );
    }
    return secrets;
  };
  const scrub = (text: string) => currentSecrets().reduce((out, s) => out.split(s).join('[redacted]'), text);
  const triggers = new Map<string, SendTrigger>(
    config.triggers.map((t) => {
      const d = toTriggerDefinition(t);
      return [
        t.name,
        {
          name: d.name,
          kind: d.kind,
          ...(d.header !== undefined ? { header: d.header } : {}),
          ...(d.encoding !== undefined ? { encoding: d.encoding } : {}),
        },
      ];
    }),
  );
  const streams = new Set<http.ServerResponse>();
  let script: Promise<string> | undefined;

  const json = (response: http.ServerResponse, status: number, value: unknown) => {
    const body = scrub(JSON.stringify(value));
    response.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body),
    });
    response.end(body);
  };

  const baseUrl = () => settings.url().replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/, 'http://127.0.0.1');

  /** Signs and sends through the real gateway and verify path, as `npm run send` does. */
  const sendThrough = async (
    body: Buffer,
    how: { mode: AuthMode; trigger?: string; file: string; wrongSecret?: boolean },
    marker: string,
  ): Promise<WireSendAnswer> => {
    const trigger = how.trigger === undefined ? undefined : triggers.get(how.trigger);
    if (how.trigger !== undefined && !trigger) {
      throw new ConsoleError(400, `No trigger named ${how.trigger} in cdk.json.`);
    }
    const options: SendOptions = {
      file: how.file,
      url: `${baseUrl()}${trigger ? triggerPath(encodeURIComponent(trigger.name)) : ROUTES.buildkite}`,
      mode: trigger ? 'trigger' : how.mode,
      token: how.wrongSecret ? 'not-the-webhook-token' : settings.token,
      tokenSource: 'the console',
      timeoutMs: 30_000,
      ...(trigger ? { trigger } : {}),
    };
    let request: ReturnType<typeof buildRequest>;
    try {
      request = buildRequest(options, body, new Date());
    } catch (error) {
      throw new ConsoleError(400, (error as Error).message);
    }
    const response = await fetch(request.url, {
      method: 'POST',
      headers: { ...request.headers, [CONSOLE_HEADER]: marker },
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  };

  const fixtureBody = (fixture: string): { body: Buffer; file: string } => {
    const match = /^(buildkite|triggers)\/([\w.-]+)$/.exec(fixture);
    const available = listFixtures(fixturesDir);
    const list = match?.[1] === 'buildkite' ? available.buildkite : available.triggers;
    if (!match || !list.includes(match[2] as string)) {
      throw new ConsoleError(
        400,
        `No fixture ${fixture}: pick one of fixtures/buildkite or fixtures/triggers.`,
      );
    }
    const file = path.join(fixturesDir, match[1] as string, `${match[2]}.json`);
    return { body: readFileSync(file), file };
  };

  const onSend = async (input: SendRequest): Promise<WireSendAnswer> => {
    let body: Buffer;
    let file: string;
    if (typeof input.body === 'string' && input.body.trim() !== '') {
      body = Buffer.from(input.body);
      file = 'the pasted body';
    } else if (typeof input.fixture === 'string') {
      ({ body, file } = fixtureBody(input.fixture));
    } else {
      throw new ConsoleError(400, 'Pick a fixture or paste a body to send.');
    }
    const mode = input.mode ?? 'signature';
    if (!['token', 'signature', 'path-token'].includes(mode)) {
      throw new ConsoleError(400, `Unknown mode ${String(mode)}: token, signature or path-token.`);
    }
    return sendThrough(
      body,
      {
        mode,
        file,
        ...(input.trigger ? { trigger: input.trigger } : {}),
        ...(input.wrongSecret ? { wrongSecret: true } : {}),
      },
      'send',
    );
  };

  const onReplay = async (delivery: Delivery): Promise<WireSendAnswer> => {
    if (delivery.route === '(spool)')
      throw new ConsoleError(400, 'An event from the spool has no request to replay.');
    const body = Buffer.from(delivery.body, delivery.bodyBase64 ? 'base64' : 'utf8');
    const mode: AuthMode =
      delivery.auth === 'token' || delivery.auth === 'path-token' ? delivery.auth : 'signature';
    // A GitHub trigger signs with the event named by the file, as `npm run send` does.
    const githubEvent = delivery.headers.find(([name]) => name.toLowerCase() === 'x-github-event')?.[1];
    const file = githubEvent ? `github-${githubEvent}.json` : 'replay.json';
    return sendThrough(
      body,
      { mode, file, ...(delivery.trigger !== undefined ? { trigger: delivery.trigger } : {}) },
      `replay:${delivery.id}`,
    );
  };

  const onPattern = (text: string): WirePatternAnswer => {
    let pattern: unknown;
    try {
      pattern = JSON.parse(text);
    } catch (error) {
      return { valid: false, error: `Not JSON: ${(error as Error).message}` };
    }
    try {
      validatePattern(pattern);
    } catch (error) {
      return { valid: false, error: (error as Error).message };
    }
    const events = journal.allEvents().map(({ deliveryId, envelope }) => {
      const verdict = explainMatch(pattern as EventPattern, envelope as unknown as Record<string, unknown>);
      return {
        deliveryId,
        eventId: envelope.id,
        detailType: envelope['detail-type'],
        time: envelope.time,
        matched: verdict.matched,
        ...(verdict.matched ? {} : { failed: verdict.failed }),
      };
    });
    return { valid: true, events, snippet: consumerSnippet(pattern as EventPattern) };
  };

  const readRecords = (): Partial<AnalyticsRecord>[] => {
    let text: string;
    try {
      text = readFileSync(localRecordsFile(settings.dataDir), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Partial<AnalyticsRecord>];
        } catch {
          return [];
        }
      });
  };

  const state = (): WireState => ({
    deliveries: journal.list(),
    rules: journal.ruleList().map((r) => ({ id: r.id, pattern: r.pattern })),
    fixtures: listFixtures(fixturesDir),
    triggers: [...triggers.values()].map((t) => ({ name: t.name, kind: t.kind })),
    analytics: Boolean(config.analytics),
  });

  const readBody = (request: http.IncomingMessage) =>
    new Promise<unknown>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 1024 * 1024) chunks.push(chunk);
      });
      request.on('end', () => {
        if (size > 1024 * 1024)
          return reject(new ConsoleError(413, 'Bodies up to 1 MB can be sent from the page.'));
        try {
          resolve(chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new ConsoleError(400, 'The console API takes JSON.'));
        }
      });
      request.on('error', reject);
    });

  const stream = (request: http.IncomingMessage, response: http.ServerResponse) => {
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    response.write(': connected\n\n');
    streams.add(response);
    const unsubscribe = journal.subscribe((change) => {
      response.write(`event: change\ndata: ${scrub(JSON.stringify(change))}\n\n`);
    });
    const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), 15_000);
    heartbeat.unref();
    const end = () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(response);
    };
    request.on('close', end);
    response.on('close', end);
  };

  const route = async (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => {
    const method = request.method ?? 'GET';
    const p = url.pathname;
    if (method === 'GET' && (p === '/' || p === '/index.html')) {
      response.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Security-Policy':
          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'",
        'X-Frame-Options': 'DENY',
      });
      response.end(scrub(CONSOLE_PAGE));
      return;
    }
    if (method === 'GET' && p === '/console.js') {
      script ??= bundleClient();
      const code = await script.catch((error: unknown) => {
        script = undefined;
        throw error;
      });
      response.writeHead(200, {
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      response.end(code);
      return;
    }
    if (method === 'GET' && p === '/api/stream') return stream(request, response);
    if (method === 'GET' && p === '/api/state') return json(response, 200, state());
    if (method === 'GET' && p === '/api/deliveries') {
      const list: readonly WireDeliverySummary[] = journal.list();
      return json(response, 200, list);
    }
    const one = /^\/api\/deliveries\/(\d+)$/.exec(p);
    if (method === 'GET' && one) {
      const delivery = journal.get(Number(one[1]));
      if (!delivery)
        throw new ConsoleError(
          404,
          `No delivery #${one[1]} (the console keeps the latest 500, up to 64 MiB of bodies).`,
        );
      const whole: WireDelivery = delivery;
      return json(response, 200, { ...whole, summary: summary(delivery) });
    }
    if (method === 'GET' && p === '/api/analytics') {
      const answer: WireAnalytics = {
        enabled: Boolean(config.analytics),
        charts: analyticsCharts(readRecords()),
      };
      return json(response, 200, answer);
    }
    if (method === 'GET' && p.startsWith('/api/fixtures/')) {
      const answer: WireFixture = {
        body: fixtureBody(p.slice('/api/fixtures/'.length)).body.toString('utf8'),
      };
      return json(response, 200, answer);
    }
    if (method !== 'POST') throw new ConsoleError(404, `No console page at ${method} ${p}.`);
    // Only the page may post: JSON (a cross-site form cannot send it) from this origin.
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
      throw new ConsoleError(415, 'The console API takes Content-Type: application/json.');
    }
    const origin = request.headers.origin;
    if (origin !== undefined && new URL(origin).host !== request.headers.host) {
      throw new ConsoleError(403, 'The console API answers its own page only.');
    }
    const body = (await readBody(request)) as Record<string, unknown>;
    if (p === '/api/send') return json(response, 200, await onSend(body as SendRequest));
    const replay = /^\/api\/deliveries\/(\d+)\/replay$/.exec(p);
    if (replay) {
      const delivery = journal.get(Number(replay[1]));
      if (!delivery) throw new ConsoleError(404, `No delivery #${replay[1]} to replay.`);
      return json(response, 200, await onReplay(delivery));
    }
    if (p === '/api/pattern') return json(response, 200, onPattern(String(body.pattern ?? '')));
    throw new ConsoleError(404, `No console API at POST ${p}.`);
  };

  return {
    handle: (request, response) => {
      const url = new URL(request.url ?? '/', 'http://console');
      const p = url.pathname;
      const isConsole = p === '/' || p === '/index.html' || p === '/console.js' || p.startsWith('/api/');
      if (!isConsole) return false;
      // Loopback only, and named as loopback (a DNS-rebinding page cannot reach it).
      if (!isLoopback(request.socket.remoteAddress) || !LOOPBACK_HOSTS.test(request.headers.host ?? '')) {
        request.resume();
        json(response, 403, {
          error: 'console_loopback_only',
          message: 'The console answers 127.0.0.1 only.',
        });
        return true;
      }
      route(request, response, url).catch((error: unknown) => {
        const status = error instanceof ConsoleError ? error.status : 500;
        const message = error instanceof Error ? error.message : String(error);
        if (!response.headersSent) json(response, status, { error: 'console_error', message });
        else response.end();
      });
      return true;
    },
    close: () => {
      for (const response of streams) response.end();
      streams.clear();
    },
  };
}

/** The page's script, bundled in memory: the client and the adaptivecards renderer it imports. */
async function bundleClient(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(__dirname, 'client', 'main.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}
