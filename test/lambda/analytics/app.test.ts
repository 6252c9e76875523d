import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { AnalyticsApp } from '../../../lambda/analytics/app';
import { metricsFor, type MetricPoint } from '../../../lambda/analytics/metrics';
import type { AnalyticsRecord } from '../../../lambda/analytics/record';
import { toRecord } from '../../../lambda/analytics/to-record';

function event(name: string): EventEnvelope {
  const body = JSON.parse(
    readFileSync(path.join(__dirname, '../../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Record<string, unknown>;
  return {
    version: '0',
    id: `id-${name}`,
    'detail-type': name,
    source: 'buildkite',
    account: '1',
    time: '2026-06-03T04:16:04Z',
    region: 'us-east-1',
    resources: [],
    detail: body,
  };
}

describe('metricsFor', () => {
  it('build.finished: duration per pipeline and a count by state', () => {
    const record = toRecord(event('build.finished'));
    expect(metricsFor(record)).toEqual([
      {
        name: 'BuildDuration',
        unit: 'Seconds',
        value: record.build_duration_s,
        dimensions: { Pipeline: 'deploy-api' },
      },
      {
        name: 'BuildsFinished',
        unit: 'Count',
        value: 1,
        dimensions: { Pipeline: 'deploy-api', State: 'failed' },
      },
    ]);
  });

  it('a blocked build counts as state blocked', () => {
    const record: AnalyticsRecord = { ...toRecord(event('build.finished')), build_blocked: true };
    expect(metricsFor(record)[1]?.dimensions).toEqual({ Pipeline: 'deploy-api', State: 'blocked' });
  });

  it('job.started: queue wait per queue', () => {
    const record = toRecord(event('job.started'));
    expect(metricsFor(record)).toEqual([
      {
        name: 'JobQueueWait',
        unit: 'Seconds',
        value: record.queue_wait_s,
        dimensions: { Queue: 'linux-arm64' },
      },
    ]);
  });

  it.each([['job.finished'], ['agent.lost'], ['ping'], ['build.running']])('%s gives no metric', (name) => {
    expect(metricsFor(toRecord(event(name)))).toEqual([]);
  });
});

describe('AnalyticsApp', () => {
  it('writes the record, then its metrics', async () => {
    const order: string[] = [];
    const put = jest.fn(async () => void order.push('put'));
    const emit = jest.fn((_: readonly MetricPoint[]) => void order.push('emit'));
    const record = await new AnalyticsApp({ sink: { put }, metrics: { emit } }).handle(
      event('build.finished'),
    );
    expect(put).toHaveBeenCalledWith([record]);
    expect(emit).toHaveBeenCalledWith(metricsFor(record));
    expect(order).toEqual(['put', 'emit']);
  });

  it('rethrows a sink failure and emits nothing (at-least-once: the event is retried)', async () => {
    const emit = jest.fn();
    const app = new AnalyticsApp({
      sink: { put: async () => Promise.reject(new Error('Firehose refused 1 of 1 records')) },
      metrics: { emit },
    });
    await expect(app.handle(event('job.started'))).rejects.toThrow('Firehose refused');
    expect(emit).not.toHaveBeenCalled();
  });
});
