import { ChatAlertsApp } from '../../../lambda/chat-alerts/app';
import {
  PermanentDeliveryError,
  PermanentError,
  RetryableDeliveryError,
  type Poster,
  type RenderedAlert,
} from '../../../lambda/chat-alerts/delivery';
import { DEFAULT_ALERT_KINDS, type Destination } from '../../../lambda/chat-alerts/model';
import { MemoryStateStore } from '../../../lambda/chat-alerts/state-store';
import { buildFinished, envelope, fixture, jobFinished } from './events';

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

function setup(destinations: Destination[] = [slack], jobsGraceMs = 0) {
  const poster = new RecordingPoster();
  const store = new MemoryStateStore({ now: () => Date.parse('2026-06-03T04:20:00Z') });
  const sleeps: number[] = [];
  const app = new ChatAlertsApp({
    store,
    poster,
    destinations,
    jobsGraceMs,
    now: () => Date.parse('2026-06-03T04:16:04Z'),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { app, poster, store, sleeps };
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
      store: new MemoryStateStore(),
      poster: flaky,
      destinations: [slack, teams],
    });
    const event = envelope(fixture('agent.lost'));
    await expect(app.handle(event)).rejects.toThrow('timed out');
    fail = false;
    await app.handle(event);
    expect(poster.posts.map((p) => p.destination)).toEqual(['ci-slack', 'ci-teams']);
  });

  it('treats a build event without a build as permanent', async () => {
    const { app } = setup();
    await expect(app.handle(envelope({ event: 'build.finished' }))).rejects.toBeInstanceOf(PermanentError);
  });

  it('ignores events it has nothing to say about', async () => {
    const { app, poster } = setup();
    await app.handle(envelope(fixture('ping')));
    await app.handle(envelope({ event: 'agent.lost' }));
    expect(poster.posts).toEqual([]);
  });
});
