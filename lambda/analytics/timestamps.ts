/** `2018-07-01 20:14:38 UTC`, the second format Buildkite sends (agent events, native EventBridge). */
const BUILDKITE_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?) UTC$/;
/** ISO-8601 with a zone: `Z` or an offset. Anything without a zone is refused, never read as local time. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses either timestamp format Buildkite uses (`2026-06-03T04:15:41.618Z`,
 * `2018-07-01 20:14:38 UTC`) into epoch milliseconds; anything else (null, empty, no zone,
 * impossible dates) gives null.
 */
export function parseBuildkiteTime(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  let iso: string | undefined;
  const utc = BUILDKITE_UTC.exec(text);
  if (utc) iso = `${utc[1]}T${utc[2]}Z`;
  else if (ISO_WITH_ZONE.test(text)) iso = text;
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** {@link parseBuildkiteTime}, as an ISO-8601 UTC string with milliseconds. */
export function normaliseTime(value: unknown): string | null {
  const ms = parseBuildkiteTime(value);
  return ms === null ? null : new Date(ms).toISOString();
}

/** Seconds from `from` to `to` (either format); null when either is missing or `to` is earlier. */
export function secondsBetween(from: unknown, to: unknown): number | null {
  const start = parseBuildkiteTime(from);
  const end = parseBuildkiteTime(to);
  if (start === null || end === null || end < start) return null;
  return (end - start) / 1000;
}
