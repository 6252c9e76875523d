/**
 * Microsoft Teams rendering: an Adaptive Card in the envelope Teams Workflows webhooks accept,
 * kept under the ~28 KB message limit. Long texts are cut visibly (`…`); if the card is still too
 * large, the longest text is halved until it fits.
 */
import type { Message, Tone } from './message';
import { fitLines, truncate } from './truncate';

/** Teams rejects messages over about 28 KB; stay a little below. */
export const TEAMS_MAX_BYTES = 28 * 1024 - 512;

/** Per-text caps, so one long commit subject cannot crowd out the rest. */
export const TEAMS_TEXT_LIMITS = { title: 300, text: 4000, factValue: 1000, list: 6000 } as const;

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

/** Adaptive Card markdown: brackets would break `[text](url)`, so they are swapped for parentheses. */
function linkText(text: string): string {
  return text.replace(/\[/g, '(').replace(/\]/g, ')');
}

function mdLink(text: string, url: string | undefined): string {
  return url ? `[${linkText(text)}](${url.replace(/[()\s]/g, encodeURIComponent)})` : text;
}

/** Renders a message as a Teams Workflows payload (an Adaptive Card). */
export function renderTeams(message: Message): TeamsPayload {
  const body: CardElement[] = [
    {
      type: 'TextBlock',
      text: truncate(message.title, TEAMS_TEXT_LIMITS.title),
      wrap: true,
      weight: 'Bolder',
      size: 'Medium',
      color: COLORS[message.tone],
    },
  ];
  if (message.text)
    body.push({ type: 'TextBlock', text: truncate(message.text, TEAMS_TEXT_LIMITS.text), wrap: true });
  if (message.facts.length > 0) {
    body.push({
      type: 'FactSet',
      facts: message.facts.slice(0, 20).map((f) => ({
        title: truncate(f.label, 100),
        value: mdLink(truncate(f.value, TEAMS_TEXT_LIMITS.factValue), f.url),
      })),
    });
  }
  if (message.list) {
    const { heading, items, more } = message.list;
    const lines = items.map(
      (item) => `- ${mdLink(truncate(item.text, 500), item.url)}${item.detail ? ` (${item.detail})` : ''}`,
    );
    body.push({ type: 'TextBlock', text: `**${heading}**`, wrap: true, spacing: 'Medium' });
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
          actions: message.links
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
    longest.set(truncate(longest.get(), Math.floor([...longest.get()].length / 2)));
  }
}
