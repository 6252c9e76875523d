/**
 * Microsoft Teams rendering: an Adaptive Card in the envelope Teams Workflows webhooks accept,
 * kept under the ~28 KB message limit. Long texts are cut visibly (`…`); if the card is still too
 * large, the longest text is halved until it fits.
 *
 * TextBlocks and facts are markdown in Teams, so every text that came from a body (commit
 * message, branch, names, test names…) is escaped to render literally; only the links kitebridge
 * builds itself, to http(s) URLs, are markdown links.
 */
import type { Message, Tone } from './alert-message';
import { ELLIPSIS, fitLines, truncate, truncateEscaped } from './truncate';

/** Teams rejects messages over about 28 KB; stay a little below. */
export const TEAMS_MAX_BYTES = 28 * 1024 - 512;

/** Per-text caps, so one long commit subject cannot crowd out the rest. */
const TEAMS_TEXT_LIMITS = { title: 300, text: 4000, factValue: 1000, list: 6000 } as const;

type CardElement =
  | {
      type: 'TextBlock';
      text: string;
      wrap: true;
      weight?: 'Bolder';
      size?: 'Medium' | 'Small';
      color?: 'Attention' | 'Good' | 'Warning' | 'Accent' | 'Default';
      isSubtle?: boolean;
      spacing?: 'Medium';
    }
  | { type: 'FactSet'; facts: { title: string; value: string }[] };

/** The JSON body posted to a Teams Workflows webhook. */
export interface TeamsPayload {
  readonly type: 'message';
  readonly attachments: readonly {
    readonly contentType: 'application/vnd.microsoft.card.adaptive';
    readonly contentUrl: null;
    readonly content: {
      readonly $schema: string;
      readonly type: 'AdaptiveCard';
      readonly version: '1.4';
      readonly body: CardElement[];
      readonly actions: { type: 'Action.OpenUrl'; title: string; url: string }[];
      readonly msteams: { readonly width: 'Full' };
    };
  }[];
}

const COLORS: Record<Tone, 'Attention' | 'Good' | 'Warning' | 'Accent'> = {
  failure: 'Attention',
  warning: 'Warning',
  success: 'Good',
  info: 'Accent',
};

/**
 * Text escaped so that Teams' markdown shows it as written: a backslash before every character
 * that opens or closes inline markdown anywhere (`\\` `*` `_` `` ` `` `~` `[` `]` `<` `>` `|`, a `(`
 * right after `]`, the `&` of an entity such as `&lt;`), before the marker of a block a line could
 * start (`#` heading, `-` `+` `=` list or rule, `1.` `1)` list), and a zero-width space inside
 * `{{`, which Adaptive Cards would read as a `{{DATE(…)}}` function. CommonMark defines a
 * backslash before ASCII punctuation as that character, literally.
 */
export function escapeTeamsMarkdown(text: string): string {
  return text
    .replace(/[\\`*_~[\]<>|]|(?<=\])\(|&(?=#?\w+;)/g, '\\$&')
    .replace(/\{\{/g, '{\u200b{')
    .replace(
      /^([ \t]{0,3})(#{1,6}(?=[ \t]|$)|[-+=](?=[ \t]|$|[-=])|\d{1,9}(?=[.)](?:[ \t]|$)))/gm,
      (_m, indent: string, marker: string) =>
        /^\d/.test(marker) ? `${indent}${marker}\\` : `${indent}\\${marker}`,
    );
}

/** `text` escaped and cut to about `max` characters. */
function safe(text: string, max: number): string {
  return truncateEscaped(text, max, escapeTeamsMarkdown);
}

function isWebUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** A link label: escaped, parentheses too (some Teams clients end a label at the first `)`). */
function escapeLabel(text: string): string {
  return escapeTeamsMarkdown(text).replace(/(\\*)([()])/g, (match, slashes: string, paren: string) =>
    slashes.length % 2 === 1 ? match : `${slashes}\\${paren}`,
  );
}

/** `[label](url)` with the label escaped; plain escaped text when the URL is not http(s). */
function mdLink(text: string, url: string | undefined, max: number): string {
  if (!url || !isWebUrl(url)) return safe(text, max);
  return `[${truncateEscaped(text, max, escapeLabel)}](${url.replace(/[()<>\s]/g, encodeURIComponent)})`;
}

/** Renders a message as a Teams Workflows payload (an Adaptive Card). */
export function renderTeams(message: Message): TeamsPayload {
  const body: CardElement[] = [
    {
      type: 'TextBlock',
      text: safe(message.title, TEAMS_TEXT_LIMITS.title),
      wrap: true,
      weight: 'Bolder',
      size: 'Medium',
      color: COLORS[message.tone],
    },
  ];
  if (message.text)
    body.push({ type: 'TextBlock', text: safe(message.text, TEAMS_TEXT_LIMITS.text), wrap: true });
  if (message.facts.length > 0) {
    body.push({
      type: 'FactSet',
      facts: message.facts.slice(0, 20).map((f) => ({
        title: safe(f.label, 100),
        value: mdLink(f.value, f.url, TEAMS_TEXT_LIMITS.factValue),
      })),
    });
  }
  if (message.list) {
    const { heading, items, more } = message.list;
    const lines = items.map(
      (item) => `- ${mdLink(item.text, item.url, 500)}${item.detail ? ` (${safe(item.detail, 200)})` : ''}`,
    );
    body.push({ type: 'TextBlock', text: `**${safe(heading, 200)}**`, wrap: true, spacing: 'Medium' });
    body.push({ type: 'TextBlock', text: fitLines(lines, TEAMS_TEXT_LIMITS.list, more), wrap: true });
  }
  body.push({ type: 'TextBlock', text: 'Sent by kitebridge', wrap: true, isSubtle: true, size: 'Small' });
  const payload: TeamsPayload = {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          // Action titles are plain text, not markdown.
          actions: message.links
            .filter((l) => isWebUrl(l.url))
            .slice(0, 5)
            .map((l) => ({ type: 'Action.OpenUrl', title: truncate(l.text, 100), url: l.url })),
          msteams: { width: 'Full' },
        },
      },
    ],
  };
  shrinkToFit(body, () => payloadBytes(payload));
  return payload;
}

/** Byte size of a payload as posted. */
export function payloadBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload));
}

/** Halves the longest text (text blocks and fact values) until the payload fits TEAMS_MAX_BYTES. */
function shrinkToFit(body: CardElement[], size: () => number): void {
  while (size() > TEAMS_MAX_BYTES) {
    let longest: { get: () => string; set: (s: string) => void } | undefined;
    let longestLength = 0;
    for (const element of body) {
      const candidates =
        element.type === 'TextBlock'
          ? [{ get: () => element.text, set: (s: string) => (element.text = s) }]
          : element.facts.map((fact) => ({ get: () => fact.value, set: (s: string) => (fact.value = s) }));
      for (const c of candidates) {
        const length = Buffer.byteLength(c.get());
        if (length > longestLength) {
          longest = c;
          longestLength = length;
        }
      }
    }
    if (!longest || longestLength < 16) return;
    longest.set(cutMarkdown(longest.get(), Math.floor([...longest.get()].length / 2)));
  }
}

/** The index of the last `[` in escaped text that no backslash escapes: a link kitebridge built. */
function lastLinkStart(text: string): number {
  let last = -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '[') last = i;
  }
  return last;
}

/**
 * Escaped text cut like `truncate`, without splitting a link (it would show its bracket and half
 * its URL) or leaving a lone backslash to escape the `…`.
 */
function cutMarkdown(text: string, max: number): string {
  const cut = truncate(text, max);
  if (cut === text) return text;
  let kept = cut.slice(0, -ELLIPSIS.length);
  const link = lastLinkStart(kept);
  if (link >= 0 && !/^\[(?:\\.|[^\\\]])*\]\([^)\s]*\)/.test(kept.slice(link))) kept = kept.slice(0, link);
  const backslashes = /\\*$/.exec(kept)?.[0].length ?? 0;
  return (backslashes % 2 === 1 ? kept.slice(0, -1) : kept) + ELLIPSIS;
}
