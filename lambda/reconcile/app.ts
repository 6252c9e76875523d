/**
 * The reconciler: finds the `build.finished` deliveries Buildkite never sent and publishes each
 * once, and keeps the index of the ones the bus has seen.
 */
import { RECONCILE_DELIVERY_SOURCE, type EventEnvelope } from '../shared/contract';
import {
  candidates,
  indexKeyOf,
  reconciledEntry,
  reconcileWindow,
  type ReconcileSettings,
  type ReconcileWindow,
} from './domain';
import {
  PageLimitReached,
  RateBudgetSpent,
  type BuildSource,
  type DeliveryIndex,
  type EventPublisher,
  type IndexSource,
  type ReconcileLog,
  type ReconcileMetrics,
} from './ports';

export interface ReconcileDeps {
  readonly builds: BuildSource;
  readonly index: DeliveryIndex;
  readonly publisher: EventPublisher;
  readonly metrics: ReconcileMetrics;
  readonly log: ReconcileLog;
  readonly now: () => Date;
}

export interface RunSummary {
  readonly window: ReconcileWindow;
  readonly pages: number;
  readonly apiCalls: number;
  /** Finished builds in the window. */
  readonly examined: number;
  /** Dedupe keys of the `build.finished` events published for deliveries Buildkite never sent. */
  readonly published: readonly string[];
  /** Set when the run stopped before the last page: to stay within the rate limit, or at maxPages. */
  readonly stoppedEarly?: string;
}

export class ReconcileApp {
  constructor(
    private readonly deps: ReconcileDeps,
    private readonly settings: ReconcileSettings,
  ) {}

  /**
   * One run: lists the builds that finished in the window and publishes a `build.finished` for
   * each the index has not seen, then records it, so the next run (whose window overlaps) does
   * not publish it again. A publish that fails fails the run before the build is recorded: it
   * is retried, never lost. Metrics go out even when the run fails.
   */
  async reconcile(runId: string): Promise<RunSummary> {
    const now = this.deps.now();
    const window = reconcileWindow(now, this.settings);
    const published: string[] = [];
    let pages = 0;
    let apiCalls = 0;
    let examined = 0;
    let stoppedEarly: string | undefined;
    try {
      for await (const page of this.deps.builds.finishedBuilds(window.from)) {
        pages++;
        apiCalls += page.requests;
        const due = candidates(page.builds, window);
        examined += due.length;
        if (due.length === 0) continue;
        const seen = await this.deps.index.seen(due.map((c) => c.key));
        for (const { build, key } of due) {
          // A build can appear on two pages when new builds shift the list while it is read.
          if (seen.has(key) || published.includes(key)) continue;
          await this.deps.publisher.publish(reconciledEntry(build, key, { now, runId }));
          await this.deps.index.record({ key, source: 'reconcile', seenAt: now });
          published.push(key);
          this.deps.log.warn('Buildkite never delivered this build.finished; published it', {
            dedupeKey: key,
            buildNumber: build.number,
            pipeline: build.pipeline?.slug,
            finishedAt: build.finished_at,
          });
        }
      }
    } catch (error) {
      if (!(error instanceof RateBudgetSpent || error instanceof PageLimitReached)) {
        this.emit(published.length, apiCalls);
        throw error;
      }
      apiCalls += error.requests;
      stoppedEarly = error.message;
      this.deps.log.warn(
        error instanceof RateBudgetSpent
          ? 'Reconciliation stopped early to stay within the rate limit'
          : 'Reconciliation stopped early at its page limit; the older builds of the window were not checked',
        { reason: error.message },
      );
    }
    this.emit(published.length, apiCalls);
    const summary = {
      window,
      pages,
      apiCalls,
      examined,
      published,
      ...(stoppedEarly ? { stoppedEarly } : {}),
    };
    this.deps.log.info('Reconciliation run finished', {
      from: window.from.toISOString(),
      until: window.until.toISOString(),
      pages,
      apiCalls,
      examined,
      missed: published.length,
    });
    return summary;
  }

  private emit(missed: number, apiCalls: number): void {
    this.deps.metrics.missed(missed);
    this.deps.metrics.apiCalls(apiCalls);
    this.deps.metrics.flush();
  }
}

/**
 * The index consumer: records one `build.finished` seen on the bus. Returns the key, or undefined
 * for an event that names no build (logged, not retried: no retry can add one).
 */
export async function recordDelivered(
  event: EventEnvelope,
  deps: Pick<ReconcileDeps, 'index' | 'log' | 'now'> & {
    /** Told when Buildkite delivered a build.finished that reconciliation had already published. */
    readonly late?: () => void;
  },
): Promise<string | undefined> {
  const key = indexKeyOf(event.detail);
  if (!key) {
    deps.log.warn('build.finished names no build id and state; not indexed', { eventId: event.id });
    return undefined;
  }
  const source: IndexSource =
    (event.detail as { delivery?: { source?: unknown } }).delivery?.source === RECONCILE_DELIVERY_SOURCE
      ? 'reconcile'
      : 'webhook';
  const previous = await deps.index.record({ key, source, seenAt: deps.now() });
  if (previous === 'reconcile' && source === 'webhook') {
    // Not a failure: consumers dedupe it. Frequent ones mean graceMinutes is shorter than Buildkite's delays.
    deps.log.warn('Buildkite delivered a build.finished late; reconciliation had already published it', {
      dedupeKey: key,
      eventId: event.id,
    });
    deps.late?.();
  }
  return key;
}
