import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { parseAutoscalerConfig, type AutoscalerConfig } from '../../../lib/config/autoscaler';
import { AutoscalerApp } from '../../../lambda/autoscaler/app';
import {
  AutoscalerController,
  readEvent,
  type EvaluationOutcome,
  type Trigger,
} from '../../../lambda/autoscaler/controller';
import type { AutoscalerLog, Clock } from '../../../lambda/autoscaler/ports';
import type { MetricsResult } from '../../../lambda/autoscaler/metrics-api';
import { MemoryAutoscalerStateStore } from '../../../local/adapters/memory-autoscaler-stores';
import { memoryFleetActions, MemoryGroups } from '../../../support/autoscaler-fakes';
import type { BodyReader } from '../../../lambda/shared/oversized';
import { S3BodyReader } from '../../../lambda/shared/s3-body-reader';
import { SkipReporter } from '../../../lambda/shared/skipped';
import { publishedEvent, readWebhookBody, webhookBodyFiles } from '../../support/webhook-bodies';
import { busEvent as envelope } from '../../support/autoscaler';

const config = parseAutoscalerConfig({
  org: 'acme',
  queues: [
    { queue: 'linux', max: 20 },
    { queue: 'default', max: 5 },
  ],
});
const BUCKET = 'kb-oversized';

const noBodies: BodyReader = {
  read: async (pointer) => Promise.reject(new Error(`unexpected read of ${pointer.key}`)),
};

describe('readEvent', () => {
  it.each([
    [
      'the schedule',
      envelope('aws.events', 'Scheduled Event', {}),
      { kind: 'trigger', trigger: { kind: 'reconcile', eventId: 'id-1' } },
    ],
    [
      'a job of a configured queue',
      envelope('buildkite', 'job.scheduled', { job: { agent_query_rules: ['queue=linux'] } }),
      {
        kind: 'trigger',
        trigger: { kind: 'event', queue: 'linux', detailType: 'job.scheduled', eventId: 'id-1' },
      },
    ],
    [
      'an elided job (no queue rule: default, as Buildkite has it)',
      envelope('buildkite', 'job.started', { job: { '...': '...' } }),
      { kind: 'trigger', trigger: expect.objectContaining({ queue: 'default' }) },
    ],
    [
      'a job of another queue',
      envelope('buildkite', 'job.started', { job: { agent_query_rules: ['queue=mac'] } }),
      { kind: 'ignored', why: 'unconfigured-queue' },
    ],
    ['a build event', envelope('buildkite', 'build.finished', {}), { kind: 'ignored', why: 'other-family' }],
    [
      'a trigger event',
      envelope('kitebridge.trigger', 'trigger.x', {}),
      { kind: 'ignored', why: 'other-source' },
    ],
    [
      'a job event without a job',
      envelope('buildkite', 'job.finished', { build: {} }),
      { kind: 'skipped', reason: 'missing-job' },
    ],
    [
      'a job that is not an object',
      envelope('buildkite', 'job.finished', { job: 'j-1' }),
      { kind: 'skipped', reason: 'missing-job' },
    ],
    [
      'an agent event without an agent',
      envelope('buildkite', 'agent.lost', {}),
      { kind: 'skipped', reason: 'missing-agent' },
    ],
    [
      'an event without a detail',
      envelope('buildkite', 'job.started', null),
      { kind: 'skipped', reason: 'missing-detail' },
    ],
  ])('%s', (_name, event, expected) => {
    expect(readEvent(event, config)).toEqual(expected);
  });
});

/** An app around a controller stand-in that records the triggers it is given. */
function harness(bodies: BodyReader = noBodies, cfg: AutoscalerConfig = config) {
  const triggers: Trigger[] = [];
  const skipped: Record<string, unknown>[] = [];
  const points: { reason: string; name: string }[] = [];
  const app = new AutoscalerApp({
    config: cfg,
    controller: {
      handle: async (trigger) => {
        triggers.push(trigger);
        return { gate: 'now', decisions: [] } satisfies EvaluationOutcome;
      },
    },
    fleet: { track: async () => ({ memberRecorded: false, jobRecorded: false }) },
    bodies,
    skips: new SkipReporter(
      { warn: (_m, attributes) => void skipped.push(attributes) },
      {
        singleMetric: () => {
          let reason = '';
          return {
            addDimension: (_n: string, value: string) => void (reason = value),
            addMetric: (name: string) => void points.push({ reason, name }),
          };
        },
      },
    ),
    log: { debug: () => undefined },
  });
  return { app, triggers, skipped, points };
}

describe('AutoscalerApp', () => {
  it('hands a configured job event to the controller', async () => {
    const h = harness();
    const result = await h.app.handle(
      publishedEvent({ event: 'job.scheduled', job: { agent_query_rules: ['queue=linux'] } }),
    );
    expect(result).toEqual({
      kind: 'evaluated',
      outcome: { gate: 'now', decisions: [] },
      tracked: { memberRecorded: false, jobRecorded: false },
    });
    expect(h.triggers).toEqual([
      { kind: 'event', queue: 'linux', detailType: 'job.scheduled', eventId: 'evt-1' },
    ]);
  });

  it('skips a job event without a job: one log line, one Skipped point, no evaluation', async () => {
    const h = harness();
    const result = await h.app.handle(publishedEvent({ event: 'job.finished', build: { id: 'b' } }, 'evt-7'));
    expect(result).toEqual({ kind: 'skipped', reason: 'missing-job' });
    expect(h.triggers).toEqual([]);
    expect(h.skipped).toEqual([
      expect.objectContaining({ reason: 'missing-job', eventId: 'evt-7', detailType: 'job.finished' }),
    ]);
    expect(h.points).toEqual([{ reason: 'missing-job', name: 'Skipped' }]);
  });

  it('ignores events of other queues and families without a skip', async () => {
    const h = harness();
    const narrow = parseAutoscalerConfig({ org: 'acme', queues: [{ queue: 'linux', max: 1 }] });
    const n = harness(noBodies, narrow);
    expect(await h.app.handle(publishedEvent({ event: 'build.finished', build: { id: 'b' } }))).toEqual({
      kind: 'ignored',
      why: 'other-family',
    });
    expect(await n.app.handle(publishedEvent({ event: 'agent.lost', agent: { id: 'a' } }))).toEqual({
      kind: 'ignored',
      why: 'unconfigured-queue',
    });
    expect([...h.skipped, ...n.skipped, ...h.triggers, ...n.triggers]).toEqual([]);
  });
});

describe('AutoscalerApp: oversized deliveries (S3 mocked)', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());
  afterAll(() => s3.restore());

  const pointer = { bucket: BUCKET, key: 'oversized/2026/06/03/req-1.json', bytes: 300_000 };
  // With `default` mapped the rule takes every job event, so a pointer whose projection has no
  // queue rule reaches the function: only the stored body says which queue the job is in.
  const pointerEvent = publishedEvent({ event: 'job.scheduled', job: { id: 'j-1' } }, 'evt-big', {
    oversized: pointer,
  });
  const storedJob = (rules: string[]) => ({
    Body: sdkStreamMixin(
      Readable.from([
        Buffer.from(JSON.stringify({ event: 'job.scheduled', job: { id: 'j-1', agent_query_rules: rules } })),
      ]),
    ),
  });

  it('decides the queue from the stored body, read from the configured bucket', async () => {
    s3.on(GetObjectCommand).resolves(storedJob(['queue=linux']) as never);
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    await h.app.handle(pointerEvent);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: pointer.key },
    ]);
    expect(h.triggers).toEqual([
      { kind: 'event', queue: 'linux', detailType: 'job.scheduled', eventId: 'evt-big' },
    ]);
  });

  it('ignores a pointer whose stored job is in an unconfigured queue (the pointer alone would read as default)', async () => {
    s3.on(GetObjectCommand).resolves(storedJob(['queue=mac']) as never);
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    expect(await h.app.handle(pointerEvent)).toEqual({ kind: 'ignored', why: 'unconfigured-queue' });
    expect(h.triggers).toEqual([]);
  });

  it('skips a pointer whose stored body is gone (no retry brings it back)', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    expect(await h.app.handle(pointerEvent)).toEqual({ kind: 'skipped', reason: 'oversized-body-missing' });
    expect(h.points).toEqual([{ reason: 'oversized-body-missing', name: 'Skipped' }]);
    expect(h.triggers).toEqual([]);
  });

  it('rejects when S3 fails otherwise, so the event is retried', async () => {
    s3.on(GetObjectCommand).rejects(new Error('SlowDown'));
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    await expect(h.app.handle(pointerEvent)).rejects.toThrow('SlowDown');
    expect(h.triggers).toEqual([]);
    expect(h.skipped).toEqual([]);
  });

  it('does not read S3 for inline events or the schedule', async () => {
    const h = harness(new S3BodyReader(new S3Client({}), BUCKET));
    await h.app.handle(envelope('aws.events', 'Scheduled Event', {}));
    await h.app.handle(publishedEvent({ event: 'agent.lost', agent: { id: 'a' } }));
    expect(s3.calls()).toHaveLength(0);
    expect(h.triggers.map((t) => t.kind)).toEqual(['reconcile', 'event']);
  });
});

describe('every documented and real-world webhook body (../shared), through the real controller', () => {
  function realApp() {
    const lines: { level: string; message: string }[] = [];
    const log: AutoscalerLog & { debug(m: string, a: Record<string, unknown>): void } = {
      debug: (message) => void lines.push({ level: 'debug', message }),
      info: (message) => void lines.push({ level: 'info', message }),
      warn: (message) => void lines.push({ level: 'warn', message }),
      error: (message) => void lines.push({ level: 'error', message }),
    };
    // A clock that never waits: time moves only when the gate asks an invocation to sleep.
    let now = Date.parse('2026-06-03T04:15:00Z');
    const clock: Clock = { now: () => now, sleep: async (ms) => void (now += ms) };
    const counts = { scheduled: 2, running: 1, waiting: 0, idleAgents: 0, busyAgents: 1, totalAgents: 1 };
    const metrics: MetricsResult = {
      ok: true,
      metrics: { org: 'acme', queues: new Map([['default', counts]]) },
    };
    const groups = new MemoryGroups();
    const { actions: fleet } = memoryFleetActions(config, clock, { groups, log });
    const app = new AutoscalerApp({
      config,
      controller: new AutoscalerController({
        config,
        store: new MemoryAutoscalerStateStore(),
        metrics: { fetchMetrics: async () => metrics },
        groups,
        counts: { publish: () => undefined },
        fleet,
        log,
        clock,
      }),
      fleet,
      bodies: noBodies,
      skips: new SkipReporter(log),
      log,
    });
    return { app, lines };
  }

  it.each(webhookBodyFiles().map((f) => [f]))('%s: no throw, no error line', async (file) => {
    const { app, lines } = realApp();
    const body = readWebhookBody(file);
    const result = await app.handle(publishedEvent(body));
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    // Job and agent bodies evaluate (elided ones are in `default`, as Buildkite has it); others are not ours.
    const ours = /^(job|agent)\./.test(String(body.event));
    expect(result.kind).toBe(ours ? 'evaluated' : 'ignored');
    if (ours) expect(lines.filter((l) => l.message === 'Autoscaler decision')).toHaveLength(2);
  });
});
