import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import type { BodyReader } from '../../../lambda/shared/oversized';
import { S3BodyReader } from '../../../lambda/shared/s3-body-reader';
import { SkipReporter } from '../../../lambda/shared/skipped';
import { AnalyticsApp } from '../../../lambda/analytics/app';
import { metricsFor, type MetricPoint } from '../../../lambda/analytics/metrics';
import type { AnalyticsRecord } from '../../../lambda/analytics/record';
import { toRecord } from '../../../lambda/analytics/to-record';
import { publishedEvent, readWebhookBody, webhookBodyFiles } from '../../support/webhook-bodies';

/** Inline events only: a test that reads a stored body gives the app a real reader. */
const noBodies: BodyReader = {
  read: async (pointer) => Promise.reject(new Error(`unexpected read of ${pointer.key}`)),
};

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
    const record = await new AnalyticsApp({ sink: { put }, bodies: noBodies, metrics: { emit } }).handle(
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
      bodies: noBodies,
      metrics: { emit },
    });
    await expect(app.handle(event('job.started'))).rejects.toThrow('Firehose refused');
    expect(emit).not.toHaveBeenCalled();
  });
});

/** A skip reporter whose log and metrics are kept, to assert on. */
function recordingSkips(order: string[] = []) {
  const lines: { message: string; attributes: Record<string, unknown> }[] = [];
  const points: { dimensions: Record<string, string>; name: string; value: number }[] = [];
  const reporter = new SkipReporter(
    {
      warn: (message, attributes) => {
        order.push('skip');
        lines.push({ message, attributes });
      },
    },
    {
      singleMetric: () => {
        const dimensions: Record<string, string> = {};
        return {
          addDimension: (name: string, value: string) => void (dimensions[name] = value),
          addMetric: (name: string, _unit: 'Count', value: number) =>
            void points.push({ dimensions, name, value }),
        };
      },
    },
  );
  return { reporter, lines, points };
}

function harness(bodies: BodyReader = noBodies) {
  const written: AnalyticsRecord[] = [];
  const order: string[] = [];
  const skips = recordingSkips(order);
  const app = new AnalyticsApp({
    sink: {
      put: async (records) => {
        order.push('put');
        written.push(...records);
      },
    },
    bodies,
    skips: skips.reporter,
  });
  return { app, written, order, skips };
}

describe('AnalyticsApp: deliveries missing what the record needs', () => {
  it('records a job event without a job object with nulls, then reports it skipped once, with its reason', async () => {
    const h = harness();
    const event = publishedEvent({ event: 'job.started', build: { id: 'b-1' }, pipeline: { slug: 'p' } });
    const record = await h.app.handle(event);
    expect(h.written).toEqual([record]);
    expect(record).toMatchObject({
      event: 'job.started',
      job_id: null,
      queue: null,
      build_id: 'b-1',
      pipeline: 'p',
    });
    expect(h.order).toEqual(['put', 'skip']);
    expect(h.skips.lines).toEqual([
      {
        message: 'Delivery skipped',
        attributes: expect.objectContaining({
          reason: 'missing-job',
          eventId: 'evt-1',
          detailType: 'job.started',
          effect: 'recorded with nulls',
        }),
      },
    ]);
    expect(h.skips.points).toEqual([{ dimensions: { Reason: 'missing-job' }, name: 'Skipped', value: 1 }]);
  });

  it('the documented blocked build (no id, no number) is recorded, state blocked, and skipped as missing-build-id', async () => {
    const h = harness();
    const record = await h.app.handle(
      publishedEvent(readWebhookBody('realworld/buildkite-docs.build.finished.blocked.json')),
    );
    expect(record).toMatchObject({ build_blocked: true, build_id: null, build_number: null });
    expect(h.skips.points.map((p) => p.dimensions.Reason)).toEqual(['missing-build-id']);
  });

  it('a complete delivery is not reported', async () => {
    const h = harness();
    await h.app.handle(event('job.finished'));
    expect(h.written).toHaveLength(1);
    expect(h.skips.lines).toEqual([]);
  });

  it('reports nothing when the record could not be written (the retry will)', async () => {
    const skips = recordingSkips();
    const app = new AnalyticsApp({
      sink: { put: async () => Promise.reject(new Error('Firehose refused 1 of 1 records')) },
      bodies: noBodies,
      skips: skips.reporter,
    });
    await expect(app.handle(publishedEvent({ event: 'job.started' }))).rejects.toThrow('Firehose refused');
    expect(skips.lines).toEqual([]);
  });

  describe.each(webhookBodyFiles().map((f) => [f]))('%s (../shared)', (file) => {
    it('is recorded without throwing; a skip, if any, names a missing object', async () => {
      const h = harness();
      const body = readWebhookBody(file);
      const record = await h.app.handle(publishedEvent(body));
      expect(h.written).toEqual([record]);
      for (const line of h.skips.lines) expect(line.attributes.reason).toMatch(/^missing-[a-z_]+(-id)?$/);
      expect(h.skips.lines.length).toBeLessThanOrEqual(1);
    });
  });
});

describe('AnalyticsApp: oversized deliveries (S3 mocked)', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());
  afterAll(() => s3.restore());

  const BUCKET = 'kb-oversized';
  const pointer = { bucket: BUCKET, key: 'oversized/2026/06/03/req-9.json', bytes: 300_000 };
  const fullBody = {
    event: 'job.started',
    job: {
      id: 'job-9',
      name: ':jest: Unit tests',
      state: 'running',
      agent_query_rules: ['queue=linux-arm64'],
      runnable_at: '2026-06-03T04:14:00.000Z',
      started_at: '2026-06-03T04:14:30.000Z',
      agent: { id: 'agent-9', name: 'agent-9-1' },
      env: { HUGE: 'x'.repeat(300_000) },
    },
    build: { id: 'build-9', number: 9, branch: 'main' },
    pipeline: { slug: 'deploy-api' },
  };
  // What the verify function publishes instead: routing fields only, and the pointer.
  const pointerEvent = publishedEvent(
    { event: 'job.started', job: { id: 'job-9', state: 'running' }, pipeline: { slug: 'deploy-api' } },
    'evt-9',
    { oversized: pointer },
  );
  const stored = (text: string) => ({ Body: sdkStreamMixin(Readable.from([Buffer.from(text)])) });

  it('reads the whole body from S3 and records every field of it', async () => {
    s3.on(GetObjectCommand).resolves(stored(JSON.stringify(fullBody)) as never);
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    const record = await h.app.handle(pointerEvent);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: pointer.key },
    ]);
    expect(record).toMatchObject({
      oversized: true,
      event_id: 'evt-9',
      dedupe_key: 'sha256-of-evt-9',
      queue: 'linux-arm64',
      queue_wait_s: 30,
      agent_id: 'agent-9',
      build_id: 'build-9',
      build_number: 9,
      branch: 'main',
    });
    expect(h.skips.lines).toEqual([]);
  });

  it("a body that is gone (expired): records the pointer's fields and reports it skipped", async () => {
    s3.on(GetObjectCommand).rejects(
      new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }),
    );
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    const record = await h.app.handle(pointerEvent);
    expect(record).toMatchObject({
      oversized: true,
      job_id: 'job-9',
      pipeline: 'deploy-api',
      agent_id: null,
    });
    expect(h.skips.points).toEqual([
      { dimensions: { Reason: 'oversized-body-missing' }, name: 'Skipped', value: 1 },
    ]);
  });

  it.each([
    ['S3 is unreachable', () => s3.on(GetObjectCommand).rejects(new Error('SlowDown'))],
    ['the stored body is not JSON', () => s3.on(GetObjectCommand).resolves(stored('{trunc') as never)],
  ])('rejects, writing nothing, when %s (retried, then dead-lettered)', async (_name, arrange) => {
    arrange();
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    await expect(h.app.handle(pointerEvent)).rejects.toThrow();
    expect(h.written).toEqual([]);
    expect(h.skips.lines).toEqual([]);
  });

  it('refuses a pointer at another bucket without calling S3', async () => {
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    const foreign = publishedEvent({ event: 'job.started' }, 'evt-x', {
      oversized: { ...pointer, bucket: 'other' },
    });
    await expect(h.app.handle(foreign)).rejects.toThrow(/not kitebridge's/);
    expect(s3.calls()).toHaveLength(0);
    expect(h.written).toEqual([]);
  });
});
