import { ReconcileApp, recordDelivered } from '../../../lambda/reconcile/app';
import {
  PageLimitReached,
  RateBudgetSpent,
  type ApiBuild,
  type BuildPage,
  type BuildSource,
} from '../../../lambda/reconcile/ports';
import { BuildkiteUnauthorizedError } from '../../../lambda/shared/buildkite-rest';
import type { BusEntry, EventEnvelope } from '../../../lambda/shared/contract';
import { MemoryDeliveryIndex } from '../../../local/adapters/memory-delivery-index';

const NOW = new Date('2026-12-06T12:00:00Z');
const SETTINGS = { lookbackMinutes: 60, graceMinutes: 3 };
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const build = (id: string, finishedMinutesAgo: number, extra: Partial<ApiBuild> = {}): ApiBuild => ({
  id,
  number: Number(id.replace(/\D/g, '') || 0),
  state: 'passed',
  blocked: false,
  finished_at: minutesAgo(finishedMinutesAgo),
  pipeline: { slug: 'api' },
  ...extra,
});

/** A source that yields the given pages, then optionally throws. */
function pagesOf(pages: ApiBuild[][], after?: Error): BuildSource & { froms: Date[] } {
  const froms: Date[] = [];
  return {
    froms,
    async *finishedBuilds(from: Date): AsyncIterable<BuildPage> {
      froms.push(from);
      for (const builds of pages) yield { builds, requests: 1 };
      if (after) throw after;
    },
  };
}

function harness(source: BuildSource, options: { failPublish?: boolean } = {}) {
  const index = new MemoryDeliveryIndex();
  const published: BusEntry[] = [];
  const metrics = { missed: [] as number[], apiCalls: [] as number[], flushed: 0 };
  const logs: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const app = new ReconcileApp(
    {
      builds: source,
      index,
      publisher: {
        publish: async (entry) => {
          if (options.failPublish) throw new Error('PutEvents failed');
          published.push(entry);
          return `event-${published.length}`;
        },
      },
      metrics: {
        missed: (n) => metrics.missed.push(n),
        apiCalls: (n) => metrics.apiCalls.push(n),
        flush: () => metrics.flushed++,
      },
      log: {
        info: (message, attributes) => logs.push({ level: 'info', message, attributes }),
        warn: (message, attributes) => logs.push({ level: 'warn', message, attributes }),
      },
      now: () => NOW,
    },
    SETTINGS,
  );
  return { app, index, published, metrics, logs };
}

describe('ReconcileApp.reconcile', () => {
  it('lists from the window start and publishes only the finished builds the index has not seen', async () => {
    const source = pagesOf([[build('b1', 10), build('b2', 20)], [build('b3', 30, { state: 'failed' })]]);
    const { app, index, published, metrics } = harness(source);
    await index.record({
      key: 'build.finished:b2:passed:2026-12-06T11:40:00.000Z',
      source: 'webhook',
      seenAt: NOW,
    });

    const summary = await app.reconcile('run-1');

    expect(source.froms).toEqual([new Date('2026-12-06T11:00:00Z')]);
    expect(summary.published).toEqual([
      'build.finished:b1:passed:2026-12-06T11:50:00.000Z',
      'build.finished:b3:failed:2026-12-06T11:30:00.000Z',
    ]);
    expect(summary).toMatchObject({ pages: 2, apiCalls: 2, examined: 3 });
    expect(published.map((e) => JSON.parse(e.detail).delivery.dedupeKey)).toEqual(summary.published);
    // Recorded, so the next run (whose window overlaps) does not publish them again.
    expect(index.entries.get('build.finished:b1:passed:2026-12-06T11:50:00.000Z')?.source).toBe('reconcile');
    expect(metrics).toEqual({ missed: [2], apiCalls: [2], flushed: 1 });

    const again = await app.reconcile('run-2');
    expect(again.published).toEqual([]);
  });

  it('leaves builds inside the grace period, blocked builds and builds outside the window alone', async () => {
    const source = pagesOf([
      [
        build('b1', 1), // finished 1 minute ago: its webhook may be on its way
        build('b2', 10, { blocked: true }),
        build('b3', 61),
        build('b4', 10, { state: 'running', finished_at: null }),
        build('b5', 10, { state: 'skipped' }),
      ],
    ]);
    const { app, published } = harness(source);
    const summary = await app.reconcile('run-1');
    expect(summary.examined).toBe(0);
    expect(published).toEqual([]);
  });

  it('publishes a build once even when it appears on two pages (the list shifted while read)', async () => {
    const { app, published } = harness(pagesOf([[build('b1', 10)], [build('b1', 10)]]));
    await app.reconcile('run-1');
    expect(published).toHaveLength(1);
  });

  it('ends quietly when the rate budget is spent, counting the refused request; the next run continues', async () => {
    const { app, published, metrics, logs } = harness(
      pagesOf([[build('b1', 10)]], new RateBudgetSpent(50, 1)),
    );
    const summary = await app.reconcile('run-1');
    expect(published).toHaveLength(1);
    expect(summary.stoppedEarly).toMatch(/resets in 50 s/);
    expect(metrics.apiCalls).toEqual([2]);
    expect(logs.some((l) => l.level === 'warn' && /stopped early/.test(l.message))).toBe(true);
  });

  it('ends with a warning naming maxPages when Buildkite had more pages than a run may read', async () => {
    const { app, published, metrics, logs } = harness(
      pagesOf([[build('b1', 10)], [build('b2', 20)]], new PageLimitReached(2)),
    );
    const summary = await app.reconcile('run-1');
    expect(published).toHaveLength(2);
    expect(summary.stoppedEarly).toMatch(/maxPages/);
    expect(metrics.apiCalls).toEqual([2]);
    expect(logs.some((l) => l.level === 'warn' && /page limit/.test(l.message))).toBe(true);
  });

  it('fails the run on any other error, after emitting what it did', async () => {
    const { app, metrics } = harness(
      pagesOf([[build('b1', 10)]], new BuildkiteUnauthorizedError('GET', '/v2/x')),
    );
    await expect(app.reconcile('run-1')).rejects.toBeInstanceOf(BuildkiteUnauthorizedError);
    expect(metrics).toEqual({ missed: [1], apiCalls: [1], flushed: 1 });
  });

  it('does not record a build whose publish failed, so the next run tries again', async () => {
    const { app, index } = harness(pagesOf([[build('b1', 10)]]), { failPublish: true });
    await expect(app.reconcile('run-1')).rejects.toThrow('PutEvents failed');
    expect(index.entries.size).toBe(0);
  });
});

describe('recordDelivered', () => {
  const envelope = (detail: Record<string, unknown>): EventEnvelope => ({
    version: '0',
    id: 'e-1',
    'detail-type': 'build.finished',
    source: 'buildkite',
    account: '1',
    time: NOW.toISOString(),
    region: 'eu-west-1',
    resources: [],
    detail,
  });
  const deps = () => {
    const index = new MemoryDeliveryIndex();
    const warnings: string[] = [];
    return {
      index,
      warnings,
      deps: { index, now: () => NOW, log: { info() {}, warn: (m: string) => warnings.push(m) } },
    };
  };

  it("records a delivery's key, from delivery.dedupeKey (an oversized body carries no build)", async () => {
    const { index, deps: d } = deps();
    const key = await recordDelivered(envelope({ delivery: { dedupeKey: 'build.finished:b1:failed' } }), d);
    expect(key).toBe('build.finished:b1:failed');
    expect(index.entries.get(key!)).toEqual({ source: 'webhook', seenAt: NOW });
  });

  it('falls back to the build in the body, and marks reconciled events as such', async () => {
    const { index, deps: d } = deps();
    await recordDelivered(
      envelope({ build: { id: 'b2', state: 'passed' }, delivery: { dedupeKey: 'abc', source: 'reconcile' } }),
      d,
    );
    expect(index.entries.get('build.finished:b2:passed')?.source).toBe('reconcile');
  });

  it('tells of a delivery that arrives after reconciliation published its build (late, not missed)', async () => {
    const { index, warnings, deps: d } = deps();
    let late = 0;
    await index.record({ key: 'build.finished:b3:failed', source: 'reconcile', seenAt: NOW });
    await recordDelivered(envelope({ delivery: { dedupeKey: 'build.finished:b3:failed' } }), {
      ...d,
      late: () => late++,
    });
    // A second copy of the reconciled event itself is not late.
    await recordDelivered(
      envelope({ delivery: { dedupeKey: 'build.finished:b3:failed', source: 'reconcile' } }),
      {
        ...d,
        late: () => late++,
      },
    );
    expect(late).toBe(1);
    expect(warnings).toEqual([
      'Buildkite delivered a build.finished late; reconciliation had already published it',
    ]);
    expect(index.entries.get('build.finished:b3:failed')?.source).toBe('reconcile');
  });

  it('skips, with a warning, an event that names no build', async () => {
    const { index, warnings, deps: d } = deps();
    await expect(recordDelivered(envelope({ delivery: { dedupeKey: 'abc' } }), d)).resolves.toBeUndefined();
    expect(index.entries.size).toBe(0);
    expect(warnings).toEqual(['build.finished names no build id and state; not indexed']);
  });
});
