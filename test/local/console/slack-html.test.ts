import { renderSlack } from '../../../lambda/chat-alerts/slack';
import { mrkdwnToHtml, slackToHtml } from '../../../local/console/slack-html';

describe('slackToHtml', () => {
  it('renders every block type the chat alerts send, from a real rendered message', () => {
    const payload = renderSlack({
      tone: 'failure',
      title: '❌ Deploy API #1042 on main failed',
      fallback: 'Deploy API #1042 failed',
      text: 'Retry <S3> uploads & log',
      facts: [
        { label: 'Pipeline', value: 'Deploy API', url: 'https://buildkite.com/acme/deploy-api' },
        { label: 'Branch', value: 'main' },
      ],
      list: { heading: 'Failed jobs', items: [{ text: ':jest: Unit tests', detail: 'exit 1' }], more: 0 },
      links: [{ text: 'Open build', url: 'https://buildkite.com/acme/deploy-api/builds/1042' }],
    });
    const html = slackToHtml(payload);
    expect(html).toContain('<div class="sk-header">❌ Deploy API #1042 on main failed</div>');
    // Slack's escapes come back as characters, HTML-escaped once.
    expect(html).toContain('Retry &lt;S3&gt; uploads &amp; log');
    expect(html).toContain('<strong>Pipeline</strong>');
    expect(html).toContain(
      '<a href="https://buildkite.com/acme/deploy-api" target="_blank" rel="noreferrer">Deploy API</a>',
    );
    expect(html).toContain('<div class="sk-fields">');
    expect(html).toContain('• :jest: Unit tests (exit 1)');
    expect(html).toContain(
      '<div class="sk-actions"><a href="https://buildkite.com/acme/deploy-api/builds/1042"',
    );
    expect(html).toContain('<div class="sk-context">Sent by kitebridge</div>');
  });

  it('never lets text become markup, and links only http(s)', () => {
    const html = slackToHtml({
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '<img src=x onerror=alert(1)>' } },
        { type: 'section', text: { type: 'mrkdwn', text: '&lt;script&gt; <javascript:alert(1)|click> "q"' } },
        {
          type: 'actions',
          elements: [{ type: 'button', text: { type: 'plain_text', text: 'x' }, url: 'javascript:1' }],
        },
        { type: 'video' },
      ],
    });
    expect(html).not.toMatch(/<img|<script|href="javascript/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;script&gt; click &quot;q&quot;');
    expect(html).toContain('(a video block)');
  });

  it('renders mrkdwn emphasis and code, and the fallback text without blocks', () => {
    expect(mrkdwnToHtml('*bold* _it_ ~gone~ `a<b`\nnext')).toBe(
      '<strong>bold</strong> <em>it</em> <s>gone</s> <code>a&lt;b</code><br>next',
    );
    expect(slackToHtml({ text: 'only *text*' })).toBe(
      '<div class="sk-section">only <strong>text</strong></div>',
    );
  });
});
