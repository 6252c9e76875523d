import { BUILDKITE_SOURCE, buildkiteFamily, type EventPatternJson } from '../shared/contract';
import { DEFAULT_QUEUE } from './queue';

/** How often the reconcile schedule runs, in minutes (webhooks can be late or lost). */
export const RECONCILE_RATE_MINUTES = 1;

/** `source` and `detail-type` of the event a scheduled rule sends: what the handler reads as "reconcile". */
export const SCHEDULED_EVENT = { source: 'aws.events', detailType: 'Scheduled Event' } as const;

/**
 * The job and agent events of the given queues, in EventBridge's JSON form: the one definition
 * the CDK rule and the local bus both use.
 *
 * A job names its queue in `agent_query_rules` (`queue=<name>`) and an agent in `meta_data`;
 * EventBridge matches a pattern value against any element of an array, so `queue=<name>` lists
 * select both. A job or agent with no `queue=` entry is in the `default` queue, which a
 * pattern cannot express ("no element starts with queue="), so when `default` is mapped the
 * rule takes the whole job and agent families and the function drops other queues' events.
 */
export function autoscalerEventPattern(queues: readonly string[]): EventPatternJson {
  if (queues.length === 0) throw new Error('The autoscaler rule needs at least one queue.');
  const detailTypes = [
    ...(buildkiteFamily('job')['detail-type'] as unknown[]),
    ...(buildkiteFamily('agent')['detail-type'] as unknown[]),
  ];
  const pattern: EventPatternJson = { source: [BUILDKITE_SOURCE], 'detail-type': detailTypes };
  if (queues.includes(DEFAULT_QUEUE)) return pattern;
  const tags = [...new Set(queues)].map((q) => `queue=${q}`);
  return {
    ...pattern,
    detail: { $or: [{ job: { agent_query_rules: tags } }, { agent: { meta_data: tags } }] },
  };
}
