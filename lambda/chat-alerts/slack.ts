/**
 * Slack rendering: Block Kit blocks plus a plain-text `text` fallback (what notifications show),
 * within Slack's limits. Text that would exceed a limit is cut visibly (`…`), never left for Slack
 * to reject with `invalid_blocks`.
 */
import type { Message } from './alert-message';
import { fitLines, truncate, truncateEscaped } from './truncate';

/** Slack's documented limits for the blocks used here. */
export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  contextText: 3000,
  buttonText: 75,
  actionsElements: 25,
  /** Slack truncates `text` beyond 40,000 characters; notifications show far less. */
  fallbackText: 3000,
} as const;

export type SlackTextObject =
  | { readonly type: 'plain_text'; readonly text: string; readonly emoji?: boolean }
  | { readonly type: 'mrkdwn'; readonly text: string };

export type SlackBlock =
  | { readonly type: 'header'; readonly text: SlackTextObject }
  | {
      readonly type: 'section';
      readonly text?: SlackTextObject;
      readonly fields?: readonly SlackTextObject[];
    }
  | { readonly type: 'context'; readonly elements: readonly SlackTextObject[] }
  | {
      readonly type: 'actions';
      readonly elements: readonly {
        readonly type: 'button';
        readonly text: SlackTextObject;
        readonly url: string;
      }[];
    };

/** The JSON body posted to a Slack incoming webhook. */
export interface SlackPayload {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `<url|text>` with the text escaped (and `|`, which would end it, replaced) and cut to `max`. */
function link(text: string, url: string | undefined, max: number): string {
  const safeUrl = url?.replace(/[<>|\s]/g, encodeURIComponent);
  if (!safeUrl) return truncateEscaped(text, max, escapeMrkdwn);
  const label = truncateEscaped(
    text.replace(/\|/g, '¦'),
    Math.max(8, max - safeUrl.length - 3),
    escapeMrkdwn,
  );
  return `<${safeUrl}|${label}>`;
}

/** Renders a message as a Slack incoming-webhook payload. */
export function renderSlack(message: Message): SlackPayload {
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(message.title, SLACK_LIMITS.headerText), emoji: true },
    },
  ];
  if (message.text) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncateEscaped(message.text, SLACK_LIMITS.sectionText, escapeMrkdwn) },
    });
  }
  if (message.facts.length > 0) {
    blocks.push({
      type: 'section',
      fields: message.facts.slice(0, SLACK_LIMITS.fields).map((fact) => {
        const label = `*${truncateEscaped(fact.label, 100, escapeMrkdwn)}*\n`;
        return {
          type: 'mrkdwn',
          text: label + link(fact.value, fact.url, SLACK_LIMITS.fieldText - label.length),
        };
      }),
    });
  }
  if (message.list) {
    const { heading, items, more } = message.list;
    const head = `*${escapeMrkdwn(heading)}*`;
    const lines = items.map(
      (item) => `• ${link(item.text, item.url, 500)}${item.detail ? ` (${escapeMrkdwn(item.detail)})` : ''}`,
    );
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: fitLines([head, ...lines], SLACK_LIMITS.sectionText, more) },
    });
  }
  if (message.links.length > 0) {
    blocks.push({
      type: 'actions',
      elements: message.links.slice(0, SLACK_LIMITS.actionsElements).map((l) => ({
        type: 'button',
        text: { type: 'plain_text', text: truncate(l.text, SLACK_LIMITS.buttonText) },
        url: l.url,
      })),
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Sent by kitebridge' }] });
  return {
    text: truncateEscaped(message.fallback, SLACK_LIMITS.fallbackText, escapeMrkdwn),
    blocks: clampBlocks(blocks),
  };
}

/** Keeps at most 50 blocks; the last one says how many were left out. */
function clampBlocks(blocks: SlackBlock[]): SlackBlock[] {
  if (blocks.length <= SLACK_LIMITS.blocks) return blocks;
  const kept = blocks.slice(0, SLACK_LIMITS.blocks - 1);
  const omitted = blocks.length - kept.length;
  return [
    ...kept,
    { type: 'context', elements: [{ type: 'mrkdwn', text: `…${omitted} more blocks omitted` }] },
  ];
}
