/**
 * The kitebridge event contract: the one place that says what goes on the bus.
 *
 * Imported by the verify function (publisher), the redrive function, every consumer and the
 * CDK code that writes rules, so a source or detail-type is spelled in exactly one place.
 */

import type { TriggerKind } from './triggers';

/** `source` of every Buildkite delivery published by kitebridge. */
export const BUILDKITE_SOURCE = 'buildkite';

/** `source` of every verified third-party pipeline-trigger request. */
export const TRIGGER_SOURCE = 'kitebridge.trigger';

/**
 * `source` of the events kitebridge derives itself about the CI fleet's health (published by the
 * autoscaler on the kitebridge bus; chat alerts turn them into alerts).
 */
export const HEALTH_SOURCE = 'kitebridge.health';

/** Detail-types of `kitebridge.health` events. */
export const HEALTH_EVENTS = {
  /** A job waited longer than the configured time on a queue with no connected agent able to take it. */
  jobStuck: 'job.stuck',
} as const;

/** The detail of a `kitebridge.health` `job.stuck` event. */
export interface JobStuckDetail {
  /** The Buildkite organization slug (the autoscaler's `org`). */
  readonly org: string;
  readonly queue: string;
  /** The job's id and its agent query rules other than `queue=`. */
  readonly job: { readonly id: string; readonly agentQueryRules: readonly string[] };
  /** Seconds since the job became ready for an agent. */
  readonly waitedSeconds: number;
  /** `no-connected-agent`: the queue has no connected agent; `no-matching-agent`: none matches the job's rules. */
  readonly reason: 'no-connected-agent' | 'no-matching-agent';
  /** ISO-8601 time the job became ready for an agent. */
  readonly readyAt: string;
}

/** Buildkite event names, grouped by family (the family is the prefix of the detail-type). */
export const BUILDKITE_EVENTS = {
  build: ['build.scheduled', 'build.running', 'build.failing', 'build.finished', 'build.skipped'],
  job: ['job.scheduled', 'job.started', 'job.finished', 'job.activated', 'job.promised_exit_status'],
  agent: [
    'agent.connected',
    'agent.lost',
    'agent.disconnected',
    'agent.stopping',
    'agent.stopped',
    'agent.blocked',
  ],
  ping: ['ping'],
  agentToken: ['cluster_token.registration_blocked'],
  package: ['package.created'],
  workflow: ['workflow.alarm', 'workflow.recover'],
} as const;

export type BuildkiteFamily = keyof typeof BUILDKITE_EVENTS;
export type BuildkiteEventName = (typeof BUILDKITE_EVENTS)[BuildkiteFamily][number];

/** Every Buildkite event name kitebridge knows of (it also accepts names it does not know). */
export const ALL_BUILDKITE_EVENTS: readonly BuildkiteEventName[] = Object.values(BUILDKITE_EVENTS).flat();

/** How a delivery proved it came from Buildkite. */
export type AuthMethod =
  | 'token'
  | 'signature'
  | 'path-token'
  /** Reconciled: read from Buildkite's builds API with the API token (`delivery.source: "reconcile"`). */
  | 'api'
  /** Trigger requests: the verification kind that passed. */
  | TriggerKind;

/** Where an oversized body was stored; the published event carries this instead of the body. */
export interface OversizedPointer {
  readonly bucket: string;
  readonly key: string;
  /** Size of the raw body in bytes. */
  readonly bytes: number;
}

/** The one top-level key kitebridge adds to each delivered body: `detail.delivery`. */
export interface DeliveryMetadata {
  /** ISO-8601 time the request reached the verify function. */
  readonly receivedAt: string;
  /** API Gateway request id (also the `id` in the 202 answer). */
  readonly requestId: string;
  /** Lowercase hex SHA-256 of the raw body: stable across Buildkite re-sends of the same body. */
  readonly dedupeKey: string;
  readonly auth: AuthMethod;
  /** ISO-8601 time from the signature header, in signature mode. */
  readonly signedAt?: string;
  /** The caller's address; absent on a reconciled event (nobody sent it). */
  readonly sourceIp?: string;
  /** Present when the body was too large for EventBridge and was stored in S3. */
  readonly oversized?: OversizedPointer;
  /**
   * `reconcile`: Buildkite never delivered this `build.finished`; kitebridge found the build in
   * Buildkite's builds API and published it, shaped like the webhook body. Absent on deliveries.
   */
  readonly source?: typeof RECONCILE_DELIVERY_SOURCE;
}

/** `delivery.source` of a `build.finished` the reconciler published for a delivery Buildkite never sent. */
export const RECONCILE_DELIVERY_SOURCE = 'reconcile';

/**
 * `delivery.dedupeKey` of a `build.finished`: `build.finished:<build id>:<state>:<finished_at>`
 * (`blocked` for a blocked build, whose `state` keeps its last value; `finished_at` as an ISO
 * time cut to the whole second, `…T04:16:03.000Z`: webhooks may spell it `2026-06-03 04:16:03 UTC`
 * while the builds API gives milliseconds, and both must agree), the same for
 * Buildkite's delivery and for the reconciler's copy read from the builds API, so a consumer that
 * dedupes on the key acts once whichever arrives first. `finished_at` keeps apart the two
 * `build.finished` of one build that finishes again after a job is retried. Without a
 * `finished_at` the key ends at the state. Undefined when the body names no build id or state
 * (the key is then the body's SHA-256, as for every other event).
 */
export function buildFinishedDedupeKey(build: unknown): string | undefined {
  if (typeof build !== 'object' || build === null) return undefined;
  const { id, state, blocked, finished_at } = build as {
    id?: unknown;
    state?: unknown;
    blocked?: unknown;
    finished_at?: unknown;
  };
  if (typeof id !== 'string' || id === '' || typeof state !== 'string' || state === '') return undefined;
  const key = `build.finished:${id}:${blocked === true ? 'blocked' : state}`;
  const finishedMs = typeof finished_at === 'string' ? Date.parse(finished_at) : Number.NaN;
  if (Number.isNaN(finishedMs)) return key;
  return `${key}:${new Date(Math.floor(finishedMs / 1000) * 1000).toISOString()}`;
}

/** `detail` of a Buildkite event on the bus: the body as delivered, plus `delivery`. */
export type BuildkiteDetail = Record<string, unknown> & {
  readonly event: string;
  readonly delivery: DeliveryMetadata;
};

/** One PutEvents entry, independent of the SDK's types so the spool can carry it verbatim. */
export interface BusEntry {
  readonly source: string;
  readonly detailType: string;
  /** JSON text of the detail object. */
  readonly detail: string;
  /** ISO-8601; EventBridge uses the PutEvents call time when absent. */
  readonly time?: string;
}

/**
 * EventBridge counts an entry's size as the UTF-8 bytes of Source, DetailType and Detail
 * (plus Resources), and 14 bytes for Time. The documented entry limit is 256 KiB; the
 * spool (SQS, also 256 KiB, counting message attributes) must hold the same entry, so
 * inline events stay 1 KiB below the limit and anything larger goes to S3.
 */
export const EVENTBRIDGE_ENTRY_LIMIT_BYTES = 256 * 1024;
export const INLINE_ENTRY_LIMIT_BYTES = EVENTBRIDGE_ENTRY_LIMIT_BYTES - 1024;

export function entrySize(entry: BusEntry): number {
  return (
    Buffer.byteLength(entry.source) +
    Buffer.byteLength(entry.detailType) +
    Buffer.byteLength(entry.detail) +
    (entry.time ? 14 : 0)
  );
}

/**
 * Detail-type of a Test Engine monitor delivery that has no `event` and names its monitor in
 * `type` (`passed_on_retry` → `workflow.passed_on_retry`), so `workflow.` selects all of Test Engine.
 */
export function testEngineDetailType(type: string): string {
  return `workflow.${type}`;
}

/** Detail-type of a verified pipeline-trigger request. */
export function triggerDetailType(name: string): string {
  return `trigger.${name}`;
}

/**
 * Detail-type of a trigger's verified ping (a sender's test request): `trigger.<name>.ping`.
 * The archive, the event log and any `kitebridge.trigger` source rule see it; no relay rule
 * does, because each names its trigger's detail-type `trigger.<name>` exactly, and trigger
 * names have no dots, so no trigger's detail-type is another's ping.
 */
export function triggerPingDetailType(name: string): string {
  return `${triggerDetailType(name)}.ping`;
}

/** Request headers a trigger event carries (lower-case names): identifying, never credentials. */
export const TRIGGER_SAFE_HEADERS = [
  'content-type',
  'user-agent',
  'x-github-event',
  'x-github-delivery',
  'x-github-hook-id',
  'linear-event',
  'linear-delivery',
  'x-pagerduty-webhook-id',
  'x-request-id',
  'webhook-id',
  'webhook-timestamp',
  'svix-id',
  'svix-timestamp',
] as const;

/**
 * `detail` of a verified trigger request (`source` kitebridge.trigger, `detail-type`
 * trigger.<name>). `payload` is the request's JSON body unchanged; when the body was too large
 * for EventBridge it is absent and `delivery.oversized` points at it in S3. For triggers,
 * `delivery.dedupeKey` is the sender's delivery id when it sends one (`github:<X-GitHub-Delivery>`,
 * `linear:<Linear-Delivery>`), else the SHA-256 of the body.
 */
export interface TriggerDetail {
  readonly trigger: string;
  readonly payload?: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly delivery: DeliveryMetadata;
}

/** Pattern for the requests of one trigger, optionally filtered on the payload. */
export function triggerEvents(name: string, payloadFilter?: EventPatternJson): EventPatternJson {
  return {
    source: [TRIGGER_SOURCE],
    'detail-type': [triggerDetailType(name)],
    ...(payloadFilter ? { detail: { payload: payloadFilter } } : {}),
  };
}

/**
 * An EventBridge event pattern in the service's own JSON form (`detail-type`, not
 * `detailType`), so one definition serves CDK rules, the local bus and the docs.
 */
export type EventPatternJson = Record<string, unknown>;

/** Every event kitebridge publishes: what the archive keeps and the tail rule copies. */
export const ALL_EVENTS_PATTERN: EventPatternJson = {
  source: [BUILDKITE_SOURCE, TRIGGER_SOURCE, HEALTH_SOURCE],
};

/** The full EventBridge event a rule target receives. */
export interface EventEnvelope<D = Record<string, unknown>> {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: D;
}

/** Pattern for one or more Buildkite events by exact name. */
export function buildkiteEvents(...names: string[]): EventPatternJson {
  return { source: [BUILDKITE_SOURCE], 'detail-type': names };
}

/** The detail-type prefix of each family; `ping` is a family of one. */
export const FAMILY_PREFIX: Readonly<Record<BuildkiteFamily, string>> = {
  build: 'build.',
  job: 'job.',
  agent: 'agent.',
  ping: 'ping',
  agentToken: 'cluster_token.',
  package: 'package.',
  workflow: 'workflow.',
};

/** Pattern for a whole Buildkite family, e.g. `buildkiteFamily('job')` matches `job.*`. */
export function buildkiteFamily(family: BuildkiteFamily): EventPatternJson {
  const prefix = FAMILY_PREFIX[family];
  return {
    source: [BUILDKITE_SOURCE],
    'detail-type': prefix.endsWith('.') ? [{ prefix }] : [prefix],
  };
}
