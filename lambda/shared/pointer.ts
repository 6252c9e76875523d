/**
 * Pointer events: what is published in place of a delivery too large for an EventBridge entry.
 *
 * A rule can only match on the values at the paths its pattern names, so a pointer that
 * carries, unchanged, the value at every path any rule on the bus names matches exactly the
 * rules the full event would. The stack computes those paths at synth from every rule attached
 * to the bus (`ROUTING_PATHS`), local mode from its local rules; a baseline is always kept for
 * rules attached outside the stack.
 */
import type { BuildkiteDetail, DeliveryMetadata } from './contract';

/** A path into `detail`, one key per level (a key may itself contain dots). */
export type DetailPath = readonly string[];

/**
 * Fields every pointer keeps even when no rule names them: what people usually route on, for
 * rules added outside the stack (console, another app). Trigger pointers keep `trigger` and
 * `headers` whole.
 */
export const BASELINE_ROUTING_PATHS: readonly DetailPath[] = [
  ['event'],
  ['type'],
  ...['id', 'number', 'state', 'branch', 'blocked', 'source', 'web_url'].map((f) => ['build', f]),
  ...['id', 'name', 'step_key', 'state', 'exit_status', 'type', 'soft_failed', 'agent_query_rules'].map(
    (f) => ['job', f],
  ),
  ...['id', 'slug', 'name'].map((f) => ['pipeline', f]),
  ...['id', 'name', 'connection_state', 'meta_data'].map((f) => ['agent', f]),
  ...['id', 'name'].map((f) => ['package', f]),
  ...['id', 'slug'].map((f) => ['organization', f]),
];

/** A prefix tree of paths; a node with `leaf` keeps its whole value. */
export interface PathTrie {
  leaf: boolean;
  readonly children: Map<string, PathTrie>;
}

const node = (): PathTrie => ({ leaf: false, children: new Map() });

/** The tree of `paths`, built once per cold start. */
export function routingTrie(paths: Iterable<DetailPath>): PathTrie {
  const root = node();
  for (const path of paths) {
    let at = root;
    for (const key of path) {
      let next = at.children.get(key);
      if (!next) at.children.set(key, (next = node()));
      at = next;
    }
    at.leaf = true;
  }
  return root;
}

const own = (value: object, key: string) => Object.prototype.hasOwnProperty.call(value, key);

/**
 * `value` reduced to the named paths, keeping the shape a pattern walks: objects keep only named
 * keys; arrays keep every element (EventBridge matches a path through an array on each of its
 * elements); a named path's value, or a scalar where the path expected an object, is kept whole.
 */
export function project(value: unknown, trie: PathTrie): unknown {
  if (trie.leaf || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((element) => project(element, trie));
  const out: Record<string, unknown> = {};
  for (const [key, child] of trie.children) {
    if (own(value, key)) out[key] = project((value as Record<string, unknown>)[key], child);
  }
  return out;
}

/** The detail of a Buildkite pointer event: the body projected on the routing paths, plus `delivery`. */
export function pointerDetail(
  body: Record<string, unknown>,
  delivery: DeliveryMetadata,
  trie: PathTrie,
): BuildkiteDetail {
  return { ...(project(body, trie) as Record<string, unknown>), delivery } as BuildkiteDetail;
}

/** Parses `ROUTING_PATHS` (a JSON array of key arrays), failing fast with the variable's name. */
export function parseRoutingPaths(raw: string | undefined): DetailPath[] {
  if (raw === undefined || raw === '') return [];
  const parsed: unknown = JSON.parse(raw);
  if (
    !Array.isArray(parsed) ||
    !parsed.every((p) => Array.isArray(p) && p.every((k) => typeof k === 'string'))
  ) {
    throw new Error('ROUTING_PATHS must be a JSON array of arrays of keys, e.g. [["build","state"]].');
  }
  return parsed as DetailPath[];
}
