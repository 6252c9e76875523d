import { composeMessage, type Message } from '../../../lambda/chat-alerts/alert-message';
import type { Alert, BuildRef, FailedJob } from '../../../lambda/chat-alerts/model';
import { parseBuild, parseFailedJob, statelessAlert } from '../../../lambda/chat-alerts/parse';
import { renderSlack, SLACK_LIMITS, type SlackBlock } from '../../../lambda/chat-alerts/slack';
import { payloadBytes, renderTeams, TEAMS_MAX_BYTES } from '../../../lambda/chat-alerts/teams';
import { renderText } from '../../../lambda/chat-alerts/text';
import { detailTypeOf, fixture, sharedBody } from './events';

const build = parseBuild(fixture('build.finished')) as BuildRef;
const job = parseFailedJob(fixture('job.finished')) as FailedJob;
const stateless = (name: string) => statelessAlert(name, fixture(name)) as Alert;
const fromBody = (body: Record<string, unknown>) => statelessAlert(detailTypeOf(body), body) as Alert;
const passedOnRetry = sharedBody('buildkite/payloads/test-engine-workflow_event.passed_on_retry.json');
const flakiness = sharedBody('buildkite/payloads/test-engine-workflow_event.probabilistic_flakiness.json');

/** Every alert kind, with the words its title must contain and a fact or text it must show. */
const ALERTS: [string, Alert, string, string][] = [
  [
    'build.failed',
    { kind: 'build.failed', build, failures: 1, failedJobs: [job] },
    '❌ Deploy API #1042 on main failed',
    'be22b8c Retry S3 artifact uploads with exponential backoff',
  ],
  [
    'build.still_failing',
    { kind: 'build.still_failing', build, failures: 3, failedJobs: [job] },
    'still failing (3 failed builds in a row)',
    'Dana Whitfield',
  ],
  [
    'build.fixed',
    { kind: 'build.fixed', build, failures: 2, failedJobs: [] },
    'fixed after 2 failed builds',
    'main',
  ],
  ['build.blocked', { kind: 'build.blocked', build, failedJobs: [] }, 'is blocked', '#1042'],
  [
    'build.canceled',
    { kind: 'build.canceled', build: { ...build, cancelReason: 'superseded by #1043' }, failedJobs: [] },
    'was canceled',
    'Reason: superseded by #1043',
  ],
  [
    'build.failed_jobs',
    { kind: 'build.failed_jobs', build, failedJobs: [job] },
    'More failed jobs',
    ':jest: Unit tests',
  ],
  [
    'agent.lost',
    stateless('agent.lost'),
    'Agent acme-linux-arm64-i-07d1e5b3a9c2f4e68-1 was lost',
    'linux-arm64',
  ],
  [
    'agent.blocked',
    stateless('agent.blocked'),
    'blocked: 203.0.113.47 is not allowed',
    'linux-arm64 autoscaling group (NAT egress only)',
  ],
  [
    'cluster_token.registration_blocked',
    stateless('cluster_token.registration_blocked'),
    'Agent registration blocked from 203.0.113.58',
    '198.51.100.0/24',
  ],
  [
    'workflow.alarm',
    stateless('workflow.alarm'),
    'Test Engine alarm',
    'S3ArtifactStore uploadBundle retries PutObject on 503 SlowDown',
  ],
  ['workflow.recover', stateless('workflow.recover'), 'test recovered', 'probabilistic flakiness'],
  [
    'workflow.monitor',
    fromBody(passedOnRetry),
    '🧪 Test Engine monitor: passed on retry',
    '42 of 100 executions, 6 of 7 days',
  ],
  [
    'workflow.monitor',
    fromBody(flakiness),
    '🧪 Test Engine monitor: probabilistic flakiness',
    '0.2 (alarm at 0.1, recover at 0.08)',
  ],
  [
    'package.created',
    stateless('package.created'),
    'Package @acme/deploy-api-client was published',
    'acme-npm',
  ],
  [
    'job.stuck',
    statelessAlert('job.stuck', {
      org: 'acme',
      queue: 'linux-arm64',
      job: { id: 'job-7', agentQueryRules: ['os=windows'] },
      waitedSeconds: 1920,
      reason: 'no-matching-agent',
      readyAt: '2026-06-03T04:15:00.000Z',
    }) as Alert,
    'A job on linux-arm64 has waited 32 min for an agent',
    "no connected agent matches the job's agent query rules",
  ],
];

function slackText(blocks: readonly SlackBlock[]): string {
  return JSON.stringify(blocks);
}

describe('job.stuck (kitebridge.health, from the autoscaler)', () => {
  it('is skipped without the job id or the queue', () => {
    expect(statelessAlert('job.stuck', { queue: 'linux' })).toEqual({ skip: 'stuck-job-missing' });
    expect(statelessAlert('job.stuck', { job: { id: 'j' } })).toEqual({ skip: 'stuck-job-missing' });
  });

  it('names the rules the job needs', () => {
    const alert = statelessAlert('job.stuck', {
      queue: 'linux',
      job: { id: 'j', agentQueryRules: ['os=windows', 'gpu=true'] },
      waitedSeconds: 3600,
      reason: 'no-connected-agent',
    }) as Alert;
    const text = renderText(composeMessage(alert));
    expect(text).toContain('os=windows, gpu=true');
    expect(text).toContain('the queue has no connected agent');
  });
});

describe.each(ALERTS)('%s', (kind, alert, title, shown) => {
  const message = composeMessage(alert);

  it('composes a titled message with its facts', () => {
    expect(alert.kind).toBe(kind);
    expect(message.title).toContain(title);
    expect(renderText(message)).toContain(shown);
    expect(message.fallback.startsWith(message.title)).toBe(true);
  });

  it('renders Slack Block Kit with a plain-text fallback', () => {
    const payload = renderSlack(message);
    expect(payload.text).toContain(title.replace(/&/g, '&amp;'));
    expect(payload.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: message.title, emoji: true },
    });
    expect(payload.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(slackText(payload.blocks)).toContain(shown.replace(/&/g, '&amp;'));
  });

  it('renders a Teams Adaptive Card in the Workflows envelope', () => {
    const payload = renderTeams(message);
    const card = payload.attachments[0]!;
    expect(payload.type).toBe('message');
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content.type).toBe('AdaptiveCard');
    expect(card.content.body[0]).toMatchObject({ type: 'TextBlock', text: message.title, weight: 'Bolder' });
    expect(JSON.stringify(card.content)).toContain(shown);
    expect(payloadBytes(payload)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
  });
});

describe('build messages', () => {
  it('name pipeline, build link, branch, short SHA with subject, and author', () => {
    const message = composeMessage({ kind: 'build.failed', build, failedJobs: [job] });
    expect(message.facts).toEqual([
      { label: 'Pipeline', value: 'Deploy API', url: 'https://buildkite.com/acme/deploy-api' },
      { label: 'Build', value: '#1042', url: 'https://buildkite.com/acme/deploy-api/builds/1042' },
      { label: 'Branch', value: 'main' },
      { label: 'Commit', value: 'be22b8c Retry S3 artifact uploads with exponential backoff' },
      { label: 'Author', value: 'Dana Whitfield' },
    ]);
    expect(message.list?.items).toEqual([
      {
        text: ':jest: Unit tests',
        url: 'https://buildkite.com/acme/deploy-api/builds/1042#84fa7fad-9911-46a8-96a6-12dd7b361a91',
        detail: 'exit 1',
      },
    ]);
  });

  it('link jobs in Slack mrkdwn and Teams markdown', () => {
    const message = composeMessage({ kind: 'build.failed', build, failedJobs: [job] });
    expect(slackText(renderSlack(message).blocks)).toContain(
      '• <https://buildkite.com/acme/deploy-api/builds/1042#84fa7fad-9911-46a8-96a6-12dd7b361a91|:jest: Unit tests> (exit 1)',
    );
    expect(JSON.stringify(renderTeams(message))).toContain(
      '- [:jest: Unit tests](https://buildkite.com/acme/deploy-api/builds/1042#84fa7fad-9911-46a8-96a6-12dd7b361a91) (exit 1)',
    );
  });

  it('escapes Slack control characters in user text', () => {
    const evil = { ...build, subject: 'Fix <!channel> & <https://evil|click>' };
    const text = slackText(
      renderSlack(composeMessage({ kind: 'build.failed', build: evil, failedJobs: [] })).blocks,
    );
    expect(text).toContain('Fix &lt;!channel&gt; &amp; &lt;https://evil|click&gt;');
    expect(text).not.toContain('<!channel>');
  });
});

describe('limits', () => {
  const long = 'x'.repeat(50_000);
  const wide = '漢'.repeat(20_000); // 3 bytes each in UTF-8
  const longJob = (i: number): FailedJob => ({ ...job, id: `j${i}`, name: `${long}-${i}` });

  const huge: Message = {
    tone: 'failure',
    title: long,
    fallback: long,
    text: wide,
    facts: Array.from({ length: 14 }, (_, i) => ({
      label: `Fact ${i}`,
      value: wide,
      url: 'https://example.com/x',
    })),
    list: {
      heading: 'Failed jobs',
      items: Array.from({ length: 200 }, (_, i) => ({ text: `${long}${i}`, url: 'https://example.com/j' })),
      more: 0,
    },
    links: [{ text: long, url: 'https://example.com' }],
  };

  it.each([
    [
      'a long commit subject',
      composeMessage({ kind: 'build.failed', build: { ...build, subject: long }, failedJobs: [] }),
    ],
    [
      'long job names',
      composeMessage({ kind: 'build.failed', build, failedJobs: [1, 2, 3, 4, 5].map(longJob) }),
    ],
    ['every field oversized', huge],
  ])('Slack stays within its limits with %s, and the cut is visible', (_name, message) => {
    const payload = renderSlack(message);
    expect(payload.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(payload.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
    for (const block of payload.blocks) {
      if (block.type === 'header')
        expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      if (block.type === 'section') {
        if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        expect((block.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
        for (const field of block.fields ?? [])
          expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
      }
      if (block.type === 'actions')
        for (const b of block.elements)
          expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonText);
    }
    expect(slackText(payload.blocks)).toContain('…');
  });

  it.each([
    [
      'a long commit subject',
      composeMessage({ kind: 'build.failed', build: { ...build, subject: wide }, failedJobs: [] }),
    ],
    [
      'long job names',
      composeMessage({ kind: 'build.failed', build, failedJobs: [1, 2, 3, 4, 5].map(longJob) }),
    ],
    ['every field oversized', huge],
  ])('Teams stays under 28 KB with %s, and the cut is visible', (_name, message) => {
    const payload = renderTeams(message);
    expect(payloadBytes(payload)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(JSON.stringify(payload)).toContain('…');
  });

  it('Slack lists that do not fit end with how many were left out', () => {
    const payload = renderSlack(huge);
    const list = payload.blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('*Failed jobs*'));
    expect(list && 'text' in list ? list.text?.text : '').toMatch(/…and \d+ more$/);
  });
});

describe('Test Engine monitor messages', () => {
  it('show what passed_on_retry saw: branch, commit, count against thresholds, window, ids, time', () => {
    const message = composeMessage(fromBody(passedOnRetry));
    expect(message.facts).toEqual([
      { label: 'Branch', value: 'main' },
      { label: 'Commit', value: 'abc123' },
      { label: 'Commit count', value: '1 (alarm at 2, recover at 0)' },
      { label: 'Window', value: '42 of 100 executions, 6 of 7 days' },
      { label: 'Execution', value: '01996fcb-3dba-72dd-bdc0-9bf9e06bf4fe' },
      { label: 'Run', value: '01996fcb-3dba-7b9a-9c53-b1ffb0960f31' },
      { label: 'At', value: '2025-09-22T05:00:14.650Z' },
    ]);
    expect(message.tone).toBe('warning');
    expect(message.links).toEqual([]);
  });

  it('show probabilistic_flakiness as a score against its thresholds', () => {
    expect(composeMessage(fromBody(flakiness)).facts).toEqual([
      { label: 'Branch', value: 'main' },
      { label: 'Score', value: '0.2 (alarm at 0.1, recover at 0.08)' },
      { label: 'At', value: '2025-09-22T05:00:16.506Z' },
    ]);
  });

  it('show the test, its links, and fields of monitors kitebridge does not know, by their own names', () => {
    const message = composeMessage(
      fromBody({
        type: 'slow_test',
        subject: {
          test_full_name: 'Checkout pays with a saved card',
          test_location: './spec/checkout_spec.rb:12',
          test_url: 'https://buildkite.com/organizations/acme/analytics/suites/web/tests/t1',
        },
        workflow_id: 'w1',
        workflow_url: 'https://buildkite.com/organizations/acme/analytics/suites/web/workflows/w1',
        duration_p95_ms: 1840,
        duration_threshold_high: 1500,
        quarantined: false,
        execution_url: 'https://buildkite.com/organizations/acme/analytics/executions/e1',
        dashboard_url: 'javascript:alert(1)',
        tags: ['ignored', 'not scalar'],
      }),
    );
    expect(message.title).toBe('🧪 Test Engine monitor: slow test');
    expect(message.text).toBe('Checkout pays with a saved card');
    expect(message.facts).toEqual([
      { label: 'Duration thresholds', value: 'alarm at 1500' },
      { label: 'Location', value: './spec/checkout_spec.rb:12' },
      { label: 'Duration p95 ms', value: '1840' },
      { label: 'Quarantined', value: 'no' },
    ]);
    expect(message.links).toEqual([
      { text: 'Open test', url: 'https://buildkite.com/organizations/acme/analytics/suites/web/tests/t1' },
      {
        text: 'Open workflow',
        url: 'https://buildkite.com/organizations/acme/analytics/suites/web/workflows/w1',
      },
      { text: 'Open execution', url: 'https://buildkite.com/organizations/acme/analytics/executions/e1' },
    ]);
  });

  it('take the monitor from the detail-type when the body has no type', () => {
    const alert = statelessAlert('workflow.passed_on_retry', { commit_count: 3 }) as Alert;
    expect(composeMessage(alert).title).toBe('🧪 Test Engine monitor: passed on retry');
  });

  it('render in Slack, Teams and text with every fact', () => {
    const message = composeMessage(fromBody(passedOnRetry));
    expect(renderText(message)).toMatch(/Window +42 of 100 executions, 6 of 7 days/);
    const slack = renderSlack(message).blocks.find((b) => b.type === 'section' && b.fields);
    expect(slack && 'fields' in slack ? slack.fields?.length : 0).toBe(7);
    const teams = renderTeams(message).attachments[0]!.content.body.find((e) => e.type === 'FactSet');
    expect(teams && 'facts' in teams ? teams.facts.map((f) => f.title) : []).toEqual(
      message.facts.map((f) => f.label),
    );
  });
});

describe('messages from bodies missing fields', () => {
  it('name a build by its pipeline when the number is missing, and by its number when the pipeline is', () => {
    const noNumber: BuildRef = { ...build, number: undefined as never };
    delete (noNumber as { number?: number }).number;
    const noPipeline: BuildRef = { ...build, pipelineName: undefined as never, pipelineUrl: '' };
    delete (noPipeline as { pipelineName?: string }).pipelineName;
    expect(composeMessage({ kind: 'build.blocked', build: noNumber, failedJobs: [] }).title).toBe(
      '⏸️ Deploy API build on main is blocked, waiting for someone to unblock it',
    );
    expect(composeMessage({ kind: 'build.blocked', build: noNumber, failedJobs: [] }).facts[1]).toEqual({
      label: 'Build',
      value: '(no number)',
      url: 'https://buildkite.com/acme/deploy-api/builds/1042',
    });
    const message = composeMessage({ kind: 'build.failed', build: noPipeline, failedJobs: [] });
    expect(message.title).toBe('❌ Build #1042 on main failed');
    expect(message.facts.map((f) => f.label)).toEqual(['Build', 'Branch', 'Commit', 'Author']);
  });

  it('say an agent was blocked when the body elides the agent', () => {
    const message = composeMessage({ kind: 'agent.blocked', blockedIp: '202.188.43.20' });
    expect(message.title).toBe('⛔ An agent was blocked: 202.188.43.20 is not allowed by its token');
    expect(message.facts).toEqual([{ label: 'Blocked IP', value: '202.188.43.20' }]);
    expect(message.links).toEqual([]);
  });

  it('keep only http(s) links from the body', () => {
    const parsed = parseBuild({
      build: { id: 'b', number: 1, state: 'failed', web_url: 'javascript:alert(1)' },
      pipeline: { slug: 'p', web_url: 'https://buildkite.com/acme/p' },
    }) as BuildRef;
    expect(parsed.url).toBe('');
    expect(parsed.pipelineUrl).toBe('https://buildkite.com/acme/p');
  });
});
