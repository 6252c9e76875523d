import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import { ALL_BUILDKITE_EVENTS } from '../../../lambda/shared/contract';
import { RECORD_COLUMNS, RECORD_SCHEMA_VERSION } from '../../../lambda/analytics/record';
import { normaliseTime, parseBuildkiteTime, secondsBetween } from '../../../lambda/analytics/timestamps';
import {
  eventNameOf,
  familyOf,
  incompleteReason,
  queueOf,
  toRecord,
} from '../../../lambda/analytics/to-record';
import { publishedEvent, readWebhookBody, webhookBodyFiles } from '../../support/webhook-bodies';

const FIXTURES = path.join(__dirname, '../../../fixtures/buildkite');
const RECEIVED_AT = '2026-06-03T04:16:03.000Z';

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

function envelope(
  body: Record<string, unknown>,
  delivery: Record<string, unknown> | null = {},
): EventEnvelope {
  return {
    version: '0',
    id: 'evt-1',
    'detail-type': String(body.event),
    source: 'buildkite',
    account: '123456789012',
    time: '2026-06-03T04:16:04Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      ...body,
      ...(delivery === null
        ? {}
        : {
            delivery: {
              receivedAt: RECEIVED_AT,
              requestId: 'r',
              dedupeKey: 'abc123',
              auth: 'token',
              sourceIp: '192.0.2.1',
              ...delivery,
            },
          }),
    },
  };
}

describe('parseBuildkiteTime', () => {
  it.each([
    ['2026-06-03T04:15:41.618Z', Date.UTC(2026, 5, 3, 4, 15, 41, 618)],
    ['2018-07-01 20:14:38 UTC', Date.UTC(2018, 6, 1, 20, 14, 38)],
    ['2018-07-01 20:14:38.250 UTC', Date.UTC(2018, 6, 1, 20, 14, 38, 250)],
    ['2026-06-03T06:15:41+02:00', Date.UTC(2026, 5, 3, 4, 15, 41)],
  ])('reads %s', (text, ms) => {
    expect(parseBuildkiteTime(text)).toBe(ms);
  });

  it.each([
    [null],
    [undefined],
    [''],
    ['2026-06-03 04:15:41'],
    ['2026-06-03T04:15:41'],
    ['yesterday'],
    [1717388141],
  ])('gives null for %p (no zone, not a string, not a time)', (value) => {
    expect(parseBuildkiteTime(value)).toBeNull();
  });

  it('normalises both formats to the same ISO form and measures seconds across them', () => {
    expect(normaliseTime('2018-07-01 20:14:38 UTC')).toBe('2018-07-01T20:14:38.000Z');
    expect(secondsBetween('2018-07-01 20:14:38 UTC', '2018-07-01T20:15:00.500Z')).toBe(22.5);
    expect(secondsBetween('2018-07-01T20:15:00Z', '2018-07-01 20:14:38 UTC')).toBeNull();
    expect(secondsBetween(null, '2018-07-01T20:15:00Z')).toBeNull();
  });
});

describe('toRecord on every fixture', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));

  it('has a fixture for every event kind in the contract', () => {
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual([...ALL_BUILDKITE_EVENTS].sort());
  });

  it.each(files.map((f) => [f.replace(/\.json$/, '')]))('%s maps to a full, flat record', (name) => {
    const record = toRecord(envelope(fixture(name)));
    expect(Object.keys(record).sort()).toEqual(RECORD_COLUMNS.map((c) => c.name).sort());
    for (const value of Object.values(record)) {
      expect(value === null || ['string', 'number', 'boolean'].includes(typeof value)).toBe(true);
    }
    expect(record).toMatchObject({
      schema_version: RECORD_SCHEMA_VERSION,
      event: name,
      dedupe_key: 'abc123',
      event_id: 'evt-1',
      received_at: RECEIVED_AT,
      oversized: false,
    });
    expect(record.occurred_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});

describe('toRecord per family', () => {
  it('build.finished: pipeline, branch, state, source, duration', () => {
    const body = fixture('build.finished');
    const build = body.build as Record<string, unknown>;
    expect(toRecord(envelope(body))).toMatchObject({
      family: 'build',
      org: 'acme',
      pipeline: 'deploy-api',
      branch: 'main',
      build_id: '83abf330-88fc-4348-ac97-6bdb812ae30d',
      build_number: 1042,
      build_state: 'failed',
      build_blocked: false,
      build_source: 'webhook',
      occurred_at: normaliseTime(build.finished_at),
      build_duration_s: secondsBetween(build.started_at, build.finished_at),
      job_id: null,
      queue: null,
      agent_id: null,
    });
    expect(toRecord(envelope(body)).build_duration_s).toBeGreaterThan(0);
  });

  it('build.running: no duration yet', () => {
    const record = toRecord(envelope(fixture('build.running')));
    expect(record.build_duration_s).toBeNull();
    expect(record.build_finished_at).toBeNull();
  });

  it('job.finished: job fields, queue from agent_query_rules, durations, agent, retries', () => {
    expect(toRecord(envelope(fixture('job.finished')))).toMatchObject({
      family: 'job',
      pipeline: 'deploy-api',
      build_number: 1042,
      job_id: '84fa7fad-9911-46a8-96a6-12dd7b361a91',
      job_name: ':jest: Unit tests',
      job_step_key: 'unit-tests',
      job_state: 'failed',
      job_exit_status: 1,
      job_soft_failed: false,
      queue: 'linux-arm64',
      occurred_at: '2026-06-03T04:16:02.447Z',
      job_duration_s: 112.201,
      queue_wait_s: 4.313,
      job_retried: false,
      job_retries_count: 0,
      job_retry_type: null,
      agent_id: '4c6013ef-55f2-4f7b-8f9f-fb176c07d581',
      agent_name: 'acme-linux-arm64-i-0a4f2c9e81b7d3056-1',
    });
  });

  it('job.started: queue wait = started − runnable', () => {
    const body = fixture('job.started');
    const job = body.job as Record<string, unknown>;
    const record = toRecord(envelope(body));
    expect(record.queue_wait_s).toBe(secondsBetween(job.runnable_at, job.started_at));
    expect(record.occurred_at).toBe(normaliseTime(job.started_at));
  });

  it('a job with no queue rule is on the default queue', () => {
    const body = fixture('job.scheduled');
    const record = toRecord(
      envelope({ ...body, job: { ...(body.job as object), agent_query_rules: ['os=linux'] } }),
    );
    expect(record.queue).toBe('default');
  });

  it('agent.lost: the "… UTC" timestamps, queue from meta_data', () => {
    expect(toRecord(envelope(fixture('agent.lost')))).toMatchObject({
      family: 'agent',
      agent_id: '1fb75d4c-36c9-4418-b351-a2234cb9e944',
      agent_name: 'acme-linux-arm64-i-07d1e5b3a9c2f4e68-1',
      queue: 'linux-arm64',
      occurred_at: '2026-06-03T04:09:27.000Z',
      org: 'acme',
      pipeline: null,
      job_id: null,
    });
  });

  it.each([
    [
      'ping',
      'ping',
      { subject_id: '84451628-2601-4b96-ae54-fd50924e9634', subject_name: 'Acme', org: 'acme' },
    ],
    ['package.created', 'package', { subject_name: '@acme/deploy-api-client', org: 'acme' }],
    [
      'workflow.alarm',
      'workflow',
      {
        subject_id: 'd5e06aa5-f4d6-49ca-89a7-7ca3cf03ccf5',
        subject_name: 'S3ArtifactStore uploadBundle retries PutObject on 503 SlowDown',
        occurred_at: '2026-06-03T04:16:07.412Z',
        org: 'acme',
      },
    ],
    [
      'cluster_token.registration_blocked',
      'cluster_token',
      { subject_id: '1a130b4e-c0d2-4b5c-9562-1582ddbf38d5', org: 'acme' },
    ],
  ])('%s → family %s with its subject', (name, family, expected) => {
    expect(toRecord(envelope(fixture(name)))).toMatchObject({ family, ...expected });
  });
});

describe('toRecord with missing or odd fields', () => {
  it('an event with only `event` maps to nulls, received_at from the envelope, a dedupe key from the event id', () => {
    const record = toRecord(envelope({ event: 'build.finished' }, null));
    expect(record).toMatchObject({
      event: 'build.finished',
      family: 'build',
      dedupe_key: 'event:evt-1',
      received_at: '2026-06-03T04:16:04.000Z',
      occurred_at: '2026-06-03T04:16:04.000Z',
      org: null,
      pipeline: null,
      build_id: null,
      build_number: null,
      build_duration_s: null,
    });
  });

  it('wrong types and unparseable times give null, never throw', () => {
    const record = toRecord(
      envelope({
        event: 'job.finished',
        job: { id: 42, name: ['x'], exit_status: 'one', started_at: 'soon', finished_at: 12, retried: 'yes' },
        build: 'not an object',
        pipeline: null,
      }),
    );
    expect(record).toMatchObject({
      job_id: '42',
      job_name: null,
      job_exit_status: null,
      job_duration_s: null,
      job_retried: null,
      build_id: null,
      pipeline: null,
      occurred_at: RECEIVED_AT,
    });
  });

  it('an unknown event name is family other; long strings are capped', () => {
    const record = toRecord(envelope({ event: 'thing.happened', build: { branch: 'b'.repeat(5000) } }));
    expect(record.family).toBe('other');
    expect(record.branch).toHaveLength(1024);
  });

  it('an oversized delivery (read back whole) is flagged, and its fields are read like any other', () => {
    const record = toRecord(
      envelope(
        {
          event: 'job.finished',
          job: { id: 'j', state: 'passed', agent_query_rules: ['queue=gpu'] },
          pipeline: { slug: 'p' },
        },
        { oversized: { bucket: 'b', key: 'k', bytes: 300000 } },
      ),
    );
    expect(record).toMatchObject({ oversized: true, queue: 'gpu', job_state: 'passed', pipeline: 'p' });
  });

  it("the event name is the detail-type, the body's `event` only when the detail-type is empty", () => {
    const body = { event: 'build.finished', build: { id: 'b' } };
    expect(eventNameOf({ ...envelope(body), 'detail-type': 'build.running' })).toBe('build.running');
    expect(eventNameOf({ ...envelope(body), 'detail-type': '' })).toBe('build.finished');
    expect(eventNameOf({ ...envelope({}), 'detail-type': '' })).toBe('unknown');
  });

  it('familyOf and queueOf', () => {
    expect(familyOf('cluster_token.registration_blocked')).toBe('cluster_token');
    expect(familyOf('other.x')).toBe('other');
    expect(familyOf('ping')).toBe('ping');
    expect(queueOf(['os=linux', 'queue=gpu'])).toBe('gpu');
    expect(queueOf(undefined)).toBe('default');
  });
});

describe('Test Engine deliveries', () => {
  const SHARED_PAYLOADS = '../../../../shared/buildkite/payloads';
  const body = (name: string) =>
    JSON.parse(readFileSync(path.join(__dirname, SHARED_PAYLOADS, `${name}.json`), 'utf8')) as Record<
      string,
      unknown
    >;

  it('a monitor body without `event` is recorded under its detail-type, family workflow', () => {
    const record = toRecord(publishedEvent(body('test-engine-workflow_event.passed_on_retry')));
    expect(record).toMatchObject({
      event: 'workflow.passed_on_retry',
      family: 'workflow',
      monitor_type: 'passed_on_retry',
      occurred_at: '2025-09-22T05:00:14.650Z',
      branch: 'main',
      commit: 'abc123',
      test_id: null,
      test_url: null,
      subject_id: null,
      subject_name: null,
      build_id: null,
      job_id: null,
      queue: null,
    });
  });

  it('probabilistic flakiness: its monitor type and timestamp; a branch filter is not a branch', () => {
    expect(
      toRecord(publishedEvent(body('test-engine-workflow_event.probabilistic_flakiness'))),
    ).toMatchObject({
      event: 'workflow.probabilistic_flakiness',
      family: 'workflow',
      monitor_type: 'probabilistic_flakiness',
      occurred_at: '2025-09-22T05:00:16.506Z',
      branch: null,
    });
  });

  it('a transition-count alarm: the workflow, the test (id, name, url) and the monitor of workflow_event', () => {
    expect(toRecord(publishedEvent(body('test-engine-workflow.alarm.transition_count')))).toMatchObject({
      event: 'workflow.alarm',
      family: 'workflow',
      monitor_type: 'transition_count',
      subject_id: '0198a11d-9486-7ac5-a87a-d55d2642cd3f',
      subject_name: 'Enumerated spec 1',
      test_id: '08b99391-8caa-88c7-8d45-98c6fd3f94b7',
      test_url:
        'http://buildkite.localhost/organizations/buildkite/analytics/suites/te-sample/tests/08b99391-8caa-88c7-8d45-98c6fd3f94b7',
      org: 'buildkite',
    });
  });

  it('test fields at the top level of a monitor body are read too', () => {
    const record = toRecord(
      publishedEvent({
        type: 'passed_on_retry',
        test_id: 't-1',
        test_full_name: 'spec',
        test_url: 'https://x/t-1',
      }),
    );
    expect(record).toMatchObject({ test_id: 't-1', subject_name: 'spec', test_url: 'https://x/t-1' });
  });

  it('outside the workflow family the Test Engine columns stay null', () => {
    expect(toRecord(envelope(fixture('job.finished')))).toMatchObject({
      monitor_type: null,
      test_id: null,
      test_url: null,
    });
  });
});

describe('incompleteReason', () => {
  it.each([
    ['build.finished', { build: { '...': '...', blocked: true } }, 'missing-build-id'],
    ['build.scheduled', {}, 'missing-build'],
    ['job.started', { job: { '...': '...' }, build: { id: 'b' } }, 'missing-job-id'],
    ['job.finished', { job: { id: 'j' }, build: { '...': '...' } }, 'missing-build-id'],
    ['job.finished', { build: { id: 'b' } }, 'missing-job'],
    ['agent.connected', { agent: 'not an object' }, 'missing-agent'],
    ['agent.lost', { agent: { id: '' } }, 'missing-agent-id'],
    ['cluster_token.registration_blocked', { cluster_token: { '...': '...' } }, 'missing-cluster_token-id'],
    ['package.created', {}, 'missing-package'],
  ])('%s %j → %s', (event, body, reason) => {
    expect(incompleteReason(envelope({ event, ...body }))).toBe(reason);
  });

  it.each([
    ['ping', {}],
    ['workflow.passed_on_retry', { type: 'passed_on_retry' }],
    ['thing.happened', {}],
    ['job.finished', { job: { id: 'j' }, build: { id: 'b' } }],
  ])('%s has what its record needs', (event, body) => {
    expect(incompleteReason(envelope({ event, ...body }))).toBeUndefined();
  });

  const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  it.each(fixtures.map((f) => [f.replace(/\.json$/, '')]))('the %s fixture is complete', (name) => {
    expect(incompleteReason(envelope(fixture(name)))).toBeUndefined();
  });
});

describe('every documented and real-world webhook body (../shared)', () => {
  it.each(webhookBodyFiles().map((f) => [f]))(
    '%s maps to a full, flat record under its detail-type',
    (file) => {
      const event = publishedEvent(readWebhookBody(file));
      const record = toRecord(event);
      expect(Object.keys(record).sort()).toEqual(RECORD_COLUMNS.map((c) => c.name).sort());
      expect(record.event).toBe(event['detail-type']);
      expect(record.family).toBe(familyOf(event['detail-type']));
      expect(record.family).not.toBe('other');
      for (const value of Object.values(record)) {
        expect(value === null || ['string', 'number', 'boolean'].includes(typeof value)).toBe(true);
      }
    },
  );
});
