/** Marks text shortened to fit a service limit, so readers see that something was cut. */
export const ELLIPSIS = '…';

/** `text` cut to at most `max` characters (code points kept whole), ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join('') + ELLIPSIS;
}

/**
 * Raw text cut so that its escaped form fits `max` characters, ending in `…` when cut: escaping
 * (`&` → `&amp;`) grows text, so cutting the escaped form could split an entity.
 */
export function truncateEscaped(raw: string, max: number, escape: (s: string) => string): string {
  let limit = Math.min([...raw].length, max);
  let out = escape(truncate(raw, limit));
  while (out.length > max && limit > 1) {
    limit = Math.max(1, limit - Math.max(1, out.length - max));
    out = escape(truncate(raw, limit));
  }
  return out;
}

/**
 * Joins lines with `\n` within `max` characters; lines that do not fit are dropped and counted
 * in a closing `…and N more` line.
 */
export function fitLines(lines: readonly string[], max: number, more = 0): string {
  const kept: string[] = [];
  let dropped = more;
  const moreLine = (n: number) => `${ELLIPSIS}and ${n} more`;
  for (const [i, line] of lines.entries()) {
    const remaining = lines.length - i - 1 + dropped;
    const candidate = [...kept, line].join('\n');
    const reserve = remaining > 0 ? moreLine(remaining + 1).length + 1 : 0;
    if (candidate.length + reserve <= max) kept.push(line);
    else {
      dropped += lines.length - i;
      break;
    }
  }
  if (dropped > 0) kept.push(moreLine(dropped));
  return truncate(kept.join('\n'), max);
}
