import {
  BUILDKITE_SOURCE,
  FAMILY_PREFIX,
  HEALTH_EVENTS,
  HEALTH_SOURCE,
  type EventPatternJson,
} from '../shared/contract';
import type { AlertKind } from './model';

/** A detail-type in a rule pattern: an exact name, or a prefix for a whole family. */
export type DetailTypeMatch = string | { readonly prefix: string };

/**
 * The Buildkite events each alert kind needs. Build alerts also need `job.finished`, the only
 * source of a build's failed jobs (build payloads carry no jobs). Test Engine monitors without
 * `event` are published as `workflow.<type>` for any type Buildkite sends, so their kind takes
 * the whole `workflow.` family.
 */
const EVENTS_FOR_KIND: Readonly<Record<AlertKind, readonly DetailTypeMatch[]>> = {
  'build.failed': ['build.finished', 'job.finished'],
  'build.still_failing': ['build.finished', 'job.finished'],
  'build.fixed': ['build.finished'],
  'build.blocked': ['build.finished'],
  'build.canceled': ['build.finished'],
  'agent.lost': ['agent.lost'],
  'agent.blocked': ['agent.blocked'],
  'cluster_token.registration_blocked': ['cluster_token.registration_blocked'],
  'workflow.alarm': ['workflow.alarm'],
  'workflow.recover': ['workflow.recover'],
  'workflow.monitor': [{ prefix: FAMILY_PREFIX.workflow }],
  'package.created': ['package.created'],
  // kitebridge's own derived event (source kitebridge.health), published by the autoscaler.
  'job.stuck': [HEALTH_EVENTS.jobStuck],
};

/**
 * The one rule pattern of the chat-alerts consumer, for the deployed rule and the local bus alike:
 * only the Buildkite events some destination needs, so unused families never invoke the function.
 * Names a prefix already matches are left out; the prefixes come last.
 *
 * `job.finished` is not narrowed to failed jobs here: that needs `$or` (or mixing `exists: false`
 * with values), which the Consumer construct's pattern conversion does not accept; the function
 * ignores passed jobs instead.
 */
export function chatAlertsPattern(kinds: readonly AlertKind[]): EventPatternJson {
  const matches = kinds.flatMap((kind) => EVENTS_FOR_KIND[kind]);
  if (matches.length === 0) throw new Error('chat alerts: no alert kind is enabled on any destination.');
  const prefixes = [...new Set(matches.flatMap((m) => (typeof m === 'string' ? [] : [m.prefix])))].sort();
  const names = [...new Set(matches.filter((m): m is string => typeof m === 'string'))]
    .filter((name) => !prefixes.some((prefix) => name.startsWith(prefix)))
    .sort();
  // Buildkite sends no job.stuck, so one pattern over both sources matches exactly these events.
  const sources = kinds.includes('job.stuck') ? [BUILDKITE_SOURCE, HEALTH_SOURCE] : [BUILDKITE_SOURCE];
  return { source: sources, 'detail-type': [...names, ...prefixes.map((prefix) => ({ prefix }))] };
}
