/**
 * Small builders the autoscaler's unit tests share: a queue's job and agent counts, a bus event, and
 * the deployed handler's environment.
 */
import type { QueueCounts } from '../../lambda/autoscaler/decision';
import type { FleetMember } from '../../lambda/autoscaler/fleet';
import type { EventEnvelope } from '../../lambda/shared/contract';
import { parseAutoscalerConfig } from '../../lib/config/autoscaler';

/** A queue's counts: `running` jobs each hold a busy agent; no idle agents. */
export const queueCounts = (scheduled: number, running = 0, waiting = 0): QueueCounts => ({
  scheduled,
  running,
  waiting,
  idleAgents: 0,
  busyAgents: running,
  totalAgents: running,
});

/** The bus event `id-1` from `source` with `detailType` and `detail`, as the autoscaler receives it. */
export function busEvent(source: string, detailType: string, detail: unknown): EventEnvelope {
  return {
    version: '0',
    id: 'id-1',
    'detail-type': detailType,
    source,
    account: '1',
    time: '2026-06-03T04:15:00Z',
    region: 'us-east-1',
    resources: [],
    detail: detail as Record<string, unknown>,
  };
}

/**
 * The deployed function's environment for org `acme` with `queues` (as the autoscaler config takes
 * them), its tables, bus, agent-token secret and oversized-body bucket; `extra` adds or overrides.
 */
export function autoscalerHandlerEnv(
  queues: readonly Record<string, unknown>[],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AUTOSCALER_CONFIG: JSON.stringify(parseAutoscalerConfig({ org: 'acme', queues })),
    STATE_TABLE_NAME: 'state',
    FLEET_TABLE_NAME: 'fleet',
    EVENT_BUS_NAME: 'kitebridge',
    AGENT_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:agent-token',
    OVERSIZED_BUCKET_NAME: 'bodies',
    ...extra,
  };
}

/**
 * Fleet records for one test file: `rec(id, n, activity, agoMs?, version?)` is agent `id` on
 * instance `i-0000000<n>` (0: no instance), `activity` since `agoMs` before `now`, on queue
 * `linux`; a busy one runs `job-of-<id>`. Without a version, each call gets a higher one than the last.
 */
export function fleetRecords(now: number) {
  let version = 0;
  return (id: string, n: number, activity: FleetMember['activity'], agoMs = 0, v?: number): FleetMember => ({
    queue: 'linux',
    agentId: id,
    ...(n > 0 ? { instanceId: `i-0000000${n}` } : {}),
    activity,
    ...(activity === 'busy' ? { jobId: `job-of-${id}` } : {}),
    tags: [],
    since: now - agoMs,
    version: v ?? ++version,
  });
}
