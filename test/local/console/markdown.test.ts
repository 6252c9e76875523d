import fc from 'fast-check';
import type { Message } from '../../../lambda/chat-alerts/alert-message';
import { escapeTeamsMarkdown, renderTeams } from '../../../lambda/chat-alerts/teams';
import { teamsMarkdownToHtml } from '../../../local/console/client/markdown';

const HOSTILE = '<img src=x onerror="alert(1)">';

/** Text with the characters markdown and HTML give a meaning to, often. */
const markupText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(...'<>&"\'*_[]()\\`~|#-+=.{}!/:\n\u200b'.split(''), '**', 'https://x.example/', 'img'),
    fc.string({ unit: 'grapheme', maxLength: 2 }),
  ),
  maxLength: 60,
});

/** The HTML text a plain string should show as. */
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const asHtmlText = (text: string) =>
  text
    .replace(/\u200b/g, '')
    .replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
    .replace(/\n/g, '<br>');

/** What is left of the HTML once the only markup the renderer may make is taken out. */
const withoutAllowedMarkup = (html: string) =>
  html.replace(/<\/?strong>|<br>|<\/a>|<a href="https?:\/\/[^"<>]*" target="_blank" rel="noreferrer">/g, '');

describe('teamsMarkdownToHtml (the console draws Teams cards with it)', () => {
  it('shows HTML in a text as text', () => {
    const html = teamsMarkdownToHtml(`Deploy ${HOSTILE} failed`);
    expect(html).toBe('Deploy &lt;img src=x onerror=&quot;alert(1)&quot;&gt; failed');
    expect(html).not.toContain('<img');
  });

  it('makes bold, http(s) links and line breaks, nothing else', () => {
    expect(teamsMarkdownToHtml('**Build #42** failed\non main')).toBe(
      '<strong>Build #42</strong> failed<br>on main',
    );
    expect(teamsMarkdownToHtml('[Deploy \\<b\\> \\(x\\)](https://ci.example/b?a=1&b="2")')).toBe(
      '<a href="https://ci.example/b?a=1&amp;b=&quot;2&quot;" target="_blank" rel="noreferrer">Deploy &lt;b&gt; (x)</a>',
    );
    // A link to anything but http(s) stays text; an unclosed bold marker is shown as written.
    expect(teamsMarkdownToHtml('[click](javascript:alert(1))')).toBe('[click](javascript:alert(1))');
    expect(teamsMarkdownToHtml('**half open')).toBe('**half open');
    // Escaped markers are characters, not markup.
    expect(teamsMarkdownToHtml('\\*\\*not bold\\*\\* \\[x\\](https://a.example)')).toBe(
      '**not bold** [x](https://a.example)',
    );
  });

  it('shows any text escaped by the Teams renderer exactly as written (property)', () => {
    fc.assert(
      fc.property(markupText, (text) => {
        expect(teamsMarkdownToHtml(escapeTeamsMarkdown(text))).toBe(asHtmlText(text));
      }),
    );
  });

  it('makes no markup but its own from any text, escaped or not (property)', () => {
    fc.assert(
      fc.property(markupText, (text) => {
        const html = teamsMarkdownToHtml(text);
        expect(withoutAllowedMarkup(html)).not.toMatch(/[<>"]/);
      }),
    );
  });

  it("renders a real card's hostile texts, facts and links as written", () => {
    const message: Message = {
      tone: 'failure',
      title: `❌ ${HOSTILE} failed`,
      fallback: 'x',
      text: `**not bold** ${HOSTILE}`,
      facts: [
        { label: 'Pipeline', value: `${HOSTILE} (api)`, url: 'https://buildkite.com/acme/api?x=1&y=2' },
        { label: 'Branch', value: '[main](javascript:alert(1))' },
      ],
      links: [],
    };
    const card = renderTeams(message).attachments[0]?.content;
    const texts = (card?.body ?? []).flatMap((element) =>
      element.type === 'TextBlock' ? [element.text] : element.facts.map((f) => f.value),
    );
    const html = texts.map(teamsMarkdownToHtml);
    expect(html).toContain('❌ &lt;img src=x onerror=&quot;alert(1)&quot;&gt; failed');
    expect(html).toContain('**not bold** &lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).toContain(
      '<a href="https://buildkite.com/acme/api?x=1&amp;y=2" target="_blank" rel="noreferrer">&lt;img src=x onerror=&quot;alert(1)&quot;&gt; (api)</a>',
    );
    expect(html).toContain('[main](javascript:alert(1))');
    for (const one of html) expect(withoutAllowedMarkup(one)).not.toMatch(/[<>"]/);
  });
});
