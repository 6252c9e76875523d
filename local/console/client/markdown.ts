/**
 * Teams' markdown as HTML, for the Adaptive Cards renderer: as much of it as the cards kitebridge
 * sends use (lambda/chat-alerts/teams.ts): backslash escapes, `**bold**`, `[label](https://…)`
 * links, line breaks, and the zero-width space that keeps `{{` from being a card function. Every
 * piece of text is HTML-escaped; only http(s) links become anchors; no other markup is made.
 * Pure (no DOM), so unit tests run it as the page does.
 */
import { escapeHtml } from '../slack-html';

/** ASCII punctuation: what a CommonMark backslash escapes. */
const PUNCT = String.raw`[!-\/:-@\[-\x60{-~]`;

/**
 * One token: an escaped character, a link (its label may hold escapes, its URL no space,
 * parenthesis or angle bracket, as teams.ts encodes them), a bold marker, a line break or a
 * zero-width space. Text between tokens is plain.
 */
const TOKEN = new RegExp(
  String.raw`\\(${PUNCT})|\[((?:\\[\s\S]|[^\\\]])*)\]\((https?:\/\/[^\s()<>]+)\)|\*\*|\n|\u200b`,
  'g',
);

/** `text` (Teams markdown) as HTML: only `<strong>`, `<a href="http(s)…">` and `<br>` are markup. */
export function teamsMarkdownToHtml(text: string): string {
  const out: string[] = [];
  /** Where the open `**` is in `out`, if one is open: a marker never closed is shown as written. */
  let openBold = -1;
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const index = match.index ?? 0;
    out.push(escapeHtml(text.slice(last, index)));
    last = index + match[0].length;
    const [token, escaped, label, url] = match;
    if (escaped !== undefined) {
      out.push(escapeHtml(escaped));
    } else if (label !== undefined && url !== undefined) {
      out.push(
        `<a href="${escapeHtml(url)}" target="_blank" rel="noreferrer">${teamsMarkdownToHtml(label)}</a>`,
      );
    } else if (token === '**') {
      if (openBold < 0) {
        openBold = out.length;
        out.push('<strong>');
      } else {
        out.push('</strong>');
        openBold = -1;
      }
    } else if (token === '\n') {
      out.push('<br>');
    }
    // A zero-width space is dropped.
  }
  out.push(escapeHtml(text.slice(last)));
  if (openBold >= 0) out[openBold] = '**';
  return out.join('');
}
