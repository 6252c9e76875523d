import { ChatAlertsApp } from '../../../lambda/chat-alerts/app';
import { PermanentDeliveryError, RetryableDeliveryError } from '../../../lambda/chat-alerts/errors';
import {
  ALERT_KINDS,
  DEFAULT_ALERT_KINDS,
  SKIP_REASONS,
  type Destination,
  type SkipReason,
} from '../../../lambda/chat-alerts/model';
import type { Poster, RenderedAlert } from '../../../lambda/chat-alerts/ports';
import type { OversizedPointer } from '../../../lambda/shared/contract';
import type { BodyReader } from '../../../lambda/shared/oversized';
import { MemoryAlertStateStore } from '../../../local/adapters/memory-alert-state-store';
import { SkipReporter, type SkipLog, type SkipMetrics } from '../../../lambda/shared/skipped';
import {
  buildFinished,
  envelope,
  fixture,
  jobFinished,
  pointerEnvelope,
  sharedBody,
  sharedWebhookBodies,
} from './events';

const slack: Destination = {
  name: 'ci-slack',
  service: 'slack',
  pipelines: ['*'],
  branches: ['*'],
  events: [...DEFAULT_ALERT_KINDS],
};
const teams: Destination = { ...slack, name: 'ci-teams', service: 'teams' };

class RecordingPoster implements Poster {
  readonly posts: { destination: string; title: string; alert: RenderedAlert }[] = [];
  failWith: Error | undefined;

  async post(destination: Destination, alert: RenderedAlert): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.posts.push({ destination: destination.name, title: alert.message.title, alert });
  }

  titles(): string[] {
    return this.posts.map((p) => p.title);
  }
}

class RecordingLog implements SkipLog {
  readonly warnings: { message: string; attributes: Record<string, unknown> }[] = [];
  warn(message: string, attributes: Record<string, unknown>): void {
    this.warnings.push({ message, attributes });
  }
}

/** Records the `Skipped` data points as `Reason` values. */
class RecordingMetrics implements SkipMetrics {
  readonly reasons: string[] = [];
  singleMetric() {
    let reason = '';
    return {
      addDimension: (name: string, value: string) => {
        if (name === 'Reason') reason = value;
      },
      addMetric: (name: string) => {
        if (name === 'Skipped') this.reasons.push(reason);
      },
    };
  }
}

/** Stored oversized bodies by key; a key not stored is gone, as S3 says it (`NoSuchKey`). */
class MemoryBodies implements BodyReader {
  readonly bodies = new Map<string, unknown>();
  async read(pointer: OversizedPointer): Promise<string> {
    if (!this.bodies.has(pointer.key)) throw Object.assign(new Error('gone'), { name: 'NoSuchKey' });
    return JSON.stringify(this.bodies.get(pointer.key));
  }
}

function setup(destinations: Destination[] = [slack], jobsGraceMs = 0) {
  const poster = new RecordingPoster();
  const store = new MemoryAlertStateStore({ now: () => Date.parse('2026-06-03T04:20:00Z') });
  const sleeps: number[] = [];
  const log = new RecordingLog();
  const metrics = new RecordingMetrics();
  const bodies = new MemoryBodies();
  const app = new ChatAlertsApp({
    store,
    poster,
    destinations,
    bodies,
    jobsGraceMs,
    skips: new SkipReporter(log, metrics),
    now: () => Date.parse('2026-06-03T04:16:04Z'),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { app, poster, store, sleeps, log, skipped: metrics.reasons, bodies };
}

describe('build transitions on one branch', () => {
  it('fail, fail, pass posts failed, still failing ×2, fixed', async () => {
    const { app, poster } = setup();
    await app.handle(envelope(buildFinished(1, 'failed')));
    await app.handle(envelope(buildFinished(2, 'failed')));
    await app.handle(envelope(buildFinished(3, 'passed')));
    expect(poster.titles()).toEqual([
      '❌ Deploy API #1 on main failed',
      '🔁 Deploy API #2 on main is still failing (2 failed builds in a row)',
      '✅ Deploy API #3 on main is fixed after 2 failed builds',
    ]);
  });

  it('keeps separate streaks per branch and pipeline', async () => {
    const { app, poster } = setup();
    await app.handle(envelope(buildFinished(1, 'failed')));
    await app.handle(envelope(buildFinished(2, 'failed', { branch: 'feature/x' })));
    expect(poster.titles()).toEqual([
      '❌ Deploy API #1 on main failed',
      '❌ Deploy API #2 on feature/x failed',
    ]);
  });

  it('posts a duplicate delivery of the same event once', async () => {
    const { app, poster } = setup([slack, teams]);
    const event = envelope(buildFinished(1, 'failed'));
    await app.handle(event);
    await app.handle(event);
    await app.handle(envelope(buildFinished(1, 'failed'))); // re-sent with another event id and body hash
    expect(poster.posts.map((p) => p.destination)).toEqual(['ci-slack', 'ci-teams']);
  });

  it('posts a duplicate stateless event once (keyed on delivery.dedupeKey)', async () => {
    const { app, poster } = setup();
    await app.handle(envelope(fixture('agent.lost'), 'same-body'));
    await app.handle(envelope(fixture('agent.lost'), 'same-body'));
    expect(poster.posts).toHaveLength(1);
  });

  it('announces nothing for a build older than one already seen', async () => {
    const { app, poster } = setup();
    await app.handle(envelope(buildFinished(5, 'passed')));
    await app.handle(envelope(buildFinished(4, 'failed')));
    expect(poster.posts).toEqual([]);
  });

  it.each([
    ['canceled', 'build.canceled', '🚫 Deploy API #9 on main was canceled'],
    ['blocked', 'build.blocked', '⏸️ Deploy API #9 on main is blocked, waiting for someone to unblock it'],
  ])('%s builds are off by default and switchable', async (what, kind, title) => {
    const body =
      what === 'blocked' ? buildFinished(9, 'passed', { blocked: true }) : buildFinished(9, 'canceled');
    const off = setup();
    await off.app.handle(envelope(body));
    expect(off.poster.posts).toEqual([]);
    const on = setup([{ ...slack, events: [...DEFAULT_ALERT_KINDS, kind as never] }]);
    await on.app.handle(envelope(body));
    expect(on.poster.titles()).toEqual([title]);
  });
});

describe('failed jobs of a build', () => {
  it('lists failed jobs that arrived before build.finished (at most 5, oldest first)', async () => {
    const { app, poster } = setup();
    for (let i = 7; i >= 1; i--) {
      await app.handle(envelope(jobFinished(1, `j${i}`, { finished_at: `2026-06-03T04:15:0${i}.000Z` })));
    }
    await app.handle(envelope(jobFinished(1, 'passed-job', { state: 'passed', exit_status: 0 })));
    await app.handle(envelope(jobFinished(1, 'soft', { soft_failed: true })));
    await app.handle(envelope(buildFinished(1, 'failed')));
    expect(poster.posts).toHaveLength(1);
    expect(poster.posts[0]!.alert.message.list?.items.map((i) => i.text)).toEqual(
      ['j1', 'j2', 'j3', 'j4', 'j5'].map((j) => `:jest: job ${j}`),
    );
  });

  it('waits for jobs until the grace period after the build finished, not after arrival', async () => {
    const { app, sleeps } = setup([slack], 5000);
    // finished_at 04:16:03.015, now 04:16:04 → about 4 s left
    await app.handle(envelope(buildFinished(1, 'failed')));
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(3900);
    expect(sleeps[0]).toBeLessThanOrEqual(4100);
  });

  it('posts a failed job that arrives after build.finished as a follow-up to the same destinations', async () => {
    const { app, poster } = setup([slack, { ...teams, events: ['agent.lost'] }]);
    await app.handle(envelope(jobFinished(1, 'early')));
    await app.handle(envelope(buildFinished(1, 'failed')));
    const late = envelope(jobFinished(1, 'late'));
    await app.handle(late);
    await app.handle(late); // duplicate
    expect(poster.posts.map((p) => [p.destination, p.title])).toEqual([
      ['ci-slack', '❌ Deploy API #1 on main failed'],
      ['ci-slack', '❌ More failed jobs in Deploy API #1 on main'],
    ]);
    expect(poster.posts[0]!.alert.message.list?.items.map((i) => i.text)).toEqual([':jest: job early']);
    expect(poster.posts[1]!.alert.message.list?.items.map((i) => i.text)).toEqual([':jest: job late']);
  });

  it('stops follow-ups once 5 jobs have been listed', async () => {
    const { app, poster } = setup();
    for (let i = 1; i <= 4; i++) await app.handle(envelope(jobFinished(1, `j${i}`)));
    await app.handle(envelope(buildFinished(1, 'failed')));
    for (let i = 5; i <= 7; i++) await app.handle(envelope(jobFinished(1, `j${i}`)));
    expect(poster.titles()).toEqual([
      '❌ Deploy API #1 on main failed',
      '❌ More failed jobs in Deploy API #1 on main',
    ]);
  });

  it('sends no follow-up for a build without a failure alert', async () => {
    const { app, poster } = setup();
    await app.handle(envelope(jobFinished(3, 'x')));
    expect(poster.posts).toEqual([]);
  });
});

describe('routing', () => {
  it.each<[string, Partial<Destination>, Record<string, unknown>, boolean]>([
    ['branch glob matches', { branches: ['release/*'] }, { branch: 'release/2026.06' }, true],
    ['branch glob misses', { branches: ['release/*'] }, { branch: 'main' }, false],
    ['negated branch', { branches: ['*', '!feature/*'] }, { branch: 'feature/x' }, false],
    ['pipeline glob', { pipelines: ['deploy-*'] }, {}, true],
    ['pipeline glob misses', { pipelines: ['web-*'] }, {}, false],
    ['build state filter', { buildStates: ['passed'] }, {}, false],
    ['event filter', { events: ['build.fixed'] }, {}, false],
  ])('%s', async (_name, filter, build, posted) => {
    const { app, poster } = setup([{ ...slack, ...filter }]);
    await app.handle(envelope(buildFinished(1, 'failed', build)));
    expect(poster.posts.length).toBe(posted ? 1 : 0);
  });

  it('routes agent alerts by event kind only', async () => {
    const { app, poster } = setup([slack, { ...teams, pipelines: ['nothing'], events: ['agent.blocked'] }]);
    await app.handle(envelope(fixture('agent.blocked')));
    await app.handle(envelope(fixture('package.created')));
    expect(poster.posts.map((p) => p.destination)).toEqual(['ci-slack', 'ci-teams']);
  });
});

describe('failures', () => {
  it('rethrows a retryable failure and posts on the retry', async () => {
    const { app, poster } = setup();
    const event = envelope(fixture('agent.lost'));
    poster.failWith = new RetryableDeliveryError('ci-slack', 'HTTP 500');
    await expect(app.handle(event)).rejects.toBeInstanceOf(RetryableDeliveryError);
    poster.failWith = undefined;
    await app.handle(event);
    expect(poster.posts).toHaveLength(1);
  });

  it('throws a permanent failure only when nothing is retryable', async () => {
    const { app, poster } = setup([slack, teams]);
    poster.failWith = new PermanentDeliveryError('ci-slack', 'invalid_payload', 400);
    await expect(app.handle(envelope(fixture('agent.lost')))).rejects.toBeInstanceOf(PermanentDeliveryError);
  });

  it('serves the other destinations when one fails, and skips them on the retry', async () => {
    const poster = new RecordingPoster();
    let fail = true;
    const flaky: Poster = {
      post: async (destination, alert) => {
        if (destination.name === 'ci-teams' && fail)
          throw new RetryableDeliveryError('ci-teams', 'timed out');
        await poster.post(destination, alert);
      },
    };
    const app = new ChatAlertsApp({
      store: new MemoryAlertStateStore(),
      poster: flaky,
      destinations: [slack, teams],
      bodies: new MemoryBodies(),
    });
    const event = envelope(fixture('agent.lost'));
    await expect(app.handle(event)).rejects.toThrow('timed out');
    fail = false;
    await app.handle(event);
    expect(poster.posts.map((p) => p.destination)).toEqual(['ci-slack', 'ci-teams']);
  });

  it('ignores events it has nothing to say about, without counting them as skipped', async () => {
    const { app, poster, skipped } = setup();
    await app.handle(envelope(fixture('ping')));
    await app.handle(envelope(fixture('job.started')));
    await app.handle(envelope(jobFinished(1, 'ok', { state: 'passed', exit_status: 0 })));
    await app.handle(envelope(buildFinished(1, 'running')));
    expect(poster.posts).toEqual([]);
    expect(skipped).toEqual([]);
  });
});

/** Every kind on, Slack and Teams: whatever a body can give, some destination wants it. */
const everything: Destination[] = [
  { ...slack, events: [...ALERT_KINDS] },
  { ...teams, events: [...ALERT_KINDS] },
];

const elided = { '...': '...' };
const failedJob = (overrides: Record<string, unknown>) => ({ ...fixture('job.finished'), ...overrides });

describe('bodies without what an alert needs are skipped, not thrown', () => {
  it.each<[string, Record<string, unknown>, SkipReason]>([
    ['build.finished without a build', { event: 'build.finished' }, 'build-missing'],
    ['build.finished with build null', { event: 'build.finished', build: null }, 'build-missing'],
    [
      "Buildkite's documented blocked build (build and pipeline elided)",
      sharedBody('realworld/buildkite/buildkite-docs.build.finished.blocked.json'),
      'build-unidentified',
    ],
    [
      'a canceled build with nothing to name it',
      { event: 'build.finished', build: { id: 'b1', state: 'canceled' }, pipeline: elided },
      'build-unidentified',
    ],
    [
      'build.finished without a state (elided build)',
      { event: 'build.finished', build: elided, pipeline: elided },
      'build-missing-state',
    ],
    [
      'a failed build without a number',
      { ...fixture('build.finished'), build: { id: 'b1', state: 'failed', branch: 'main' } },
      'build-missing-number',
    ],
    [
      'a failed build without its pipeline',
      { ...buildFinished(7, 'failed'), pipeline: elided },
      'build-missing-pipeline',
    ],
    ['job.finished without a job', { ...fixture('job.finished'), job: undefined }, 'job-missing'],
    [
      'a failed job without an id',
      failedJob({ job: { state: 'failed', name: 'Unit tests', exit_status: 1 } }),
      'job-missing-id',
    ],
    ['a failed job without its build', failedJob({ build: undefined }), 'build-missing'],
    [
      'a failed job whose build has neither id nor number',
      failedJob({ build: { state: 'failed' } }),
      'job-build-unidentified',
    ],
    ['agent.lost without the agent', { event: 'agent.lost', agent: elided }, 'agent-missing'],
    ['agent.blocked without the blocked IP', { event: 'agent.blocked', agent: elided }, 'blocked-ip-missing'],
    [
      'registration blocked without the IP',
      { event: 'cluster_token.registration_blocked', cluster_token: elided },
      'blocked-ip-missing',
    ],
    [
      'a Test Engine alarm with neither subject nor workflow',
      { event: 'workflow.alarm', workflow_event: { type: 'transition_count' } },
      'test-engine-empty',
    ],
    ['an empty Test Engine monitor body', { type: 'passed_on_retry' }, 'test-engine-empty'],
    ['package.created without a package', { event: 'package.created' }, 'package-missing-name'],
  ])('%s', async (_name, body, reason) => {
    const { app, poster, log, skipped } = setup(everything);
    const event = envelope(body);
    await expect(app.handle(event)).resolves.toBeUndefined();
    expect(poster.posts).toEqual([]);
    expect(skipped).toEqual([reason]);
    expect(log.warnings).toEqual([
      {
        message: 'Delivery skipped',
        attributes: {
          reason,
          why: SKIP_REASONS[reason],
          eventId: event.id,
          detailType: event['detail-type'],
          effect: 'no alert',
        },
      },
    ]);
  });
});

describe('bodies missing some fields still alert with what they have', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'a blocked build without number or id',
      { ...fixture('build.finished'), build: { blocked: true, state: 'passed', branch: 'main' } },
      '⏸️ Deploy API build on main is blocked, waiting for someone to unblock it',
    ],
    [
      'a blocked build without its pipeline',
      { ...buildFinished(9, 'passed', { blocked: true }), pipeline: elided },
      '⏸️ Build #9 on main is blocked, waiting for someone to unblock it',
    ],
    [
      'a failed build without an id (keyed on pipeline and number)',
      buildFinished(3, 'failed', { id: undefined }),
      '❌ Deploy API #3 on main failed',
    ],
    [
      'a canceled build without an id',
      buildFinished(4, 'canceled', { id: undefined }),
      '🚫 Deploy API #4 on main was canceled',
    ],
    [
      "Buildkite's documented agent.blocked (agent elided, IP known)",
      sharedBody('realworld/buildkite/buildkite-docs.agent.blocked.json'),
      '⛔ An agent was blocked: 202.188.43.20 is not allowed by its token',
    ],
    [
      'registration blocked with the token elided',
      sharedBody('realworld/buildkite/buildkite-docs.cluster_token.registration_blocked.json'),
      '⛔ Agent registration blocked from 202.188.43.20',
    ],
    [
      'a Test Engine alarm without its subject',
      { ...fixture('workflow.alarm'), subject: undefined },
      '🧪 Test Engine alarm: a test needs attention',
    ],
  ])('%s', async (_name, body, title) => {
    const { app, poster, skipped } = setup(everything);
    await app.handle(envelope(body));
    expect(skipped).toEqual([]);
    expect(poster.posts.map((p) => [p.destination, p.title])).toEqual([
      ['ci-slack', title],
      ['ci-teams', title],
    ]);
  });

  it('lists failed jobs of a build without ids, matched on pipeline and number', async () => {
    const { app, poster } = setup(everything);
    await app.handle(envelope(jobFinished(5, 'j1', { id: 'j1' }), 'job'));
    await app.handle(envelope({ ...jobFinished(5, 'j2'), build: { number: 5, state: 'failed' } }));
    await app.handle(envelope(buildFinished(5, 'failed', { id: undefined })));
    // j1's build has an id, j2's has pipeline+number like the build: only j2 is listed.
    expect(poster.posts[0]!.alert.message.list?.items.map((i) => i.text)).toEqual([':jest: job j2']);
  });
});

describe('every webhook body in ../shared', () => {
  const bodies = sharedWebhookBodies();

  it('finds the real-world captures and the payload examples', () => {
    const files = bodies.map(([file]) => file);
    expect(files).toEqual(
      expect.arrayContaining([
        'realworld/buildkite/fluid-project-FLUID-6293.build.finished.blocked.json',
        'buildkite/payloads/test-engine-workflow_event.passed_on_retry.json',
      ]),
    );
    expect(files.filter((f) => /response|pipeline-triggers/.test(f))).toEqual([]);
  });

  it.each(bodies)('%s is handled without throwing', async (_file, body) => {
    const { app, poster, skipped } = setup(everything);
    await expect(app.handle(envelope(body))).resolves.toBeUndefined();
    // Each body either alerts every destination the same way, is skipped, or has nothing to say.
    expect(poster.posts.length === 0 || poster.posts.length === 2).toBe(true);
    expect(skipped.length).toBeLessThanOrEqual(1);
  });

  it.each<[string, string[], SkipReason[]]>([
    [
      'realworld/buildkite/fluid-project-FLUID-6293.build.finished.blocked.json',
      ['⏸️ infusion #302 on master is blocked, waiting for someone to unblock it'],
      [],
    ],
    ['realworld/buildkite/buildkite-docs.build.finished.blocked.json', [], ['build-unidentified']],
    ['buildkite/payloads/build-build.finished.trigger-step.json', [], ['build-missing-state']],
    [
      'buildkite/payloads/test-engine-workflow_event.passed_on_retry.json',
      ['🧪 Test Engine monitor: passed on retry'],
      [],
    ],
    [
      'buildkite/payloads/test-engine-workflow_event.probabilistic_flakiness.json',
      ['🧪 Test Engine monitor: probabilistic flakiness'],
      [],
    ],
    [
      'realworld/buildkite/buildkite-docs.workflow.alarm.json',
      ['🧪 Test Engine alarm: a test needs attention'],
      [],
    ],
    ['realworld/buildkite/lita-buildkite.build.finished.json', [], []],
    ['realworld/buildkite/buildkite-docs.job.finished.trigger.json', [], []],
  ])('%s: alerts %j, skips %j', async (file, titles, reasons) => {
    const { app, poster, skipped } = setup([{ ...slack, events: [...ALERT_KINDS] }]);
    await app.handle(envelope(sharedBody(file)));
    expect(poster.titles()).toEqual(titles);
    expect(skipped).toEqual(reasons);
  });
});

describe('Test Engine monitors without event', () => {
  it('are their own kind: off for a destination that does not list workflow.monitor', async () => {
    const { app, poster } = setup([
      { ...slack, events: ['workflow.alarm', 'workflow.recover'] },
      { ...teams, events: ['workflow.monitor'] },
    ]);
    await app.handle(
      envelope(sharedBody('buildkite/payloads/test-engine-workflow_event.passed_on_retry.json')),
    );
    await app.handle(envelope(fixture('workflow.alarm')));
    expect(poster.posts.map((p) => [p.destination, p.title])).toEqual([
      ['ci-teams', '🧪 Test Engine monitor: passed on retry'],
      ['ci-slack', '🧪 Test Engine alarm: a test needs attention'],
    ]);
  });

  it('are on by default', () => {
    expect(DEFAULT_ALERT_KINDS).toContain('workflow.monitor');
  });

  it('post a duplicate delivery once (keyed on delivery.dedupeKey)', async () => {
    const { app, poster } = setup();
    const body = sharedBody('buildkite/payloads/test-engine-workflow_event.probabilistic_flakiness.json');
    await app.handle(envelope(body, 'same'));
    await app.handle(envelope(body, 'same'));
    expect(poster.posts).toHaveLength(1);
  });
});

describe('oversized deliveries', () => {
  const pointer = { bucket: 'kitebridge-bodies', key: 'oversized/2026/06/03/req-big.json', bytes: 300_000 };
  // What a pointer keeps of a build.finished body: the routing fields, not message or author.
  const routing = {
    build: { id: 'build-1', number: 1, state: 'failed', branch: 'main', blocked: false },
    pipeline: { slug: 'deploy-api', name: 'Deploy API' },
  };

  it('are read whole before alerting: the commit and author come from the stored body', async () => {
    const { app, poster, bodies } = setup();
    bodies.bodies.set(pointer.key, buildFinished(1, 'failed'));
    await app.handle(pointerEnvelope('build.finished', routing, pointer));
    expect(poster.posts).toHaveLength(1);
    expect(poster.posts[0]!.alert.message.facts).toEqual(
      expect.arrayContaining([
        { label: 'Commit', value: 'be22b8c Retry S3 artifact uploads with exponential backoff' },
        { label: 'Author', value: 'Dana Whitfield' },
      ]),
    );
  });

  it('are skipped when the stored body is gone: no retry brings it back', async () => {
    const { app, poster, skipped } = setup();
    await expect(app.handle(pointerEnvelope('build.finished', routing, pointer))).resolves.toBeUndefined();
    expect(poster.posts).toEqual([]);
    expect(skipped).toEqual(['oversized-body-missing']);
  });

  it('are retried when the body cannot be read for any other reason', async () => {
    const { app, bodies } = setup();
    bodies.read = async () => {
      throw new Error('SlowDown');
    };
    await expect(app.handle(pointerEnvelope('build.finished', routing, pointer))).rejects.toThrow('SlowDown');
  });
});
