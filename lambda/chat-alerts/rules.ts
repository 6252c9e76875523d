import { buildkiteEvents, type EventPatternJson } from '../shared/contract';
import type { AlertKind } from './model';

/**
 * The Buildkite events each alert kind needs. Build alerts also need `job.finished`, the only
 * source of a build's failed jobs (build payloads carry no jobs).
 */
export const EVENTS_FOR_KIND: Readonly<Record<AlertKind, readonly string[]>> = {
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
  'package.created': ['package.created'],
};

/**
 * The one rule pattern of the chat-alerts consumer, for the deployed rule and the local bus alike:
 * only the Buildkite events some destination needs, so unused families never invoke the function.
 *
 * `job.finished` is not narrowed to failed jobs here: that needs `$or` (or mixing `exists: false`
 * with values), which the Consumer construct's pattern conversion does not accept; the function
 * ignores passed jobs instead.
 */
export function chatAlertsPattern(kinds: readonly AlertKind[]): EventPatternJson {
  const names = new Set(kinds.flatMap((kind) => EVENTS_FOR_KIND[kind]));
  if (names.size === 0) throw new Error('chat alerts: no alert kind is enabled on any destination.');
  return buildkiteEvents(...[...names].sort());
}
