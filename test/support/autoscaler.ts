/** Small builders the autoscaler's unit tests share: a queue's job and agent counts, and a bus event. */
import type { QueueCounts } from '../../lambda/autoscaler/decision';
import type { EventEnvelope } from '../../lambda/shared/contract';

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
