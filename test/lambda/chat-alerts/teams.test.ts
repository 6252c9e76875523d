import { composeMessage, type Message } from '../../../lambda/chat-alerts/alert-message';
import type { Alert, BuildRef, FailedJob } from '../../../lambda/chat-alerts/model';
import { isSkip, parseBuild, parseFailedJob, statelessAlert } from '../../../lambda/chat-alerts/parse';
import {
  escapeTeamsMarkdown,
  payloadBytes,
  renderTeams,
  TEAMS_MAX_BYTES,
  type TeamsPayload,
} from '../../../lambda/chat-alerts/teams';
import { buildFinished, fixture, jobFinished, sharedBody } from './events';

type Json = Record<string, unknown>;

/** What a CommonMark renderer shows for a backslash escape (`\*` → `*`); zero-width spaces are invisible. */
function shown(text: string): string {
  return text.replace(/\\([!-/:-@[-`{-~])/g, '$1').replace(/\u200b/g, '');
}

/**
 * The markdown a CommonMark reader (and Teams) would act on in `text`: unescaped inline markers,
 * entities, `{{` functions, and block markers at the start of a line. Empty for literal text.
 */
function activeMarkdown(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split('\n')) {
    if (/^[ \t]{0,3}(#{1,6}([ \t]|$)|[-+*]([ \t]|$)|\d{1,9}[.)]([ \t]|$)|>|(=+|-{2,})[ \t]*$)/.test(line)) {
      found.push(`block "${line}"`);
    }
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      i++; // escapes the next character (before anything but ASCII punctuation it is a plain backslash)
      continue;
    }
    if ('*_`~[]<>|'.includes(c)) found.push(`"${c}" at ${i} of "${text}"`);
    if (c === '&' && /^&#?\w+;/.test(text.slice(i))) found.push(`entity at ${i} of "${text}"`);
    if (c === '{' && text[i + 1] === '{') found.push(`{{ at ${i} of "${text}"`);
  }
  return found;
}

/** Stands in for a checked link while the rest of a text is checked (a private-use character). */
const MARK = '\ue000';

/** A kitebridge-built link: `[label](url)`, the label possibly holding escapes. */
const LINK = /\[((?:\\.|[^\\\]])*)\]\(([^()\s]*)\)/g;

/**
 * Checks every markdown string of a card (text blocks, fact titles and values) and returns what
 * it shows once links are replaced by their labels. Throws on markdown kitebridge did not build:
 * anything active outside its own links to `allowed` URLs, its `- ` list lines and bold heading.
 */
function checkedCardText(payload: TeamsPayload, allowed: (url: string) => boolean): string {
  const content = payload.attachments[0]!.content;
  const texts: { text: string; list?: boolean; heading?: boolean }[] = [];
  const isHeading = (i: number) => {
    const element = content.body[i];
    return element?.type === 'TextBlock' && element.spacing === 'Medium';
  };
  content.body.forEach((element, i) => {
    if (element.type === 'FactSet') {
      for (const fact of element.facts) texts.push({ text: fact.title }, { text: fact.value });
    } else {
      texts.push({ text: element.text, heading: isHeading(i), list: isHeading(i - 1) });
    }
  });
  const out: string[] = [];
  for (const { text, list, heading } of texts) {
    let rest = heading ? text.replace(/^\*\*(.*)\*\*$/s, '$1') : text;
    if (list) rest = rest.replace(/^- /gm, '');
    const labels: string[] = [];
    rest = rest.replace(LINK, (_m, label: string, url: string) => {
      expect(allowed(url)).toBe(true);
      expect(activeMarkdown(label)).toEqual([]);
      labels.push(label);
      return `${MARK}${labels.length - 1}${MARK}`;
    });
    expect(activeMarkdown(rest.replace(/\ue000\d+\ue000/g, ' '))).toEqual([]);
    out.push(shown(rest.replace(/\ue000(\d+)\ue000/g, (_m, i: string) => labels[Number(i)]!)));
  }
  return out.join('\n');
}

const fromBuildkite = (url: string) => url.startsWith('https://buildkite.com/');

describe('escapeTeamsMarkdown', () => {
  it.each([
    [
      'plain text stays as it is',
      'Retry S3 uploads with backoff (#1043)',
      'Retry S3 uploads with backoff (#1043)',
    ],
    ['a link', 'Fix [click me](https://evil.example)', 'Fix \\[click me\\]\\(https://evil.example)'],
    ['bold', '**bold**', '\\*\\*bold\\*\\*'],
    ['underscores', 'snake_case_name', 'snake\\_case\\_name'],
    ['a mention', '<at>admin</at>', '\\<at\\>admin\\</at\\>'],
    ['an entity', '&lt;b&gt; & co', '\\&lt;b\\&gt; & co'],
    ['a numeric entity', '&#60;', '\\&#60;'],
    ['a heading', '# Release', '\\# Release'],
    ['a hash that is no heading', '#1042 fixed', '#1042 fixed'],
    ['a bullet', '- item', '\\- item'],
    ['a rule', '---', '\\---'],
    ['a plus bullet', '+ item', '\\+ item'],
    ['a numbered item', '1. step', '1\\. step'],
    ['a numbered item with a parenthesis', '12) step', '12\\) step'],
    ['a number that is no list', '198.51.100.0/24', '198.51.100.0/24'],
    ['a blockquote', '> quote', '\\> quote'],
    ['a backslash', 'C:\\agent\\', 'C:\\\\agent\\\\'],
    ['code', '`npm ci`', '\\`npm ci\\`'],
    ['strikethrough', '~~old~~', '\\~\\~old\\~\\~'],
    ['a table row', '| a | b |', '\\| a \\| b \\|'],
    [
      'a date function',
      '{{DATE(2017-02-14T06:08:39Z, SHORT)}}',
      '{\u200b{DATE(2017-02-14T06:08:39Z, SHORT)}}',
    ],
    ['block markers on every line', 'one\n# two\n  - three\n3. four', 'one\n\\# two\n  \\- three\n3\\. four'],
  ])('%s', (_name, input, expected) => {
    expect(escapeTeamsMarkdown(input)).toBe(expected);
    expect(shown(escapeTeamsMarkdown(input))).toBe(input.replace(/\u200b/g, ''));
    expect(activeMarkdown(escapeTeamsMarkdown(input))).toEqual([]);
  });
});

/** Strings a body may hold that Teams' markdown would act on, and real-looking commit subjects. */
const HOSTILE: [string, string][] = [
  ['a disguised link', 'Fix [click me](https://evil.example)'],
  ['an image', '![logo](https://evil.example/pixel.png)'],
  ['an autolink', '<https://evil.example>'],
  ['a reference link', '[docs][1]'],
  ['bold', 'Make **everything** bold'],
  ['italics', 'rename _private_ to snake_case and *this*'],
  ['a Teams mention', '<at>General</at> please look'],
  ['HTML entities', 'Escape &lt;script&gt; and &#60;b&#62; &amp; more'],
  ['a heading', '# Release 2.0'],
  ['a list', '- drop node 18'],
  ['a numbered list', '1. first step'],
  ['a quote', '> quoted reply'],
  ['a rule', '---'],
  ['backslashes', 'Fix C:\\agent\\builds\\ and \\*not bold\\*'],
  ['code and strikethrough', 'Use `npm ci`, not ~~npm install~~'],
  ['a table row', '| a | b |'],
  ['an Adaptive Cards function', '{{DATE(2026-06-03T04:15:41Z, SHORT)}}'],
  ['a merge commit', 'Merge pull request #4242 from acme/fix_[ci]_cache'],
  ['a revert', 'Revert "Render **bold** build names (#1205)"'],
  ['a conventional commit', 'feat(chat-alerts)!: escape *markdown* in Teams [skip ci]'],
  ['a dependency bump', 'Bump @aws-sdk/client-s3 from 3.1164.0 to 3.1165.0 in /lambda'],
  ['a squash subject', '* Fix flaky test (#88)'],
];

const job = parseFailedJob(fixture('job.finished')) as FailedJob;
const buildOf = (body: Json) => parseBuild(body) as BuildRef;
const stateless = (type: string, body: Json) => {
  const alert = statelessAlert(type, body);
  if (!alert || isSkip(alert)) throw new Error(`no alert for ${type}`);
  return alert;
};

/** Every place a body's text reaches a Teams card: the alert made from a body holding `value` there. */
const FIELDS: [string, (value: string) => Alert][] = [
  [
    'commit message',
    (v) => ({
      kind: 'build.failed',
      build: buildOf(buildFinished(1, 'failed', { message: `${v}\n\nbody` })),
      failedJobs: [],
    }),
  ],
  [
    'branch',
    (v) => ({
      kind: 'build.failed',
      build: buildOf(buildFinished(1, 'failed', { branch: v })),
      failedJobs: [],
    }),
  ],
  [
    'author',
    (v) => ({
      kind: 'build.fixed',
      build: buildOf(buildFinished(1, 'passed', { author: { name: v } })),
      failedJobs: [],
    }),
  ],
  [
    'pipeline name',
    (v) => ({
      kind: 'build.still_failing',
      build: buildOf({
        ...buildFinished(1, 'failed'),
        pipeline: { ...(fixture('build.finished').pipeline as Json), name: v },
      }),
      failures: 2,
      failedJobs: [],
    }),
  ],
  [
    'cancel reason',
    (v) => ({
      kind: 'build.canceled',
      build: buildOf(buildFinished(1, 'canceled', { cancel_reason: v })),
      failedJobs: [],
    }),
  ],
  [
    'job name',
    (v) => ({
      kind: 'build.failed',
      build: buildOf(buildFinished(1, 'failed')),
      failedJobs: [parseFailedJob(jobFinished(1, 'j1', { name: v })) as FailedJob, job],
    }),
  ],
  [
    'agent name',
    (v) =>
      stateless('agent.lost', {
        ...fixture('agent.lost'),
        agent: { ...(fixture('agent.lost').agent as Json), name: v },
      }),
  ],
  [
    'agent queue',
    (v) =>
      stateless('agent.lost', {
        ...fixture('agent.lost'),
        agent: { ...(fixture('agent.lost').agent as Json), meta_data: [`queue=${v}`] },
      }),
  ],
  [
    'agent token description',
    (v) =>
      stateless('agent.blocked', {
        ...fixture('agent.blocked'),
        cluster_token: { ...(fixture('agent.blocked').cluster_token as Json), description: v },
      }),
  ],
  [
    'Test Engine test name',
    (v) =>
      stateless('workflow.alarm', {
        ...fixture('workflow.alarm'),
        subject: { ...(fixture('workflow.alarm').subject as Json), test_full_name: v },
      }),
  ],
  [
    'Test Engine monitor type',
    (v) =>
      stateless(`workflow.${v}`, {
        ...sharedBody('buildkite/payloads/test-engine-workflow_event.probabilistic_flakiness.json'),
        type: v,
      }),
  ],
  [
    'Test Engine monitor field',
    (v) =>
      stateless('workflow.passed_on_retry', {
        ...sharedBody('buildkite/payloads/test-engine-workflow_event.passed_on_retry.json'),
        execution_branch: v,
        [v.replace(/\s/g, '_')]: v,
      }),
  ],
  [
    'package name',
    (v) =>
      stateless('package.created', {
        ...fixture('package.created'),
        package: { ...(fixture('package.created').package as Json), name: v },
      }),
  ],
];

describe.each(FIELDS)('Teams cards show a hostile %s literally', (_field, alertWith) => {
  it.each(HOSTILE)('%s', (_name, value) => {
    const card = renderTeams(composeMessage(alertWith(value)));
    const text = checkedCardText(card, fromBuildkite);
    // The monitor type is shown with its underscores as spaces.
    expect(text.includes(value) || text.includes(value.replace(/_/g, ' '))).toBe(true);
  });
});

describe('Teams links', () => {
  it('keep kitebridge-built links, with escaped labels', () => {
    const card = renderTeams(
      composeMessage({
        kind: 'build.failed',
        build: buildOf(buildFinished(1, 'failed')),
        failedJobs: [parseFailedJob(jobFinished(1, 'j1', { name: ':jest: [unit] (shard_1)' })) as FailedJob],
      }),
    );
    expect(JSON.stringify(card)).toContain(
      '- [:jest: \\\\[unit\\\\] \\\\(shard\\\\_1\\\\)](https://buildkite.com/acme/deploy-api/builds/1#j1) (exit 1)',
    );
    expect(checkedCardText(card, fromBuildkite)).toContain(':jest: [unit] (shard_1)');
  });

  it('are dropped unless http(s): the label stays as text, actions go', () => {
    const build = {
      ...buildOf(buildFinished(1, 'failed')),
      url: 'javascript:alert(1)',
      pipelineUrl: 'ftp://x',
    };
    const card = renderTeams(composeMessage({ kind: 'build.failed', build, failedJobs: [] }));
    const json = JSON.stringify(card);
    expect(json).not.toContain('javascript:');
    expect(json).not.toContain('ftp:');
    expect(card.attachments[0]!.content.actions).toEqual([]);
  });

  it('come only from http(s) URLs in the body', () => {
    const build = buildOf(buildFinished(1, 'failed', { web_url: 'javascript:alert(1)' }));
    expect(build.url).toBe('');
    const alert = stateless('workflow.alarm', {
      ...fixture('workflow.alarm'),
      workflow_url: 'data:text/html,x',
    });
    expect(composeMessage(alert).links.map((l) => l.text)).toEqual(['Open test']);
  });
});

describe('Teams cards cut to size', () => {
  /** A backslash left to escape the `…` a cut added: shown as a stray `\`. */
  const loneBackslash = /(^|[^\\])(\\\\)*\\…/;

  it('never leave a lone backslash before the ellipsis when halving to fit 28 KB', () => {
    // Sized so that halving cuts escaped texts (`\*\*…`) between a backslash and its star.
    const stars = (n: number) => '*'.repeat(n);
    const message: Message = {
      tone: 'failure',
      title: 'Stars',
      fallback: 'x',
      text: stars(1900),
      facts: Array.from({ length: 20 }, (_, i) => ({ label: `Fact ${i}`, value: stars(300) })),
      list: {
        heading: 'Failed jobs',
        items: Array.from({ length: 30 }, () => ({ text: stars(200), url: 'https://buildkite.com/j' })),
        more: 0,
      },
      links: [],
    };
    const card = renderTeams(message);
    expect(payloadBytes(card)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    const texts = card.attachments[0]!.content.body.flatMap((e) =>
      e.type === 'FactSet' ? e.facts.map((f) => f.value) : [e.text],
    );
    expect(texts.filter((t) => t.includes('…'))).not.toEqual([]);
    expect(texts.filter((t) => loneBackslash.test(t))).toEqual([]);
    checkedCardText(card, fromBuildkite);
  });
});
