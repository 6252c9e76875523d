import type { Message } from './alert-message';

/** A message as readable terminal text (local mode): title, facts, list, links. */
export function renderText(message: Message): string {
  const lines = [message.title];
  if (message.text) lines.push(`  ${message.text}`);
  const width = Math.max(0, ...message.facts.map((f) => f.label.length));
  for (const fact of message.facts) {
    lines.push(`  ${fact.label.padEnd(width)}  ${fact.value}${fact.url ? `  <${fact.url}>` : ''}`);
  }
  if (message.list) {
    lines.push(`  ${message.list.heading}:`);
    for (const item of message.list.items) {
      lines.push(
        `    - ${item.text}${item.detail ? ` (${item.detail})` : ''}${item.url ? `  <${item.url}>` : ''}`,
      );
    }
    if (message.list.more > 0) lines.push(`    …and ${message.list.more} more`);
  }
  for (const link of message.links) lines.push(`  ${link.text}: ${link.url}`);
  return lines.join('\n');
}
