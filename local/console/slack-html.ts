/**
 * A Slack Block Kit payload as HTML, for the console: the block types kitebridge sends
 * (lambda/chat-alerts/slack.ts: header, section with text or fields, context, actions with link
 * buttons) and the mrkdwn they use (`*bold*`, `_italic_`, `~strike~`, `` `code` ``, `<url|text>`
 * links, the `&amp;` `&lt;` `&gt;` escapes). Every piece of text is HTML-escaped; only http(s)
 * links become anchors. Other block types are named, not rendered.
 */

interface TextObject {
  readonly type?: string;
  readonly text?: unknown;
}

interface Block {
  readonly type?: unknown;
  readonly text?: TextObject;
  readonly fields?: readonly TextObject[];
  readonly elements?: readonly (TextObject & { readonly url?: unknown })[];
}

/** Text as HTML text or a double-quoted attribute value: `&`, `<`, `>`, `"` and `'` escaped. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Slack's three escapes back to characters (the text is then HTML-escaped as a whole). */
function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const INLINE: readonly [RegExp, string][] = [
  [/`([^`\n]+)`/g, 'code'],
  [/(^|[\s(])\*([^*\n]+)\*(?=$|[\s.,;:!?)])/g, 'strong'],
  [/(^|[\s(])_([^_\n]+)_(?=$|[\s.,;:!?)])/g, 'em'],
  [/(^|[\s(])~([^~\n]+)~(?=$|[\s.,;:!?)])/g, 's'],
];

/** Bold, italic, strike and code on text that is already HTML-escaped (the markers are not escaped). */
function inline(escaped: string): string {
  return INLINE.reduce(
    (out, [pattern, tag]) =>
      out.replace(pattern, (...groups: string[]) =>
        tag === 'code' ? `<code>${groups[1]}</code>` : `${groups[1]}<${tag}>${groups[2]}</${tag}>`,
      ),
    escaped,
  );
}

/** One mrkdwn text as HTML. */
export function mrkdwnToHtml(text: string): string {
  const out: string[] = [];
  const link = /<([^<>|]+)(?:\|([^<>]*))?>/g;
  let last = 0;
  for (const match of text.matchAll(link)) {
    out.push(inline(escapeHtml(unescapeSlack(text.slice(last, match.index)))));
    const url = unescapeSlack(match[1] as string);
    const label = unescapeSlack(match[2] ?? url);
    out.push(
      /^https?:\/\//i.test(url)
        ? `<a href="${escapeHtml(url)}" target="_blank" rel="noreferrer">${escapeHtml(label)}</a>`
        : escapeHtml(label),
    );
    last = (match.index ?? 0) + match[0].length;
  }
  out.push(inline(escapeHtml(unescapeSlack(text.slice(last)))));
  return out.join('').replace(/\n/g, '<br>');
}

function textHtml(object: TextObject | undefined): string {
  if (!object || typeof object.text !== 'string') return '';
  return object.type === 'mrkdwn' ? mrkdwnToHtml(object.text) : escapeHtml(object.text);
}

/** A Slack incoming-webhook payload (`{ text, blocks }`) as HTML; the fallback text without blocks. */
export function slackToHtml(payload: unknown): string {
  const { blocks, text } = (payload ?? {}) as { blocks?: unknown; text?: unknown };
  if (!Array.isArray(blocks) || blocks.length === 0) {
    return `<div class="sk-section">${typeof text === 'string' ? mrkdwnToHtml(text) : ''}</div>`;
  }
  return (blocks as Block[])
    .map((block) => {
      switch (block.type) {
        case 'header':
          return `<div class="sk-header">${textHtml(block.text)}</div>`;
        case 'section': {
          const body = block.text ? `<div>${textHtml(block.text)}</div>` : '';
          const fields = block.fields?.length
            ? `<div class="sk-fields">${block.fields.map((f) => `<div>${textHtml(f)}</div>`).join('')}</div>`
            : '';
          return `<div class="sk-section">${body}${fields}</div>`;
        }
        case 'context':
          return `<div class="sk-context">${(block.elements ?? []).map((e) => textHtml(e)).join(' ')}</div>`;
        case 'actions':
          return `<div class="sk-actions">${(block.elements ?? [])
            .map((e) =>
              typeof e.url === 'string' && /^https?:\/\//i.test(e.url)
                ? `<a href="${escapeHtml(e.url)}" target="_blank" rel="noreferrer">${textHtml(e.text as TextObject)}</a>`
                : `<span>${textHtml(e.text as TextObject)}</span>`,
            )
            .join('')}</div>`;
        default:
          return `<div class="sk-context">(a ${escapeHtml(String(block.type))} block)</div>`;
      }
    })
    .join('');
}
