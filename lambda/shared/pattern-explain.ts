/**
 * Why an event does or does not match an EventBridge pattern: the first pattern field that
 * fails, in the pattern's own order (the order the engine checks them in), with the values the
 * event holds there. Every decision is the engine's own (`matchesPattern` on the pattern's
 * parts), so an explanation never disagrees with the match itself.
 */
import { matchesPattern, validatePattern, type EventPattern } from './event-pattern';

type JsonObject = Record<string, unknown>;

/** The first field of a pattern an event failed, as people read it. */
export interface FailedField {
  /** Dotted path of the field in the pattern: `detail.build.state`, `detail.$or`. */
  readonly path: string;
  /** What the pattern asks there (a pattern array, or the `$or` branches). */
  readonly expected: unknown;
  /** The leaf values the event holds at that path (arrays crushed, as the engine sees them). */
  readonly found: readonly unknown[];
  /** One sentence: `detail.build.state is "passed"; the pattern wants ["failed"]`. */
  readonly reason: string;
  /** For `$or`: why each branch failed. */
  readonly branches?: readonly FailedField[];
}

export type PatternExplanation =
  { readonly matched: true } | { readonly matched: false; readonly failed: FailedField };

/**
 * Whether `event` matches `pattern` and, when it does not, the first field that failed.
 *
 * @throws Error with the engine's message (`Invalid event pattern at …`) if the pattern is invalid.
 */
export function explainMatch(pattern: EventPattern, event: Record<string, unknown>): PatternExplanation {
  validatePattern(pattern);
  if (matchesPattern(pattern, event)) return { matched: true };
  const failed = firstFailure(pattern, isObject(event) ? event : {}, '');
  // Unreachable while the engine's AND over fields holds; said plainly rather than guessed.
  return {
    matched: false,
    failed: failed ?? { path: '(root)', expected: pattern, found: [], reason: 'the pattern does not match' },
  };
}

/** The first field of `pattern` that `node` fails, or undefined when every field holds. */
function firstFailure(pattern: JsonObject, node: JsonObject, at: string): FailedField | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    const path = at === '' ? key : `${at}.${key}`;
    if (key === '$or' && Array.isArray(value)) {
      const branches = value.filter(isObject);
      if (branches.some((branch) => matchesPattern(branch, node))) continue;
      const why = branches.map(
        (branch, i) =>
          firstFailure(branch, node, at) ?? {
            path: `${path}[${i}]`,
            expected: branch,
            found: [],
            reason: 'the branch does not match',
          },
      );
      return {
        path,
        expected: value,
        found: [],
        reason: `no branch of ${path} matches (${why.map((w) => w.reason).join('; ')})`,
        branches: why,
      };
    }
    if (isObject(value)) {
      const objects = objectsAt(node, key);
      if (objects.some((object) => matchesPattern(value, object))) continue;
      // Where the event holds several objects (an array), the first one's failure is shown.
      const inner = firstFailure(value, objects[0] ?? {}, path);
      if (inner) return inner;
      continue;
    }
    if (matchesPattern({ [key]: value }, node)) continue;
    const found = leavesAt(node, key);
    return { path, expected: value, found, reason: describe(path, value, found, node, key) };
  }
  return undefined;
}

function describe(path: string, expected: unknown, found: readonly unknown[], node: JsonObject, key: string) {
  const wants = `the pattern wants ${JSON.stringify(expected)}`;
  if (found.length === 0) {
    const there = own(node, key);
    return there === undefined
      ? `${path} is missing; ${wants}`
      : `${path} holds no value to compare (${JSON.stringify(there)}); ${wants}`;
  }
  const shown = found.length === 1 ? JSON.stringify(found[0]) : `one of ${JSON.stringify(found)}`;
  return `${path} is ${shown}; ${wants}`;
}

/** As the engine: the object at `key`, or the objects in its (nested) array. */
function objectsAt(node: JsonObject, key: string): JsonObject[] {
  const value = own(node, key);
  return (Array.isArray(value) ? value.flat(Infinity) : [value]).filter(isObject);
}

/** As the engine: the leaf values at `key`, arrays crushed. */
function leavesAt(node: JsonObject, key: string): unknown[] {
  const value = own(node, key);
  return (Array.isArray(value) ? value.flat(Infinity) : [value]).filter(
    (v) => v === null || typeof v === 'string' || typeof v === 'boolean' || Number.isFinite(v),
  );
}

function own(node: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
