/**
 * The reconciler's rules, pure: which builds a run examines, which of them Buildkite never
 * delivered, and the `build.finished` event published for each, shaped like the webhook body.
 */
import {
  BUILDKITE_SOURCE,
  buildFinishedDedupeKey,
  entrySize,
  INLINE_ENTRY_LIMIT_BYTES,
  RECONCILE_DELIVERY_SOURCE,
  type BusEntry,
  type DeliveryMetadata,
} from '../shared/contract';
import type { ApiBuild } from './ports';

export const BUILD_FINISHED = 'build.finished';

/**
 * Builds states that end a build with a `build.finished` delivery and a `finished_at`, as the
 * builds API's `state[]` filter names them. A blocked build also fires `build.finished`, but it has
 * not finished (no `finished_at`), so it is not reconciled (README: Reconcile).
 */
export const FINISHED_STATES = ['passed', 'failed', 'canceled'] as const;

export interface ReconcileSettings {
  /** How far back each run looks. Every build is examined by several runs while it is in the window. */
  readonly lookbackMinutes: number;
  /** A build that finished less than this long ago is left for a later run: its webhook may be on its way. */
  readonly graceMinutes: number;
}

export interface ReconcileWindow {
  /** Builds that finished at or after this are listed. */
  readonly from: Date;
  /** Builds that finished after this are left for a later run. */
  readonly until: Date;
}

export function reconcileWindow(now: Date, settings: ReconcileSettings): ReconcileWindow {
  return {
    from: new Date(now.getTime() - settings.lookbackMinutes * 60_000),
    until: new Date(now.getTime() - settings.graceMinutes * 60_000),
  };
}

/** A time from the API (ISO-8601, or Buildkite's `2018-07-01 20:14:38 UTC`), or undefined. */
export function parseApiTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const text = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/.test(value)
    ? `${value.slice(0, 10)}T${value.slice(11, 19)}Z`
    : value;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** A listed build this run may reconcile, with its key. */
export interface Candidate {
  readonly build: ApiBuild;
  readonly key: string;
}

/**
 * The builds of one page that are due for a check: finished (a state in FINISHED_STATES, not
 * blocked) inside the window, each with the dedupe key its delivery carries.
 */
export function candidates(builds: readonly ApiBuild[], window: ReconcileWindow): Candidate[] {
  const out: Candidate[] = [];
  for (const build of builds) {
    if (build.blocked === true || !(FINISHED_STATES as readonly string[]).includes(build.state)) continue;
    const finishedAt = parseApiTime(build.finished_at);
    if (!finishedAt || finishedAt < window.from || finishedAt > window.until) continue;
    const key = buildFinishedDedupeKey(build);
    if (key) out.push({ build, key });
  }
  return out;
}

/** Pipeline fields kept when the whole pipeline would make the event too large for EventBridge. */
const PIPELINE_ESSENTIALS = [
  'id',
  'graphql_id',
  'url',
  'web_url',
  'name',
  'slug',
  'repository',
  'default_branch',
];

/**
 * The webhook body Buildkite would have sent for `build`: `{event, build, pipeline}`. The API's
 * build carries its jobs and its pipeline; a webhook build carries neither (REFERENCE §2), so
 * they are taken out, and the pipeline becomes the top-level `pipeline`. There is no `sender`:
 * in a webhook it is the webhook's creator, which the builds API does not know.
 */
export function webhookBody(build: ApiBuild): Record<string, unknown> {
  const { pipeline, ...rest } = build;
  delete rest.jobs;
  return { event: BUILD_FINISHED, build: rest, ...(pipeline ? { pipeline } : {}) };
}

/** The bus entry for a `build.finished` Buildkite never delivered. */
export function reconciledEntry(
  build: ApiBuild,
  key: string,
  context: { readonly now: Date; readonly runId: string },
): BusEntry {
  const delivery: DeliveryMetadata = {
    receivedAt: context.now.toISOString(),
    requestId: context.runId,
    dedupeKey: key,
    auth: 'api',
    source: RECONCILE_DELIVERY_SOURCE,
  };
  const body = webhookBody(build);
  let entry = toEntry({ ...body, delivery });
  if (entrySize(entry) > INLINE_ENTRY_LIMIT_BYTES && body.pipeline && typeof body.pipeline === 'object') {
    const pipeline = body.pipeline as Record<string, unknown>;
    const essentials = Object.fromEntries(
      PIPELINE_ESSENTIALS.filter((k) => k in pipeline).map((k) => [k, pipeline[k]]),
    );
    entry = toEntry({ ...body, pipeline: essentials, delivery });
  }
  if (entrySize(entry) > INLINE_ENTRY_LIMIT_BYTES) {
    const { build: b } = body as { build: Record<string, unknown> };
    const { message, ...slim } = b;
    delete slim.env;
    delete slim.meta_data;
    const pipeline = (JSON.parse(entry.detail) as { pipeline?: unknown }).pipeline;
    entry = toEntry({
      event: BUILD_FINISHED,
      build: { ...slim, message: typeof message === 'string' ? message.slice(0, 1000) : message },
      ...(pipeline ? { pipeline } : {}),
      delivery,
    });
  }
  return entry;
}

function toEntry(detail: Record<string, unknown>): BusEntry {
  return { source: BUILDKITE_SOURCE, detailType: BUILD_FINISHED, detail: JSON.stringify(detail) };
}

/**
 * The index key of a `build.finished` event on the bus: its `delivery.dedupeKey` when that is a
 * build key (always, from the verify function and the reconciler), else one made from the body.
 */
export function indexKeyOf(detail: unknown): string | undefined {
  if (typeof detail !== 'object' || detail === null) return undefined;
  const { delivery, build } = detail as { delivery?: { dedupeKey?: unknown }; build?: unknown };
  const key = delivery?.dedupeKey;
  if (typeof key === 'string' && key.startsWith(`${BUILD_FINISHED}:`)) return key;
  return buildFinishedDedupeKey(build);
}
