/**
 * Turns an alert into a service-neutral message (title, facts, a list, links). The Slack, Teams
 * and terminal renderers only lay it out, so each alert's wording lives here once.
 */
import type {
  Alert,
  BuildAlert,
  BuildRef,
  ClusterTokenRef,
  FailedJob,
  FailedJobsFollowUp,
  MonitorAlert,
  MonitorObservation,
} from './model';

export type Tone = 'failure' | 'warning' | 'success' | 'info';

export interface Link {
  readonly text: string;
  readonly url: string;
}

export interface Fact {
  readonly label: string;
  readonly value: string;
  /** Makes the value a link. */
  readonly url?: string;
}

export interface ListItem {
  readonly text: string;
  readonly url?: string;
  /** Shown after the text, e.g. `exit 1`. */
  readonly detail?: string;
}

export interface Message {
  readonly tone: Tone;
  /** One line, plain text, with a leading emoji. */
  readonly title: string;
  /** Plain text for notifications and clients that show no rich layout. */
  readonly fallback: string;
  /** An optional paragraph of plain text (commit subject, test name…). */
  readonly text?: string;
  readonly facts: readonly Fact[];
  readonly list?: { readonly heading: string; readonly items: readonly ListItem[]; readonly more: number };
  /** Buttons (Slack) / actions (Teams). */
  readonly links: readonly Link[];
}

const shortSha = (commit: string) => (/^[0-9a-f]{7,40}$/i.test(commit) ? commit.slice(0, 7) : commit);

function buildFacts(build: BuildRef): Fact[] {
  const facts: Fact[] = [];
  if (build.pipelineName) {
    facts.push({
      label: 'Pipeline',
      value: build.pipelineName,
      ...(build.pipelineUrl ? { url: build.pipelineUrl } : {}),
    });
  }
  if (build.number !== undefined || build.url) {
    facts.push({
      label: 'Build',
      value: build.number !== undefined ? `#${build.number}` : '(no number)',
      ...(build.url ? { url: build.url } : {}),
    });
  }
  facts.push(
    { label: 'Branch', value: build.branch || '(none)' },
    {
      label: 'Commit',
      value: `${shortSha(build.commit) || '(none)'}${build.subject ? ` ${build.subject}` : ''}`,
    },
  );
  if (build.author) facts.push({ label: 'Author', value: build.author });
  return facts;
}

function jobsList(jobs: readonly FailedJob[], heading: string): Message['list'] {
  if (jobs.length === 0) return undefined;
  return {
    heading,
    items: jobs.map((job) => ({
      text: job.name,
      ...(job.url ? { url: job.url } : {}),
      detail: job.exitStatus === null ? 'no exit status' : `exit ${job.exitStatus}`,
    })),
    more: 0,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function buildTitle(alert: BuildAlert | FailedJobsFollowUp): { tone: Tone; title: string } {
  const { build } = alert;
  // A body may lack the number or the pipeline (documented examples elide them); say what is known.
  const name =
    build.number !== undefined
      ? `${build.pipelineName ?? 'Build'} #${build.number}`
      : `${build.pipelineName ? `${build.pipelineName} build` : 'A build'}`;
  const what = `${name} on ${build.branch || '(no branch)'}`;
  switch (alert.kind) {
    case 'build.failed':
      return { tone: 'failure', title: `❌ ${what} failed` };
    case 'build.still_failing':
      return {
        tone: 'failure',
        title: `🔁 ${what} is still failing (${plural(alert.failures ?? 2, 'failed build')} in a row)`,
      };
    case 'build.fixed':
      return {
        tone: 'success',
        title: `✅ ${what} is fixed${alert.failures ? ` after ${plural(alert.failures, 'failed build')}` : ''}`,
      };
    case 'build.blocked':
      return { tone: 'info', title: `⏸️ ${what} is blocked, waiting for someone to unblock it` };
    case 'build.canceled':
      return { tone: 'warning', title: `🚫 ${what} was canceled` };
    case 'build.failed_jobs':
      return { tone: 'failure', title: `❌ More failed jobs in ${what}` };
  }
}

function tokenFacts(token: ClusterTokenRef | undefined): Fact[] {
  const facts: Fact[] = [];
  if (token?.description) facts.push({ label: 'Agent token', value: token.description });
  if (token?.allowedIps) facts.push({ label: 'Allowed IPs', value: token.allowedIps });
  return facts;
}

/** `passed_on_retry` → `Passed on retry`. */
function humanize(key: string): string {
  const words = key.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function show(value: MonitorObservation['value']): string {
  return typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
}

const THRESHOLD = /_threshold_(high|low)$/;

/**
 * What a monitor saw, as facts: branch and commit, each measure with its alarm (`_high`) and
 * recover (`_low`) thresholds, the window it looked at, then every other field by its own name.
 */
function monitorFacts(alert: MonitorAlert): Fact[] {
  const values = new Map(alert.observations.map((o) => [o.key, o.value]));
  const used = new Set<string>();
  const take = (key: string) => {
    const value = values.get(key);
    if (value !== undefined) used.add(key);
    return value;
  };
  const facts: Fact[] = [];
  const branch = take('execution_branch') ?? take('branch_filter');
  if (branch !== undefined) facts.push({ label: 'Branch', value: show(branch) });
  const commit = take('execution_commit_sha');
  if (commit !== undefined) facts.push({ label: 'Commit', value: shortSha(show(commit)) });

  const measures = new Set(
    alert.observations.filter((o) => THRESHOLD.test(o.key)).map((o) => o.key.replace(THRESHOLD, '')),
  );
  for (const { key } of alert.observations) {
    const base = key.replace(THRESHOLD, '');
    if (!measures.has(base) || used.has(key)) continue;
    const value = take(base);
    const high = take(`${base}_threshold_high`);
    const low = take(`${base}_threshold_low`);
    const thresholds = [
      high !== undefined ? `alarm at ${show(high)}` : '',
      low !== undefined ? `recover at ${show(low)}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    facts.push(
      value === undefined
        ? { label: `${humanize(base)} thresholds`, value: thresholds }
        : { label: humanize(base), value: `${show(value)}${thresholds ? ` (${thresholds})` : ''}` },
    );
  }

  const span = (seen: string, limit: string, unit: string) => {
    const [n, of] = [take(seen), take(limit)];
    if (n === undefined) return of === undefined ? '' : `up to ${show(of)} ${unit}`;
    return `${show(n)}${of === undefined ? '' : ` of ${show(of)}`} ${unit}`;
  };
  const window = [
    span('executions_in_window', 'window_executions', 'executions'),
    span('days_in_window', 'window_days', 'days'),
  ]
    .filter(Boolean)
    .join(', ');
  if (window) facts.push({ label: 'Window', value: window });
  if (alert.testLocation) facts.push({ label: 'Location', value: alert.testLocation });

  const named: [string, string][] = [
    ['execution_id', 'Execution'],
    ['execution_run_id', 'Run'],
    ['timestamp', 'At'],
  ];
  for (const [key, label] of named) {
    const value = take(key);
    if (value !== undefined) facts.push({ label, value: show(value) });
  }
  for (const { key, value } of alert.observations) {
    if (!used.has(key)) facts.push({ label: humanize(key), value: show(value) });
  }
  return facts;
}

function testLinks(alert: { testUrl?: string; workflowUrl?: string }): Link[] {
  const links: Link[] = [];
  if (alert.testUrl) links.push({ text: 'Open test', url: alert.testUrl });
  if (alert.workflowUrl) links.push({ text: 'Open workflow', url: alert.workflowUrl });
  return links;
}

function withFallback(message: Omit<Message, 'fallback'>): Message {
  const facts = message.facts.map((f) => `${f.label}: ${f.value}`).join(' · ');
  return { ...message, fallback: [message.title, facts].filter(Boolean).join(' — ') };
}

/** The message for an alert: pure, so each kind is tested table-driven. */
export function composeMessage(alert: Alert): Message {
  switch (alert.kind) {
    case 'build.failed':
    case 'build.still_failing':
    case 'build.fixed':
    case 'build.blocked':
    case 'build.canceled':
    case 'build.failed_jobs': {
      const { tone, title } = buildTitle(alert);
      const list = jobsList(
        alert.failedJobs,
        alert.kind === 'build.failed_jobs' ? 'Also failed' : 'Failed jobs',
      );
      const text =
        alert.kind === 'build.canceled' && alert.build.cancelReason
          ? `Reason: ${alert.build.cancelReason}`
          : undefined;
      return withFallback({
        tone,
        title,
        ...(text ? { text } : {}),
        facts: buildFacts(alert.build),
        ...(list ? { list } : {}),
        links: alert.build.url ? [{ text: 'Open build', url: alert.build.url }] : [],
      });
    }
    case 'agent.lost': {
      const { agent } = alert;
      const facts: Fact[] = [{ label: 'Agent', value: agent.name, ...(agent.url ? { url: agent.url } : {}) }];
      if (agent.queue) facts.push({ label: 'Queue', value: agent.queue });
      if (agent.hostname) facts.push({ label: 'Host', value: agent.hostname });
      if (agent.ipAddress) facts.push({ label: 'IP', value: agent.ipAddress });
      if (agent.version) facts.push({ label: 'Version', value: agent.version });
      if (agent.lostAt) facts.push({ label: 'Lost at', value: agent.lostAt });
      return withFallback({
        tone: 'warning',
        title: `⚠️ Agent ${agent.name} was lost`,
        text: 'Buildkite stopped hearing from this agent; any job it was running will be retried or fail.',
        facts,
        links: agent.url ? [{ text: 'Open agent', url: agent.url }] : [],
      });
    }
    case 'job.stuck': {
      const minutes = Math.round(alert.waitedSeconds / 60);
      const why =
        alert.reason === 'no-connected-agent'
          ? 'the queue has no connected agent'
          : alert.reason === 'no-matching-agent'
            ? "no connected agent matches the job's agent query rules"
            : 'no connected agent can take it';
      const facts: Fact[] = [
        { label: 'Queue', value: alert.queue },
        { label: 'Job', value: alert.jobId },
        { label: 'Waiting', value: `${minutes} min` },
      ];
      if (alert.rules.length > 0) facts.push({ label: 'Agent rules', value: alert.rules.join(', ') });
      return withFallback({
        tone: 'warning',
        title: `⏳ A job on ${alert.queue} has waited ${minutes} min for an agent`,
        text: `Stuck: ${why}.`,
        facts,
        links: [],
      });
    }
    case 'agent.blocked': {
      const { agent } = alert;
      return withFallback({
        tone: 'warning',
        title: `⛔ ${agent ? `Agent ${agent.name}` : 'An agent'} was blocked: ${alert.blockedIp} is not allowed by its token`,
        facts: [
          ...(agent ? [{ label: 'Agent', value: agent.name, ...(agent.url ? { url: agent.url } : {}) }] : []),
          { label: 'Blocked IP', value: alert.blockedIp },
          ...(agent?.queue ? [{ label: 'Queue', value: agent.queue }] : []),
          ...tokenFacts(alert.token),
        ],
        links: agent?.url ? [{ text: 'Open agent', url: agent.url }] : [],
      });
    }
    case 'cluster_token.registration_blocked':
      return withFallback({
        tone: 'warning',
        title: `⛔ Agent registration blocked from ${alert.blockedIp}`,
        text: 'An agent tried to register with a cluster token from an address the token does not allow.',
        facts: [{ label: 'Blocked IP', value: alert.blockedIp }, ...tokenFacts(alert.token)],
        links: [],
      });
    case 'workflow.alarm':
    case 'workflow.recover': {
      const alarm = alert.kind === 'workflow.alarm';
      const facts: Fact[] = [];
      if (alert.monitor) facts.push({ label: 'Monitor', value: alert.monitor.replace(/_/g, ' ') });
      if (alert.score !== undefined) facts.push({ label: 'Score', value: String(alert.score) });
      if (alert.threshold !== undefined)
        facts.push({
          label: alarm ? 'Alarm threshold' : 'Recover threshold',
          value: String(alert.threshold),
        });
      if (alert.branch) facts.push({ label: 'Branch', value: alert.branch });
      if (alert.testLocation) facts.push({ label: 'Location', value: alert.testLocation });
      return withFallback({
        tone: alarm ? 'warning' : 'success',
        title: alarm ? '🧪 Test Engine alarm: a test needs attention' : '🧪 Test Engine: test recovered',
        ...(alert.testName ? { text: alert.testName } : {}),
        facts,
        links: testLinks(alert),
      });
    }
    case 'workflow.monitor':
      return withFallback({
        tone: 'warning',
        title: `🧪 Test Engine monitor: ${alert.monitor.replace(/_/g, ' ')}`,
        ...(alert.testName ? { text: alert.testName } : {}),
        facts: monitorFacts(alert),
        links: [
          ...testLinks(alert),
          ...alert.links.map((l) => ({
            text: `Open ${l.key.replace(/_url$/, '').replace(/_/g, ' ')}`,
            url: l.url,
          })),
        ],
      });
    case 'package.created':
      return withFallback({
        tone: 'info',
        title: `📦 Package ${alert.name} was published`,
        facts: [
          { label: 'Package', value: alert.name, ...(alert.url ? { url: alert.url } : {}) },
          ...(alert.registry
            ? [
                {
                  label: 'Registry',
                  value: alert.registry,
                  ...(alert.registryUrl ? { url: alert.registryUrl } : {}),
                },
              ]
            : []),
        ],
        links: alert.url ? [{ text: 'Open package', url: alert.url }] : [],
      });
  }
}
