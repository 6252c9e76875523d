/**
 * What the reconciler needs from the outside world. The app (app.ts) only sees these; the AWS
 * and Buildkite implementations are in aws-adapters.ts and buildkite-builds.ts, the memory ones
 * (local mode, bench, tests) in support/.
 */
import type { BusEntry } from '../shared/contract';

/** A build as Buildkite's builds API lists it (the fields the reconciler reads; the rest pass through). */
export interface ApiBuild {
  readonly id: string;
  readonly state: string;
  readonly blocked?: boolean;
  readonly finished_at?: string | null;
  readonly pipeline?: Readonly<Record<string, unknown>>;
  readonly jobs?: readonly unknown[];
  readonly [field: string]: unknown;
}

/** One page of the builds list, with what it cost. */
export interface BuildPage {
  readonly builds: readonly ApiBuild[];
  /** Requests this page took (more than 1 after a 429 and its wait). */
  readonly requests: number;
}

/**
 * The source stopped before the last page because Buildkite's rate limit would not reset before
 * the run must end. Not a failure: the window slides, so the next run reads these builds again.
 */
export class RateBudgetSpent extends Error {
  constructor(
    readonly waitSeconds: number,
    /** Requests made before stopping (including the refused one, if any). */
    readonly requests: number,
  ) {
    super(
      `Buildkite's rate limit resets in ${waitSeconds} s, later than this run may wait; the next run continues.`,
    );
    this.name = 'RateBudgetSpent';
  }
}

/**
 * The source read the most pages a run may and Buildkite had more: the builds API lists the
 * newest builds first, so the older builds of the window were checked by no run (the next one
 * starts again from the newest). Not a run failure, but a gap in coverage to be fixed in config.
 */
export class PageLimitReached extends Error {
  /** Requests not already counted by the pages read (none). */
  readonly requests = 0;

  constructor(readonly maxPages: number) {
    super(
      `More builds finished in the window than ${maxPages} pages of 100 hold; the older ones were not checked. ` +
        'Raise "reconcile": {"maxPages": …} in cdk.json (at most 100) or lower lookbackMinutes, and deploy.',
    );
    this.name = 'PageLimitReached';
  }
}

/** Lists builds that finished at or after `from`, page by page, keeping within Buildkite's rate limits. */
export interface BuildSource {
  finishedBuilds(from: Date): AsyncIterable<BuildPage>;
}

/** Where the key of a `build.finished` came from. */
export type IndexSource = 'webhook' | 'reconcile';

/** One `build.finished` the bus has seen (or the reconciler has published). */
export interface IndexEntry {
  /** The event's dedupe key, `build.finished:<id>:<state>[:<finished_at>]`. */
  readonly key: string;
  readonly source: IndexSource;
  readonly seenAt: Date;
}

/** The index of `build.finished` deliveries seen on the bus, kept for a while (TTL). */
export interface DeliveryIndex {
  /** Which of `keys` are in the index. */
  seen(keys: readonly string[]): Promise<ReadonlySet<string>>;
  /** Records the key (idempotent: the first source and time are kept); resolves with the source already there, if any. */
  record(entry: IndexEntry): Promise<IndexSource | undefined>;
}

/** Puts one event on the bus; resolves with its id. */
export interface EventPublisher {
  publish(entry: BusEntry): Promise<string>;
}

/** Metrics one run emits. */
export interface ReconcileMetrics {
  /** `MissedDeliveries`: builds Buildkite never delivered a `build.finished` for, published now. */
  missed(count: number): void;
  /** `BuildkiteApiCalls`: requests made to Buildkite's API. */
  apiCalls(count: number): void;
  flush(): void;
}

export interface ReconcileLog {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
}
