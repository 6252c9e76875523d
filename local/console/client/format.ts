/**
 * The page's pure logic: which deliveries a filter shows, and the text of a status, a rule's
 * verdict, an analytics record or a body. No DOM, so unit tests run it as the page does.
 */
import type { WireConsumerReport, WireDelivery, WireDeliverySummary, WireRuleVerdict } from '../wire';

/** The family of an event name: `build` of `build.finished`. */
export const family = (event: string | undefined): string => (event ? (event.split('.')[0] ?? '') : '');

/** The CSS class of an HTTP status: `s2` for 2xx, `s4` for 4xx. */
export const statusClass = (status: number | undefined): string =>
  status === undefined ? '' : `s${String(status)[0]}`;

export const isAccepted = (status: number | undefined): boolean =>
  status !== undefined && status >= 200 && status < 300;

/** The list's filters as the page's controls hold them. */
export interface ListFilter {
  /** An event family, or '' for all. */
  readonly family: string;
  /** 'accepted', 'rejected' or '' for any status. */
  readonly status: string;
  /** Text any of the row's fields contains, any case. */
  readonly text: string;
}

export function filterDeliveries(
  deliveries: readonly WireDeliverySummary[],
  filter: ListFilter,
): WireDeliverySummary[] {
  const text = filter.text.trim().toLowerCase();
  return deliveries.filter((d) => {
    if (filter.family && family(d.event) !== filter.family) return false;
    if (filter.status === 'accepted' && !isAccepted(d.status)) return false;
    if (filter.status === 'rejected' && !(d.status !== undefined && d.status >= 400)) return false;
    if (text) {
      const hay = [d.id, d.route, d.path, d.auth, d.status, d.code, d.event, d.error].join(' ').toLowerCase();
      if (!hay.includes(text)) return false;
    }
    return true;
  });
}

/** The event families among the deliveries, sorted. */
export function familiesOf(deliveries: readonly WireDeliverySummary[]): string[] {
  return [...new Set(deliveries.map((d) => family(d.event)).filter(Boolean))].sort();
}

/** A rule's verdict on an event: its target's state, or the first field that did not match. */
export function verdictText(rule: WireRuleVerdict): string {
  if (!rule.matched) {
    return rule.failed ? `first failing field ${rule.failed.path}: ${rule.failed.reason}` : 'not matched';
  }
  const attempts = rule.attempts !== undefined && rule.attempts > 1 ? ` after ${rule.attempts} attempts` : '';
  return `${rule.status ?? ''}${attempts}${rule.error ? `: ${rule.error}` : ''}`;
}

/** Chat alerts first (what people see), then the other consumers' outcomes. */
const REPORT_ORDER: readonly WireConsumerReport['kind'][] = [
  'chat-alert',
  'chat-duplicate',
  'trigger-relay',
  'autoscaler',
  'analytics',
  'skipped',
];

export function sortReports<R extends WireConsumerReport>(reports: readonly R[]): R[] {
  return [...reports].sort((a, b) => REPORT_ORDER.indexOf(a.kind) - REPORT_ORDER.indexOf(b.kind));
}

const RECORD_FIELDS = [
  'event',
  'pipeline',
  'branch',
  'build_state',
  'build_duration_s',
  'job_state',
  'queue',
  'queue_wait_s',
] as const;

/** The fields of an analytics record worth a glance; the whole record is one click away. */
export function recordLine(record: unknown): string {
  const fields = (record ?? {}) as Record<string, unknown>;
  return RECORD_FIELDS.filter((key) => fields[key] !== null && fields[key] !== undefined)
    .map((key) => `${key} ${String(fields[key])}`)
    .join(' · ');
}

/** A body as shown: JSON indented, other text as it is, a binary body said to be base64. */
export function prettyBody(d: Pick<WireDelivery, 'body' | 'bodyBase64'>): string {
  if (d.bodyBase64) return `(not UTF-8; base64) ${d.body}`;
  try {
    return JSON.stringify(JSON.parse(d.body), null, 2);
  } catch {
    return d.body;
  }
}

/** The Adaptive Card in a Teams Workflows payload (`attachments[0].content`), if there is one. */
export function teamsCard(payload: unknown): unknown {
  const attachments = (payload as { attachments?: unknown } | null | undefined)?.attachments;
  if (!Array.isArray(attachments)) return undefined;
  return (attachments[0] as { content?: unknown } | undefined)?.content;
}

/** What went wrong, for a line on the page. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An ISO time as a 24-hour wall-clock time; '' for none. */
export const clockTime = (iso: string | undefined): string =>
  iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '';
