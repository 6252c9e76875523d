/**
 * The console API's JSON as the page reads it: types only, with no Node.js or DOM dependency, so
 * both the server (local/console/app.ts, typechecked against these in the main program) and the
 * page's script (local/console/client, typechecked with the DOM library) use them. The server's
 * own records (journal.ts) hold more; each answer is declared as one of these types in app.ts, so
 * a field the page reads that the server stops sending fails the typecheck.
 */

/** The first field of an event pattern that an event does not match. */
export interface WireFailedField {
  readonly path: string;
  readonly reason: string;
}

/** How one rule on the local bus judged one event. */
export interface WireRuleVerdict {
  readonly ruleId: string;
  readonly matched: boolean;
  readonly failed?: WireFailedField;
  readonly status?: string;
  readonly attempts?: number;
  readonly error?: string;
}

type Attributes = Readonly<Record<string, unknown>>;

/** What a consumer reported about one event. */
export type WireConsumerReport =
  | {
      readonly kind: 'chat-alert';
      readonly destination: string;
      readonly service: string;
      readonly payload: unknown;
    }
  | { readonly kind: 'chat-duplicate'; readonly attributes: Attributes }
  | { readonly kind: 'analytics'; readonly records: readonly unknown[] }
  | { readonly kind: 'autoscaler'; readonly message: string; readonly attributes: Attributes }
  | { readonly kind: 'trigger-relay'; readonly message: string; readonly attributes: Attributes }
  | {
      readonly kind: 'skipped';
      readonly consumer: string;
      readonly message: string;
      readonly attributes: Attributes;
    };

/** One event on the local bus and what became of it. */
export interface WireEvent {
  readonly envelope: { readonly 'detail-type': string };
  readonly rules: readonly WireRuleVerdict[];
  readonly reports: readonly WireConsumerReport[];
  readonly deadLetters: readonly { readonly ruleId: string; readonly reason: string }[];
}

/** Who sent a request from the console: the Send tab, or a replay of an earlier delivery. */
export interface WireSentBy {
  readonly kind: 'send' | 'replay';
  readonly of?: number;
}

/** A delivery's line in the list (`GET /api/deliveries`). */
export interface WireDeliverySummary {
  readonly id: number;
  readonly time: string;
  readonly route: string;
  readonly path: string;
  readonly auth?: string;
  readonly status?: number;
  readonly code?: string;
  readonly event?: string;
  readonly size: number;
  readonly duplicateOf?: number;
  readonly sentBy?: WireSentBy;
  readonly error?: string;
}

/** One delivery, whole (`GET /api/deliveries/{id}`): its request, answer and events. */
export interface WireDelivery extends WireDeliverySummary {
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  readonly bodyBase64: boolean;
  readonly answer?: unknown;
  readonly events: readonly WireEvent[];
}

/** `GET /api/state`: what the page starts from. */
export interface WireState {
  readonly deliveries: readonly WireDeliverySummary[];
  /** The rules on the local bus and their patterns. */
  readonly rules: readonly { readonly id: string; readonly pattern: unknown }[];
  readonly fixtures: { readonly buildkite: readonly string[]; readonly triggers: readonly string[] };
  readonly triggers: readonly { readonly name: string; readonly kind: string }[];
  readonly analytics: boolean;
}

/** What the gateway answered to a request the console sent (`POST /api/send`, a replay). */
export interface WireSendAnswer {
  readonly status: number;
  readonly body: string;
}

/** `POST /api/pattern`: the pattern's verdict on every recorded event, or why it is invalid. */
export type WirePatternAnswer =
  | { readonly valid: false; readonly error: string }
  | {
      readonly valid: true;
      readonly snippet: string;
      readonly events: readonly {
        readonly deliveryId: number;
        readonly eventId: string;
        readonly detailType: string;
        readonly time: string;
        readonly matched: boolean;
        readonly failed?: WireFailedField;
      }[];
    };

/** One bar of a chart; `high` is a second value on the same bar (p95 over p50). */
export interface WireBar {
  readonly label: string;
  readonly value: number;
  readonly high?: number;
}

/** `GET /api/analytics`: the report's charts over the local records. */
export interface WireAnalytics {
  readonly enabled: boolean;
  readonly charts: readonly {
    readonly title: string;
    readonly description: string;
    readonly unit: string;
    readonly bars: readonly WireBar[];
  }[];
}

/** `GET /api/fixtures/{family}/{name}`: a fixture's body. */
export interface WireFixture {
  readonly body: string;
}

/** An `event: change` on `GET /api/stream`. */
export interface WireChange {
  readonly type: 'delivery' | 'analytics';
  readonly id?: number;
}

/** Every refusal of the console API. */
export interface WireError {
  readonly error: string;
  readonly message: string;
}
