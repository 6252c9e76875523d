/**
 * Amazon EventBridge event-pattern matching: the local bus matches with it, and the CDK app
 * validates rule patterns and reads their detail paths with it.
 *
 * Semantics follow the EventBridge user guide ("Creating event patterns", "Comparison operators for
 * use in event patterns", arrays, null values and empty strings) and, where the guide is silent,
 * aws/event-ruler, the open-source matcher EventBridge is built on. Validation messages reuse
 * event-ruler's wording (what EventBridge returns after "Event pattern is not valid. Reason: "),
 * prefixed with the path of the offending field.
 *
 * Model: an event is seen as a tree whose leaves are strings, numbers, booleans and null. A pattern
 * leaf (an array) is matched against every leaf value found at its path, with arrays in the event
 * "crushed" (their elements become values of the field). Nested pattern objects match inside one
 * event object; where the event holds an array of objects, they must match within one element.
 */
import * as ipaddr from 'ipaddr.js';

/** An EventBridge event pattern in its JSON form (`{ "detail-type": [...], "detail": {...} }`). */
export type EventPattern = Record<string, unknown>;

type JsonObject = Record<string, unknown>;
type Leaf = string | number | boolean | null;
type ObjectMatcher = (node: JsonObject) => boolean;
type LeafTest = (value: Leaf) => boolean;
/** One element of a pattern array: either an existence check or a test on a single leaf value. */
type Condition = { readonly exists: boolean } | { readonly test: LeafTest };

const OR = '$or';

/** event-ruler compares numbers within ±5e9, to six decimal places. */
const NUMERIC_LIMIT = 5e9;

/** Operator names event-ruler refuses as field names inside `$or` (so a typo cannot hide an operator). */
const RESERVED_IN_OR = new Set([
  'exactly',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

/**
 * Throws if EventBridge would reject the pattern (PutRule / TestEventPattern answer
 * `InvalidEventPatternException`). The message names the offending path, e.g.
 * `Invalid event pattern at detail.build.state[0]: prefix match pattern must be a string`.
 *
 * Checked: the pattern is a non-empty object; every field is an object or a non-empty array;
 * array elements are strings, numbers, booleans, null or one-key operator objects; operator
 * arguments are well formed (numeric operator sequences and ranges, CIDR blocks, wildcard
 * escapes and `**`, anything-but forms, prefix/suffix/equals-ignore-case strings, exists
 * booleans); `$or` is an array of at least two non-empty objects.
 */
export function validatePattern(pattern: unknown): void {
  compilePattern(pattern);
}

/**
 * True if `event` (a full EventBridge envelope: `version`, `id`, `detail-type`, `source`,
 * `account`, `time`, `region`, `resources`, `detail`) matches `pattern`, as EventBridge decides.
 * Every field of the pattern must match (AND); the values listed for a field are alternatives (OR).
 *
 * @throws Error if the pattern is invalid (see {@link validatePattern}).
 */
export function matchesPattern(pattern: EventPattern, event: Record<string, unknown>): boolean {
  return compilePattern(pattern)(isObject(event) ? event : {});
}

/**
 * Every path under `detail` that `pattern` matches on (through `$or` branches too), one key per
 * level: the fields an event must keep for this pattern to match it the same way. Expects a
 * valid pattern.
 */
export function detailPaths(pattern: EventPattern): string[][] {
  const paths: string[][] = [];
  const walk = (node: JsonObject, at: string[]) => {
    for (const [key, value] of Object.entries(node)) {
      if (key === OR && Array.isArray(value)) {
        for (const branch of value) if (isObject(branch)) walk(branch, at);
      } else if (isObject(value)) {
        walk(value, [...at, key]);
      } else {
        paths.push([...at, key]);
      }
    }
  };
  walk(pattern as JsonObject, []);
  return paths.filter((path) => path[0] === 'detail' && path.length > 1).map((path) => path.slice(1));
}

// ---------------------------------------------------------------------------------------------
// Structure: objects, $or, field arrays

function compilePattern(pattern: unknown): ObjectMatcher {
  if (!isObject(pattern)) fail('', 'Filter is not an object');
  return compileObject(pattern, '', false);
}

function compileObject(pattern: JsonObject, path: string, insideOr: boolean): ObjectMatcher {
  const entries = Object.entries(pattern);
  if (entries.length === 0) fail(path, 'Empty objects are not allowed');
  const checks = entries.map(([key, value]): ObjectMatcher => {
    if (key === OR) return compileOr(value, join(path, OR));
    const fieldPath = join(path, key);
    if (insideOr && RESERVED_IN_OR.has(key)) {
      fail(fieldPath, `${key} is Ruler reserved fieldName which cannot be used inside ${OR}.`);
    }
    if (isObject(value)) {
      const nested = compileObject(value, fieldPath, insideOr);
      return (node) => objectsAt(node, key).some(nested);
    }
    if (Array.isArray(value)) {
      const field = compileField(value, fieldPath);
      return (node) => field(leavesAt(node, key));
    }
    return fail(fieldPath, `"${key}" must be an object or an array`);
  });
  return (node) => checks.every((check) => check(node));
}

/** `"$or": [p1, p2, ...]`: the object matches if any branch does (branches are relative to it). */
function compileOr(value: unknown, path: string): ObjectMatcher {
  if (!Array.isArray(value)) fail(path, `It must be an Array followed with ${OR}.`);
  const branches = value.map((branch, i) => {
    if (!isObject(branch)) {
      fail(`${path}[${i}]`, `Only JSON object is allowed in array of ${OR} relationship.`);
    }
    return compileObject(branch, `${path}[${i}]`, true);
  });
  if (branches.length < 2) fail(path, `There must have at least 2 Objects in ${OR} relationship.`);
  return (node) => branches.some((branch) => branch(node));
}

/** A pattern array: matches if any condition holds for the values found at the field. */
function compileField(values: unknown[], path: string): (found: Leaf[]) => boolean {
  if (values.length === 0) fail(path, 'Empty arrays are not allowed');
  const conditions = values.map((value, i) => compileCondition(value, `${path}[${i}]`));
  return (found) => {
    const present = found.length > 0;
    return conditions.some((c) => ('exists' in c ? c.exists === present : found.some(c.test)));
  };
}

function compileCondition(value: unknown, path: string): Condition {
  if (isLeaf(value)) return { test: exactMatch(value) };
  if (!isObject(value)) fail(path, 'Match value must be String, number, true, false, or null');
  const keys = Object.keys(value);
  const [operator] = keys;
  if (operator === undefined) fail(path, 'Match expression name not found');
  if (keys.length > 1) fail(path, 'Only one key allowed in match expression');
  const argument = value[operator];
  switch (operator) {
    case 'exists':
      return { exists: existsArgument(argument, path) };
    case 'prefix':
      return { test: affixMatch('Prefix', argument, path) };
    case 'suffix':
      return { test: affixMatch('Suffix', argument, path) };
    case 'equals-ignore-case':
      return { test: equalsIgnoreCaseMatch(argument, path) };
    case 'wildcard':
      return { test: wildcardMatch(argument, path) };
    case 'anything-but':
      return { test: anythingButMatch(argument, path) };
    case 'numeric':
      return { test: numericMatch(argument, path) };
    case 'cidr':
      return { test: cidrMatch(argument, path) };
    default:
      return fail(path, `Unrecognized match type ${operator}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Operators: one function each, returning a test on a single leaf value

/** `"x"`, `5`, `true`, `null`: same type and value (numbers compare numerically; "5" is not 5). */
function exactMatch(expected: Leaf): LeafTest {
  if (typeof expected === 'number')
    return (value) => typeof value === 'number' && numbersEqual(expected, value);
  return (value) => value === expected;
}

/** `{ "exists": true | false }`: whether the field has any leaf value. */
function existsArgument(argument: unknown, path: string): boolean {
  if (typeof argument !== 'boolean') fail(path, 'exists match pattern must be either true or false.');
  return argument;
}

/**
 * `{ "prefix": "us-" }` or `{ "prefix": { "equals-ignore-case": "EventB" } }`, and the same for
 * `suffix` (`".png"`, `{ "equals-ignore-case": ".PNG" }`).
 */
function affixMatch(name: 'Prefix' | 'Suffix', argument: unknown, path: string): LeafTest {
  const has =
    name === 'Prefix'
      ? (value: string, affix: string) => value.startsWith(affix)
      : (value: string, affix: string) => value.endsWith(affix);
  if (isObject(argument)) {
    const affix = lowerCase(ignoreCaseArgument(argument, name, path));
    return (value) => typeof value === 'string' && has(lowerCase(value), affix);
  }
  if (typeof argument !== 'string') fail(path, `${name.toLowerCase()} match pattern must be a string`);
  return (value) => typeof value === 'string' && has(value, argument);
}

/** `{ "equals-ignore-case": "Alice" }`. */
function equalsIgnoreCaseMatch(argument: unknown, path: string): LeafTest {
  if (typeof argument !== 'string') fail(path, 'equals-ignore-case match pattern must be a string');
  const expected = lowerCase(argument);
  return (value) => typeof value === 'string' && lowerCase(value) === expected;
}

/** `{ "wildcard": "dir/*.png" }`: `*` matches any run of characters (also none); `\*` is a literal `*`. */
function wildcardMatch(argument: unknown, path: string): LeafTest {
  if (typeof argument !== 'string') fail(path, 'wildcard match pattern must be a string');
  const segments = parseWildcard(argument, path);
  return (value) => typeof value === 'string' && matchesWildcard(segments, value);
}

/**
 * `{ "anything-but": ... }`: a string, a number, a list of strings or of numbers, or
 * `{ "prefix" | "suffix" | "equals-ignore-case" | "wildcard": string | string[] }`.
 * Matches any present value that is not excluded, including values of another type (a number or
 * null is "anything but" a string); never matches a missing field.
 */
function anythingButMatch(argument: unknown, path: string): LeafTest {
  if (isObject(argument)) return anythingButOperator(argument, path);
  const excluded = Array.isArray(argument) ? argument : [argument];
  if (Array.isArray(argument)) {
    if (argument.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
      fail(path, 'Inside anything but list, start|null|boolean is not supported.');
    }
    const types = new Set(argument.map((v) => typeof v));
    if (types.size !== 1) {
      fail(
        path,
        'Inside anything but list, either all values are number or string, mixed type is not supported',
      );
    }
  } else if (typeof argument !== 'string' && typeof argument !== 'number') {
    fail(path, 'Value of anything-but must be an array or single string/number value.');
  }
  for (const v of excluded) if (typeof v === 'number') numericOperand(v, 'anything-but', path);
  const tests = (excluded as Array<string | number>).map(exactMatch);
  return (value) => !tests.some((test) => test(value));
}

function anythingButOperator(argument: JsonObject, path: string): LeafTest {
  const keys = Object.keys(argument);
  const [name] = keys;
  if (name === undefined) fail(path, 'Anything-But expression name not found');
  if (keys.length > 1) fail(path, 'Only one key allowed in match expression');
  const operator = NEGATABLE.get(name);
  if (operator === undefined) fail(path, `Unsupported anything-but pattern: ${name}`);
  const inner = argument[name];
  if (typeof inner !== 'string' && typeof inner !== 'number' && !Array.isArray(inner)) {
    fail(path, 'Value of anything-but must be an array or single string/number value.');
  }
  const texts: unknown[] = Array.isArray(inner) ? inner : [inner];
  if (texts.length === 0) fail(path, 'Empty arrays are not allowed');
  const excluded = texts.map((text) => {
    if (typeof text !== 'string') fail(path, operator.notString);
    return operator.build(text, path);
  });
  return (value) => typeof value !== 'string' || !excluded.some((test) => test(value));
}

/** The string operators anything-but can negate, each building a test from one string. */
interface NegatableOperator {
  readonly notString: string;
  readonly build: (text: string, path: string) => (value: string) => boolean;
}

const NEGATABLE = new Map<string, NegatableOperator>([
  [
    'prefix',
    {
      notString: 'prefix/suffix match pattern must be a string',
      build: (text, path) => {
        if (text === '') fail(path, 'Null prefix/suffix not allowed');
        return (value) => value.startsWith(text);
      },
    },
  ],
  [
    'suffix',
    {
      notString: 'prefix/suffix match pattern must be a string',
      build: (text, path) => {
        if (text === '') fail(path, 'Null prefix/suffix not allowed');
        return (value) => value.endsWith(text);
      },
    },
  ],
  [
    'equals-ignore-case',
    {
      notString: 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
      build: (text) => {
        const expected = lowerCase(text);
        return (value) => lowerCase(value) === expected;
      },
    },
  ],
  [
    'wildcard',
    {
      notString: 'wildcard match pattern must be a string',
      build: (text, path) => {
        const segments = parseWildcard(text, path);
        return (value) => matchesWildcard(segments, value);
      },
    },
  ],
]);

/**
 * `{ "numeric": [ "=", 5 ] }`, `[ "<" | "<=" , n ]`, `[ ">" | ">=", n ]` or a range
 * `[ ">" | ">=", low, "<" | "<=", high ]`. Only JSON numbers match.
 */
function numericMatch(argument: unknown, path: string): LeafTest {
  if (!Array.isArray(argument)) fail(path, 'Value of numeric must be an array.');
  const [operator, operand, ...rest] = argument as unknown[];
  if (typeof operator !== 'string') {
    fail(path, `Invalid member in numeric match: ${operator === undefined ? ']' : String(operator)}`);
  }
  const tooMany = (): never => fail(path, 'Too many elements in numeric expression');
  switch (operator) {
    case '=': {
      const n = numericOperand(operand, 'equals', path);
      if (rest.length > 0) tooMany();
      return (value) => typeof value === 'number' && numbersEqual(n, value);
    }
    case '<':
    case '<=': {
      const upper = bound(operator, numericOperand(operand, operator, path));
      if (rest.length > 0) tooMany();
      return (value) => typeof value === 'number' && upper(value);
    }
    case '>':
    case '>=': {
      const low = numericOperand(operand, operator, path);
      const lower = bound(operator, low);
      if (rest.length === 0) return (value) => typeof value === 'number' && lower(value);
      const [topOperator, topOperand, ...extra] = rest;
      if (typeof topOperator !== 'string') fail(path, `Bad value in numeric range: ${String(topOperator)}`);
      if (topOperator !== '<' && topOperator !== '<=')
        fail(path, `Bad numeric range operator: ${topOperator}`);
      const high = numericOperand(topOperand, topOperator, path);
      if (extra.length > 0) fail(path, 'Too many terms in numeric range expression');
      if (comparable(low) >= comparable(high)) fail(path, 'Bottom must be less than top');
      const upper = bound(topOperator, high);
      return (value) => typeof value === 'number' && lower(value) && upper(value);
    }
    default:
      return fail(path, `Unrecognized numeric range operator: ${operator}`);
  }
}

/** `{ "cidr": "10.0.0.0/24" }` (IPv4 or IPv6): string values that are addresses inside the block. */
function cidrMatch(argument: unknown, path: string): LeafTest {
  if (typeof argument !== 'string') fail(path, 'cidr match pattern must be a string');
  const parts = argument.split('/');
  const [address = '', bits = ''] = parts;
  if (parts.length !== 2) fail(path, "Malformed CIDR, one '/' required");
  if (!/^[+-]?\d+$/.test(bits)) fail(path, 'Malformed CIDR, mask bits must be an integer');
  const maskBits = Number(bits);
  if (maskBits < 0) fail(path, 'Malformed CIDR, mask bits must not be negative');
  const network = parseIpLiteral(address);
  if (network === 'nonstandard') fail(path, `Nonstandard IP address: ${address}`);
  if (network === 'invalid') fail(path, `Invalid IP address: ${address}`);
  // event-ruler's limits: a single-address block is written as the plain address instead.
  if (network.kind() === 'ipv4' && maskBits > 31) fail(path, 'IPv4 mask bits must be < 32');
  if (network.kind() === 'ipv6' && maskBits > 127) fail(path, 'IPv6 mask bits must be < 128');
  return (value) => {
    if (typeof value !== 'string') return false;
    const ip = parseIpLiteral(value);
    return typeof ip !== 'string' && ip.kind() === network.kind() && ip.match(network, maskBits);
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Objects a nested pattern is matched against: the object at `key`, or the objects in its array. */
function objectsAt(node: JsonObject, key: string): JsonObject[] {
  const value = own(node, key);
  const objects = (Array.isArray(value) ? value.flat(Infinity) : [value]).filter(isObject);
  // No object there: match against an empty one, so only `exists: false` conditions can hold.
  return objects.length > 0 ? objects : [{}];
}

/** Leaf values at `key`: the value itself, or the leaves of its (nested) array; objects are not leaves. */
function leavesAt(node: JsonObject, key: string): Leaf[] {
  const value = own(node, key);
  return (Array.isArray(value) ? value.flat(Infinity) : [value]).filter(isLeaf);
}

function own(node: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);
}

function lowerCase(text: string): string {
  return text.toLowerCase();
}

/** `{ "equals-ignore-case": "..." }` nested in prefix or suffix. */
function ignoreCaseArgument(argument: JsonObject, name: 'Prefix' | 'Suffix', path: string): string {
  const keys = Object.keys(argument);
  const [operator] = keys;
  if (operator === undefined) fail(path, `${name} expression name not found`);
  if (operator !== 'equals-ignore-case') fail(path, `Unsupported ${name.toLowerCase()} pattern: ${operator}`);
  if (keys.length > 1) fail(path, 'Only one key allowed in match expression');
  const text = argument[operator];
  if (typeof text !== 'string') fail(path, 'equals-ignore-case match pattern must be a string');
  return text;
}

/**
 * Splits a wildcard pattern into its literal segments (n wildcards give n + 1 segments), applying
 * event-ruler's rules: no `**`, and `\` may only escape `*` or `\`. Positions in messages count
 * UTF-8 bytes of the quoted value, as EventBridge reports them.
 */
function parseWildcard(pattern: string, path: string): string[] {
  const position = (i: number): number => Buffer.byteLength(pattern.slice(0, i)) + 1;
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') {
      if (pattern[i + 1] === '*') fail(path, `Consecutive wildcard characters at pos ${position(i)}`);
      segments.push(current);
      current = '';
    } else if (char === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') fail(path, `Invalid escape character at pos ${position(i)}`);
      current += next;
      i++;
    } else {
      current += char;
    }
  }
  segments.push(current);
  return segments;
}

/** Glob match with only `*`: first and last segments anchor the ends, the rest are found in order. */
function matchesWildcard(segments: string[], value: string): boolean {
  const first = segments[0] ?? '';
  if (segments.length === 1) return value === first;
  const last = segments[segments.length - 1] ?? '';
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) {
    return false;
  }
  let from = first.length;
  const end = value.length - last.length;
  for (const segment of segments.slice(1, -1)) {
    const at = value.indexOf(segment, from);
    if (at < 0 || at + segment.length > end) return false;
    from = at + segment.length;
  }
  return true;
}

function numericOperand(operand: unknown, operator: string, path: string): number {
  if (typeof operand !== 'number' || !Number.isFinite(operand))
    fail(path, `Value of ${operator} must be numeric`);
  if (Math.abs(operand) > NUMERIC_LIMIT) fail(path, 'Value must be between -5.0E9 and 5.0E9, inclusive');
  return operand;
}

function bound(operator: '<' | '<=' | '>' | '>=', limit: number): (value: number) => boolean {
  const l = comparable(limit);
  const compare = {
    '<': (v: number) => v < l,
    '<=': (v: number) => v <= l,
    '>': (v: number) => v > l,
    '>=': (v: number) => v >= l,
  }[operator];
  return (value) => inNumericRange(value) && compare(comparable(value));
}

/**
 * Numbers as event-ruler compares them: within ±5e9 and to six decimal places
 * (so `3.018e2` equals `301.8`, and `0.1 + 0.2` equals `0.3`).
 */
function comparable(n: number): number {
  return Math.trunc(1e6 * (NUMERIC_LIMIT + n));
}

function inNumericRange(n: number): boolean {
  return Math.abs(n) <= NUMERIC_LIMIT;
}

function numbersEqual(a: number, b: number): boolean {
  return a === b || (inNumericRange(a) && inNumericRange(b) && comparable(a) === comparable(b));
}

/**
 * An IP address literal as event-ruler reads one: dotted-quad IPv4 (octets are decimal, so
 * `010.0.0.1` is 10.0.0.1) or hex-and-colons IPv6. Other text is 'nonstandard'.
 */
function parseIpLiteral(text: string): ipaddr.IPv4 | ipaddr.IPv6 | 'nonstandard' | 'invalid' {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const octets = text.split('.').map((octet) => Number.parseInt(octet, 10));
    return octets.every((octet) => octet <= 255) ? new ipaddr.IPv4(octets) : 'invalid';
  }
  if (/^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/.test(text)) {
    return ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : 'invalid';
  }
  return 'nonstandard';
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function fail(path: string, reason: string): never {
  throw new Error(`Invalid event pattern at ${path === '' ? '(root)' : path}: ${reason}`);
}
