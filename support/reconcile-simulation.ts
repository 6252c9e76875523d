/**
 * A simulated history for the reconciler: builds finish over time, Buildkite delivers most of
 * their `build.finished` webhooks (after a delay) and drops the rest, and the reconciler runs on
 * its schedule against an in-memory builds API that paginates by `Link` and counts requests with
 * Buildkite's rate-limit headers. The real ReconcileApp, ApiBuildSource and BuildkiteRestClient run;
 * only the network, the bus and the index are in memory, and time is simulated.
 *
 * Used by the acceptance test (test/lambda/reconcile/acceptance.test.ts) and `npm run bench:reconcile`.
 */
import { ReconcileApp } from '../lambda/reconcile/app';
import { ApiBuildSource } from '../lambda/reconcile/buildkite-builds';
import type { ReconcileSettings } from '../lambda/reconcile/domain';
import type { ApiBuild } from '../lambda/reconcile/ports';
import { BuildkiteRestClient } from '../lambda/shared/buildkite-rest';
import { buildFinishedDedupeKey, type BusEntry } from '../lambda/shared/contract';
import { MemoryDeliveryIndex } from '../local/adapters/memory-delivery-index';

export const SIM_ORG = 'acme';
const BASE_URL = 'http://buildkite.simulated';

/** One build of the history. */
export interface SimBuild {
  readonly id: string;
  readonly number: number;
  readonly state: 'passed' | 'failed' | 'canceled';
  /** Simulated epoch milliseconds. */
  readonly finishedAt: number;
  /** Buildkite sent (and kitebridge received) its `build.finished`, `deliveryDelayMs` after it finished. */
  readonly delivered: boolean;
  readonly deliveryDelayMs: number;
  readonly pipeline: string;
}

/** The builds API's object for a simulated build. */
export function apiBuildOf(build: SimBuild): ApiBuild {
  const finished = new Date(build.finishedAt).toISOString();
  return {
    id: build.id,
    number: build.number,
    state: build.state,
    blocked: false,
    web_url: `https://buildkite.com/${SIM_ORG}/${build.pipeline}/builds/${build.number}`,
    created_at: new Date(build.finishedAt - 300_000).toISOString(),
    finished_at: finished,
    pipeline: { id: `pipeline-${build.pipeline}`, slug: build.pipeline, name: build.pipeline },
    jobs: [{ id: `job-${build.id}`, state: build.state }],
  };
}

export interface RateWindow {
  /** Requests per minute allowed (Buildkite: 200 per organization, 50 per token). */
  readonly limit: number;
}

/**
 * An in-memory `GET /v2/organizations/{org}/builds` (finished_from, state[], per_page, page),
 * newest first, `Link: <…>; rel="next"` while more pages remain, with RateLimit-* headers counted
 * per simulated minute; past the limit it answers 429 like Buildkite.
 */
export class SimulatedBuildsApi {
  requests = 0;
  throttled = 0;
  private windowStart = 0;
  private inWindow = 0;

  constructor(
    private readonly builds: readonly SimBuild[],
    private readonly now: () => number,
    private readonly perToken: RateWindow = { limit: 50 },
  ) {}

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if ((init?.method ?? 'GET') !== 'GET' || url.pathname !== `/v2/organizations/${SIM_ORG}/builds`) {
      return new Response(JSON.stringify({ message: 'Not Found' }), { status: 404 });
    }
    const now = this.now();
    const minute = Math.floor(now / 60_000) * 60_000;
    if (minute !== this.windowStart) {
      this.windowStart = minute;
      this.inWindow = 0;
    }
    this.requests++;
    this.inWindow++;
    const reset = Math.ceil((minute + 60_000 - now) / 1000);
    const remaining = Math.max(0, this.perToken.limit - this.inWindow);
    const headers = new Headers({
      'content-type': 'application/json',
      'RateLimit-User-Remaining': String(remaining),
      'RateLimit-User-Reset': String(reset),
    });
    if (this.inWindow > this.perToken.limit) {
      this.throttled++;
      return new Response(JSON.stringify({ message: 'Rate limit exceeded', scope: 'user' }), {
        status: 429,
        headers,
      });
    }
    const from = Date.parse(url.searchParams.get('finished_from') ?? '');
    const states = url.searchParams.getAll('state[]');
    const perPage = Number(url.searchParams.get('per_page') ?? 30);
    const page = Number(url.searchParams.get('page') ?? 1);
    const visible = this.builds
      .filter((b) => b.finishedAt <= now && (Number.isNaN(from) || b.finishedAt >= from))
      .filter((b) => states.length === 0 || states.includes(b.state))
      .sort((a, b) => b.finishedAt - a.finishedAt);
    const slice = visible.slice((page - 1) * perPage, page * perPage);
    if (page * perPage < visible.length) {
      const next = new URL(url);
      next.searchParams.set('page', String(page + 1));
      headers.set('Link', `<${next.toString()}>; rel="next"`);
    }
    return new Response(JSON.stringify(slice.map(apiBuildOf)), { status: 200, headers });
  };
}

export interface SimulationOptions {
  readonly builds: readonly SimBuild[];
  readonly settings: ReconcileSettings;
  readonly scheduleMinutes: number;
  /** First run (simulated epoch ms); runs continue until every build has left the window. */
  readonly startMs: number;
  readonly maxPages?: number;
  readonly perTokenLimit?: number;
}

export interface SimulationResult {
  /** Each published event's key and the simulated time it was published. */
  readonly published: readonly { readonly key: string; readonly at: number; readonly entry: BusEntry }[];
  readonly runs: number;
  readonly apiCalls: number;
  readonly throttled: number;
  /** Simulated milliseconds from the first to the last run. */
  readonly spanMs: number;
  /** For each dropped build that was published: ms from its finish to its publication. */
  readonly detectionDelaysMs: readonly number[];
  readonly dropped: ReadonlySet<string>;
  readonly delivered: ReadonlySet<string>;
}

/** Runs the history: deliveries land in the index when they arrive; the reconciler runs on its schedule. */
export async function simulateReconciliation(options: SimulationOptions): Promise<SimulationResult> {
  const keyOf = (b: SimBuild) => buildFinishedDedupeKey(apiBuildOf(b))!;
  let now = options.startMs;
  const api = new SimulatedBuildsApi(options.builds, () => now, { limit: options.perTokenLimit ?? 50 });
  const client = new BuildkiteRestClient({ token: 'simulated', baseUrl: BASE_URL, fetch: api.fetch });
  const index = new MemoryDeliveryIndex();
  const published: { key: string; at: number; entry: BusEntry }[] = [];
  const deliveries = options.builds
    .filter((b) => b.delivered)
    .map((b) => ({ key: keyOf(b), at: b.finishedAt + b.deliveryDelayMs }))
    .sort((a, b) => a.at - b.at);
  let nextDelivery = 0;
  const lastFinish = Math.max(options.startMs, ...options.builds.map((b) => b.finishedAt));
  const endMs = lastFinish + options.settings.lookbackMinutes * 60_000 + options.scheduleMinutes * 60_000;
  const silent = { info() {}, warn() {} };
  let runs = 0;
  for (; now <= endMs; now += options.scheduleMinutes * 60_000) {
    while (nextDelivery < deliveries.length && deliveries[nextDelivery]!.at <= now) {
      const d = deliveries[nextDelivery++]!;
      await index.record({ key: d.key, source: 'webhook', seenAt: new Date(d.at) });
    }
    const runStart = now;
    const app = new ReconcileApp(
      {
        builds: new ApiBuildSource(client, SIM_ORG, {
          maxPages: options.maxPages ?? 20,
          // A Lambda run of up to 5 minutes; waiting advances simulated time.
          remainingMs: () => 240_000 - (now - runStart),
          sleep: async (ms) => {
            now += ms;
          },
        }),
        index,
        publisher: {
          publish: async (entry) => {
            const key = (JSON.parse(entry.detail) as { delivery: { dedupeKey: string } }).delivery.dedupeKey;
            published.push({ key, at: now, entry });
            return `event-${published.length}`;
          },
        },
        metrics: { missed() {}, apiCalls() {}, flush() {} },
        log: silent,
        now: () => new Date(now),
      },
      options.settings,
    );
    await app.reconcile(`run-${runs}`);
    runs++;
    now = runStart;
  }
  const dropped = new Set(options.builds.filter((b) => !b.delivered).map(keyOf));
  const finishedAt = new Map(options.builds.map((b) => [keyOf(b), b.finishedAt]));
  return {
    published,
    runs,
    apiCalls: api.requests,
    throttled: api.throttled,
    spanMs: (runs - 1) * options.scheduleMinutes * 60_000,
    detectionDelaysMs: published.filter((p) => dropped.has(p.key)).map((p) => p.at - finishedAt.get(p.key)!),
    dropped,
    delivered: new Set(options.builds.filter((b) => b.delivered).map(keyOf)),
  };
}

/** A seeded history: `count` builds finishing over `spanMs`, each dropped with `dropRate`. */
export function generateHistory(options: {
  readonly count: number;
  readonly startMs: number;
  readonly spanMs: number;
  readonly dropRate: number;
  /** Longest delivery delay of a delivered webhook. */
  readonly maxDelayMs: number;
  /** Share of the delivered webhooks that arrive late instead, 10 to 45 minutes after the build (Buildkite incidents). @default 0 */
  readonly lateRate?: number;
  readonly random: () => number;
}): SimBuild[] {
  const states = ['passed', 'failed', 'canceled'] as const;
  return Array.from({ length: options.count }, (_, i) => {
    const state = states[Math.floor(options.random() * states.length)]!;
    const finishedAt = options.startMs + Math.floor(options.random() * options.spanMs);
    const delivered = options.random() >= options.dropRate;
    const late = options.random() < (options.lateRate ?? 0);
    const deliveryDelayMs = late
      ? 600_000 + Math.floor(options.random() * 2_100_000)
      : Math.floor(options.random() * options.maxDelayMs);
    return {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      number: i + 1,
      state,
      finishedAt,
      delivered,
      deliveryDelayMs,
      pipeline: `pipeline-${i % 7}`,
    };
  });
}
