import { z } from 'zod';
import { TRIGGER_SAFE_HEADERS } from '../../lambda/shared/contract';
import { TRIGGER_KINDS, TRIGGER_NAME } from '../../lambda/shared/triggers';
import { SVIX_HEADERS, STANDARD_WEBHOOKS_HEADERS } from '../../lambda/verify/trigger-auth';
import { validatePattern } from '../../lambda/shared/event-pattern';
import { ACCOUNT_API_GATEWAY_LIMITS, CHECKED_BUILD_JOBS, throttleRefusals } from '../capacity';
import { isIpv6Cidr, normaliseCidr } from './cidr';
import { bool, fromCli, int } from './fields';
import { analyticsConfigSchema } from './analytics';
import { autoscalerConfigSchema } from './autoscaler';
import { chatAlertsConfigSchema } from './chat-alerts';
import { buildkiteApiConfigSchema } from './buildkite-api';
import { reconcileConfigSchema } from './reconcile';

/** CloudWatch Logs accepts only these retention periods, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/**
 * The stage throttle's defaults. A 1,000-job parallel build with an agent connecting per job sends
 * about 1,130 deliveries in its busiest second and 2,900 in its busiest ten (bench/README.md, burst
 * simulation); this bucket takes builds up to about 2,700 jobs without a 429, and uses a tenth of
 * the account's rate and two fifths of its burst, which every API in the region shares.
 */
export const DEFAULT_THROTTLE = { rateLimit: 1_000, burstLimit: 2_000 } as const;

/** A stage throttle value: at most the account's default quota, which bounds every stage. */
const throttleLimit = (max: number, what: string) =>
  z.preprocess(
    fromCli,
    z
      .number({ invalid_type_error: 'must be a number' })
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(
        max,
        `must be at most ${max}: API Gateway's default account ${what} per region, shared by every API in it (README: Capacity)`,
      ),
  );

/** Lambda's synchronous payload limit is 6 MB for the whole event, so bodies stay below it. */
const MAX_BODY_LIMIT = 5_500_000;

const cidrList = z.preprocess(
  (value) => (typeof value === 'string' && !value.trim().startsWith('[') ? value.split(',') : fromCli(value)),
  z
    .array(z.string({ invalid_type_error: 'each entry must be a string' }), {
      invalid_type_error: 'must be a list of IPv4/IPv6 addresses or CIDRs',
    })
    .transform((entries, ctx) => {
      const out: string[] = [];
      entries.forEach((entry, i) => {
        const cidr = normaliseCidr(entry);
        if (cidr) out.push(cidr);
        else
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [i],
            message: `"${entry}" is not an IPv4/IPv6 address or CIDR (write IPv4 as four decimal numbers, e.g. 192.0.2.10 or 192.0.2.0/24; IPv6 without a zone, e.g. 2001:db8::/32)`,
          });
      });
      return [...new Set(out)];
    }),
);

/** Standard Webhooks signatures cover `<id>.<timestamp>.<body>`: only kind standard-webhooks checks them. */
const STANDARD_WEBHOOKS_SIGNATURE_HEADERS: readonly string[] = [
  STANDARD_WEBHOOKS_HEADERS.signature,
  SVIX_HEADERS.signature,
];

const triggerSchema = z
  .object({
    name: z.string({ required_error: 'is required' }).regex(TRIGGER_NAME.pattern, TRIGGER_NAME.message),
    kind: z.enum(TRIGGER_KINDS, {
      errorMap: () => ({ message: `must be one of ${TRIGGER_KINDS.join(', ')}` }),
    }),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
      .optional(),
    encoding: z
      .enum(['hex', 'base64'], { errorMap: () => ({ message: 'must be hex or base64' }) })
      .optional(),
    sourceIps: cidrList.optional(),
    filter: z.record(z.unknown(), { invalid_type_error: 'must be an EventBridge pattern object' }).optional(),
  })
  .strict()
  .superRefine((trigger, ctx) => {
    if (trigger.header && trigger.kind !== 'hmac-sha256' && trigger.kind !== 'token') {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['header'],
        message: `is fixed for kind ${trigger.kind}; remove it`,
      });
    }
    if (
      trigger.header &&
      (TRIGGER_SAFE_HEADERS as readonly string[]).includes(trigger.header.toLowerCase())
    ) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['header'],
        message: `"${trigger.header}" is copied onto events as an identifying header, so it cannot carry the credential; choose another name`,
      });
    }
    if (
      trigger.header &&
      (trigger.kind === 'hmac-sha256' || trigger.kind === 'token') &&
      STANDARD_WEBHOOKS_SIGNATURE_HEADERS.includes(trigger.header.toLowerCase())
    ) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['header'],
        message: `"${trigger.header}" carries a Standard Webhooks signature (over "<id>.<timestamp>.<body>", not the body alone); use kind standard-webhooks and leave out header`,
      });
    }
    if (trigger.encoding && trigger.kind !== 'hmac-sha256') {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['encoding'],
        message: 'applies to kind hmac-sha256 only',
      });
    }
    if (trigger.sourceIps && trigger.sourceIps.length === 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['sourceIps'],
        message: 'is empty; leave it out to allow any address',
      });
    }
    if (trigger.filter) {
      try {
        validatePattern(trigger.filter);
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['filter'], message: (error as Error).message });
      }
    }
  });

export type TriggerConfig = z.output<typeof triggerSchema>;

const schema = z.object({
  stackName: z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
      'must start with a letter and hold only letters, digits and dashes',
    )
    .default('Kitebridge'),
  webhookIps: cidrList.default([]),
  allowAnySourceIp: bool.default(false),
  replayWindowSeconds: int(1, 3600).default(300),
  maxBodyBytes: int(1024, MAX_BODY_LIMIT).default(5_000_000),
  archiveRetentionDays: int(0, 36500).default(30),
  oversizedRetentionDays: int(0, 36500).optional(),
  logRetentionDays: z
    .preprocess(
      fromCli,
      z
        .number({ invalid_type_error: 'must be a number' })
        .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), {
          message: `must be one of CloudWatch Logs' periods: ${LOG_RETENTION_DAYS.join(', ')}`,
        }),
    )
    .default(30),
  alarmEmail: z.string().email('must be an email address').optional(),
  throttleRateLimit: throttleLimit(
    ACCOUNT_API_GATEWAY_LIMITS.rateLimit,
    'rate (requests per second)',
  ).default(DEFAULT_THROTTLE.rateLimit),
  throttleBurstLimit: throttleLimit(ACCOUNT_API_GATEWAY_LIMITS.burstLimit, 'burst').default(
    DEFAULT_THROTTLE.burstLimit,
  ),
  tailEvents: bool.default(true),
  /** Provisioned concurrency of the verify function (a `live` alias API Gateway invokes); 0 is off. */
  verifyProvisionedConcurrency: int(0, 1000).default(0),
  triggers: z
    .preprocess(fromCli, z.array(triggerSchema, { invalid_type_error: 'must be a list of triggers' }))
    .superRefine((triggers, ctx) => {
      const seen = new Set<string>();
      triggers.forEach((t, i) => {
        if (seen.has(t.name)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [i, 'name'],
            message: `"${t.name}" is used twice`,
          });
        }
        seen.add(t.name);
      });
    })
    .default([]),
  triggerRatePerHour: int(1, 3600).default(300),
  triggerBurst: int(1, 300).default(1),
  autoscaler: autoscalerConfigSchema.optional(),
  chatAlerts: chatAlertsConfigSchema.optional(),
  buildkiteApi: buildkiteApiConfigSchema.optional(),
  /** Delivery reconciliation (needs buildkiteApi); on by default, `false` turns it off. */
  reconcile: reconcileConfigSchema,
  analytics: z.preprocess((value) => {
    const parsed = fromCli(value);
    if (parsed === false) return undefined;
    return parsed === undefined || parsed === true ? {} : parsed;
  }, analyticsConfigSchema.optional()),
});

export type KitebridgeConfig = Omit<z.output<typeof schema>, 'oversizedRetentionDays'> & {
  /** Defaults to archiveRetentionDays, so every archived pointer event can still find its body. */
  readonly oversizedRetentionDays: number;
};

/** The config keys, read from CDK context (cdk.json, or `-c key=value`). */
export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof z.input<typeof schema>)[];

/**
 * Context keys without a `@…` or `…:…` form that the CDK itself reads or writes: the CLI's
 * telemetry switch and acknowledged notices, and aws-cdk-lib's asset repository override.
 */
const CDK_PLAIN_CONTEXT_KEYS: readonly string[] = [
  'cli-telemetry',
  'acknowledged-issue-numbers',
  'assets-ecr-repository-name',
];

/**
 * Whether a context key belongs to the CDK rather than to kitebridge: feature flags and library
 * settings (`@aws-cdk/…`, `@aws-cdk-containers/…`, any `@scope/…`), keys the CLI and framework set
 * (`aws:cdk:…`, `aws-cdk:…`), cached lookups (`availability-zones:account=…`), and a few plain ones.
 * No kitebridge key starts with `@` or holds a `:`.
 */
function isCdkContextKey(key: string): boolean {
  return key.startsWith('@') || key.includes(':') || CDK_PLAIN_CONTEXT_KEYS.includes(key);
}

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known key nearest to `key` (ignoring case, dashes and underscores), if it is close enough to
 * be a misspelling: at most 2 edits (a third of the key's length for longer keys), or the start of
 * a known key (`asg` for `asgName`). Ties go to the fewer edits.
 */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  const simple = (k: string) => k.toLowerCase().replace(/[-_\s]/g, '');
  const target = simple(key);
  const limit = Math.max(2, Math.floor(target.length / 3));
  let best: { key: string; rank: number; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(target, simple(candidate));
    const prefix = target.length >= 3 && simple(candidate).startsWith(target);
    const rank = prefix ? Math.min(distance, 1) : distance;
    if (!best || rank < best.rank || (rank === best.rank && distance < best.distance))
      best = { key: candidate, rank, distance };
  }
  return best && best.rank <= limit ? best.key : undefined;
}

/** webhookIps entries wider than these prefixes admit (nearly) anyone, like an empty allowlist. */
const WIDEST_WEBHOOK_PREFIX = { ipv4: 8, ipv6: 32 } as const;

/** Config keys whose value is JSON (an object or a list) when it arrives as a string from `-c`. */
const JSON_VALUED_KEYS: Readonly<Record<string, string>> = {
  triggers: '[{"name":"gh","kind":"github"}]',
  chatAlerts: '{"destinations":[{"name":"ci","service":"slack"}]}',
  autoscaler: '{"org":"my-org","queues":[{"queue":"default","max":5}]}',
  analytics: '{"retentionDays":730}',
  buildkiteApi: '{"organization":"my-org"}',
  reconcile: '{"everyMinutes":5}',
  webhookIps: '["192.0.2.1","2001:db8::/32"]',
};

/** What one item of a list is called in messages: an unknown key in `triggers[0]` is "not a trigger setting". */
const ITEM_NOUNS: Readonly<Record<string, string>> = {
  triggers: 'trigger',
  destinations: 'destination',
  queues: 'queue',
};

/** Where the values came from, so hints point at the right place. */
export interface ConfigSource {
  /**
   * The cdk.json file the values were read from directly (local mode). Left out, they are CDK
   * context, which the CLI merges from cdk.json and `-c key=value`.
   */
  readonly cdkJsonPath?: string;
}

export interface ParseConfigOptions extends ConfigSource {
  /**
   * Refuse an empty `webhookIps` without `allowAnySourceIp`. Local mode turns it off: it always
   * allows loopback, so an allowlist not yet refreshed is not an error there.
   * @default true
   */
  readonly requireAllowlist?: boolean;
}

const SETTINGS_DOC = "The settings are described in the README's Configuration section.";

/** The closing line of a ConfigError: where to correct a value, for synth or for local mode. */
function configHint(source: ConfigSource = {}): string {
  return source.cdkJsonPath
    ? `Correct the "context" of ${source.cdkJsonPath}, then run npm start again. ${SETTINGS_DOC}`
    : 'Context values come from the "context" of cdk.json and from -c key=value on the command line: ' +
        `correct the value where you set it. ${SETTINGS_DOC}`;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly hint: string = configHint(),
  ) {
    super(`Invalid kitebridge configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${hint}`);
    this.name = 'ConfigError';
  }
}

function keyPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');
}

/** Steps through effects, optionals and defaults to the schema that does the checking. */
function unwrap(type: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (type instanceof z.ZodEffects) type = type.innerType() as z.ZodTypeAny;
    else if (type instanceof z.ZodOptional || type instanceof z.ZodNullable)
      type = type.unwrap() as z.ZodTypeAny;
    else if (type instanceof z.ZodDefault) type = type.removeDefault() as z.ZodTypeAny;
    else return type;
  }
}

/** The keys the object schema at `path` knows (empty when there is no object there). */
function knownKeysAt(path: readonly (string | number)[]): string[] {
  let type = unwrap(schema);
  for (const step of path) {
    if (typeof step === 'number' && type instanceof z.ZodArray) type = unwrap(type.element as z.ZodTypeAny);
    else if (typeof step === 'string' && type instanceof z.ZodObject)
      type = unwrap((type.shape as Record<string, z.ZodTypeAny>)[step] ?? z.never());
    else return [];
  }
  return type instanceof z.ZodObject ? Object.keys(type.shape as object) : [];
}

const withArticle = (noun: string) => `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;

/** `chatAlert is not a kitebridge setting; did you mean "chatAlerts"? …` */
function unknownKeyProblem(path: readonly (string | number)[], key: string): string {
  const parent = [...path].reverse().find((p): p is string => typeof p === 'string');
  const owner =
    parent === undefined
      ? 'kitebridge'
      : typeof path[path.length - 1] === 'number'
        ? (ITEM_NOUNS[parent] ?? parent)
        : parent;
  const nearest = nearestKey(key, knownKeysAt(path));
  return (
    `${keyPath([...path, key])} is not ${withArticle(owner)} setting` +
    (nearest ? `; did you mean "${nearest}"? Correct the name.` : '; remove it, or correct its name.')
  );
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  bigint: 'a number',
  nan: 'not a number',
  boolean: 'true or false',
  object: 'an object {…}',
  array: 'a list […]',
  null: 'null',
  date: 'a date',
};
const typeWords = (type: string) => TYPE_WORDS[type] ?? type;

/** What zod would say with no message of its own; such messages are replaced with plain words. */
function isZodDefault(issue: z.ZodIssue): boolean {
  return issue.message === z.defaultErrorMap(issue, { data: undefined, defaultError: '' }).message;
}

function plainMessage(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined')
    return issue.message === 'Required' || issue.message === 'is required'
      ? 'is missing: add it'
      : issue.message;
  if (!isZodDefault(issue)) return issue.message;
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      return `must be ${typeWords(issue.expected)}, not ${typeWords(issue.received)}`;
    case z.ZodIssueCode.invalid_enum_value:
      return `must be one of ${issue.options.join(', ')}, not ${JSON.stringify(issue.received)}`;
    case z.ZodIssueCode.invalid_literal:
      return `must be ${JSON.stringify(issue.expected)}`;
    case z.ZodIssueCode.too_small: {
      const min = String(issue.minimum);
      if (issue.type === 'array') return `must list at least ${min} ${min === '1' ? 'entry' : 'entries'}`;
      if (issue.type === 'string') return `must be at least ${min} characters long`;
      return issue.inclusive ? `must be at least ${min}` : `must be more than ${min}`;
    }
    case z.ZodIssueCode.too_big: {
      const max = String(issue.maximum);
      if (issue.type === 'array') return `must list at most ${max} ${max === '1' ? 'entry' : 'entries'}`;
      if (issue.type === 'string') return `must be at most ${max} characters long`;
      return issue.inclusive ? `must be at most ${max}` : `must be below ${max}`;
    }
    case z.ZodIssueCode.invalid_string:
      if (issue.validation === 'email') return 'must be an email address';
      if (issue.validation === 'url') return 'must be a URL such as https://example.com';
      return 'is not in the expected format';
    case z.ZodIssueCode.not_multiple_of:
      return `must be a multiple of ${String(issue.multipleOf)}`;
    default:
      return 'is not valid';
  }
}

/** One problem line per zod issue (one per key for unknown keys), in plain words. */
function describeIssues(issues: readonly z.ZodIssue[]): string[] {
  return issues.flatMap((issue) =>
    issue.code === z.ZodIssueCode.unrecognized_keys
      ? issue.keys.map((key) => unknownKeyProblem(issue.path, key))
      : [`${issue.path.length ? keyPath(issue.path) : '(config)'} ${plainMessage(issue)}`],
  );
}

/** The problem for a string that should hold JSON and does not, with a hint for where it came from. */
function notJsonProblem(key: string, error: unknown, source: ConfigSource): string {
  const detail = (error as Error).message.replace(/, (\.\.\.)?".*is not valid JSON$/s, '');
  const example = JSON_VALUED_KEYS[key]!;
  const off = key === 'analytics' ? ', or false to turn it off' : '';
  return source.cdkJsonPath
    ? `${key} is not valid JSON (${detail}). In cdk.json write the value itself rather than a string, e.g. "${key}": ${example}${off}.`
    : `${key} is not valid JSON (${detail}). A -c value for ${key} is JSON: put it in single quotes so the shell keeps its double quotes, e.g. -c ${key}='${example}'${off}.`;
}

/** The entries of webhookIps as written: a list, or the comma list `-c webhookIps=a,b` gives. */
function writtenEntries(value: unknown): string[] {
  if (typeof value === 'string' && !value.trim().startsWith('[')) return value.split(',');
  const parsed = fromCli(value);
  return Array.isArray(parsed) ? parsed.filter((e): e is string => typeof e === 'string') : [];
}

/** The problem for an allowlist entry so wide it is no allowlist at all, if it is one. */
function wideRangeProblem(entry: string, index: number): string | undefined {
  const cidr = normaliseCidr(entry);
  if (!cidr) return undefined;
  const prefix = Number(cidr.slice(cidr.lastIndexOf('/') + 1));
  const ipv6 = isIpv6Cidr(cidr);
  const bound = ipv6 ? WIDEST_WEBHOOK_PREFIX.ipv6 : WIDEST_WEBHOOK_PREFIX.ipv4;
  if (prefix >= bound) return undefined;
  const extent =
    prefix === 0
      ? `every ${ipv6 ? 'IPv6' : 'IPv4'} address`
      : ipv6
        ? `a /${prefix} of IPv6 addresses`
        : `${(2 ** (32 - prefix)).toLocaleString('en-US')} addresses`;
  return (
    `webhookIps[${index}] "${entry.trim()}" admits ${extent}, which is no allowlist at all ` +
    `(entries must be /${WIDEST_WEBHOOK_PREFIX.ipv4} or narrower for IPv4, /${WIDEST_WEBHOOK_PREFIX.ipv6} or narrower for IPv6). ` +
    "Run `npm run refresh-ips` to list Buildkite's addresses instead, or set allowAnySourceIp: true to accept any address on purpose (authentication still applies)"
  );
}

/**
 * Validates raw config values (the whole CDK context, or cdk.json's context in local mode) into a
 * typed config. Context keys that belong to the CDK are skipped; any other key kitebridge does not
 * know is an error. Throws a ConfigError naming each bad key, what is wrong, and how to fix it.
 */
export function parseConfig(
  raw: Record<string, unknown>,
  options: ParseConfigOptions = {},
): KitebridgeConfig {
  const problems: string[] = [];
  const present: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || value === null || isCdkContextKey(key)) continue;
    if (!(CONFIG_KEYS as string[]).includes(key)) {
      problems.push(unknownKeyProblem([], key));
      continue;
    }
    if (
      key in JSON_VALUED_KEYS &&
      typeof value === 'string' &&
      (key !== 'webhookIps' || value.trim().startsWith('['))
    ) {
      try {
        present[key] = JSON.parse(value) as unknown;
      } catch (error) {
        problems.push(notJsonProblem(key, error, options));
      }
      continue;
    }
    present[key] = value;
  }
  const hint = configHint(options);
  const result = schema.safeParse(present);
  if (!result.success) problems.push(...describeIssues(result.error.issues));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, hint);

  const config = result.data;
  if (!config.allowAnySourceIp) {
    const wide = writtenEntries(present.webhookIps).flatMap((entry, i) => wideRangeProblem(entry, i) ?? []);
    if (wide.length > 0) throw new ConfigError(wide, hint);
    if (config.webhookIps.length === 0 && options.requireAllowlist !== false) {
      throw new ConfigError(
        [
          "webhookIps is empty, so no source address could call the endpoint. Run `npm run refresh-ips` to fetch Buildkite's list, or set allowAnySourceIp: true to accept any address (authentication still applies)",
        ],
        hint,
      );
    }
  }
  return {
    ...config,
    oversizedRetentionDays: config.oversizedRetentionDays ?? config.archiveRetentionDays,
  };
}

/** Reads and validates the whole CDK context (cdk.json, `-c key=value`, the CLI's own keys). Call once, in bin/. */
export function loadConfig(context: { getAllContext(): unknown }): KitebridgeConfig {
  return parseConfig(context.getAllContext() as Record<string, unknown>);
}

/**
 * The synth warning for a stage throttle that would answer 429 to part of a 1,000-job parallel
 * build (the evenly spaced trace of lib/capacity.ts, the model bench/burst-simulation.ts replays):
 * Buildkite does not retry, so each refused delivery is lost. Undefined when the bucket takes it all.
 */
export function throttleWarning(
  config: Pick<KitebridgeConfig, 'throttleRateLimit' | 'throttleBurstLimit'>,
): string | undefined {
  const { refused, deliveries } = throttleRefusals({
    rateLimit: config.throttleRateLimit,
    burstLimit: config.throttleBurstLimit,
  });
  if (refused === 0) return undefined;
  const n = (value: number) => value.toLocaleString('en-US');
  return (
    `throttleRateLimit ${config.throttleRateLimit} / throttleBurstLimit ${config.throttleBurstLimit} would answer 429 to ` +
    `${n(refused)} of the ${n(deliveries)} deliveries of a ${n(CHECKED_BUILD_JOBS)}-job parallel build, and Buildkite does not ` +
    `retry them. Raise them (defaults ${DEFAULT_THROTTLE.rateLimit} / ${DEFAULT_THROTTLE.burstLimit}); the README's Capacity section explains the figures.`
  );
}

/** One consumer's line in the summary: on or off, and what changes that. */
interface ConsumerLine {
  readonly name: string;
  readonly on: boolean;
  readonly detail: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What the Buildkite API token (`buildkiteApi`) runs: delivery reconciliation and the token's rotation. */
function buildkiteApiLines(config: KitebridgeConfig): ConsumerLine[] {
  const api = config.buildkiteApi;
  if (!api) {
    return [
      {
        name: 'reconcile',
        on: false,
        detail:
          'set "buildkiteApi" to recover build.finished deliveries Buildkite never sent (README: Reconcile)',
      },
      {
        name: 'token rotation',
        on: false,
        detail:
          'set "buildkiteApi" to rotate the webhook token automatically; by hand: npm run token (README: Rotate the token)',
      },
    ];
  }
  return [
    config.reconcile
      ? {
          name: 'reconcile',
          on: true,
          detail: `every ${config.reconcile.everyMinutes} min, publishes the build.finished deliveries Buildkite never sent; "reconcile": false turns it off`,
        }
      : {
          name: 'reconcile',
          on: false,
          detail: 'remove "reconcile": false to recover deliveries Buildkite never sent (README: Reconcile)',
        },
    {
      name: 'token rotation',
      on: true,
      detail:
        (api.rotationDays > 0
          ? `every ${plural(api.rotationDays, 'day')}`
          : 'on demand only ("rotationDays": 0)') +
        `, old token accepted ${api.rotationGraceMinutes} min more; npm run rotate starts one now`,
    },
  ];
}

/**
 * Which consumers this config deploys and which it leaves out, with the key that turns each on
 * (or off), then what the Buildkite API token runs (reconciliation, the webhook token's rotation):
 * bin/ prints it to stderr on every synth, so a part left out is never a surprise.
 */
export function consumerSummary(config: KitebridgeConfig): string {
  const lines: ConsumerLine[] = [
    config.analytics
      ? { name: 'analytics', on: true, detail: '"analytics": false turns it off (docs/analytics.md)' }
      : {
          name: 'analytics',
          on: false,
          detail: 'remove "analytics": false to turn it on (docs/analytics.md)',
        },
    config.chatAlerts
      ? {
          name: 'chat alerts',
          on: true,
          detail: `${plural(config.chatAlerts.destinations.length, 'destination')}: ${config.chatAlerts.destinations.map((d) => d.name).join(', ')}`,
        }
      : { name: 'chat alerts', on: false, detail: 'set "chatAlerts" to turn it on (docs/chat-alerts.md)' },
    config.autoscaler
      ? {
          name: 'autoscaler',
          on: true,
          detail: `${plural(config.autoscaler.queues.length, 'queue')} of ${config.autoscaler.org}${config.autoscaler.dryRun ? ' (dry run)' : ''}`,
        }
      : { name: 'autoscaler', on: false, detail: 'set "autoscaler" to turn it on (docs/autoscaler.md)' },
    config.triggers.length > 0
      ? {
          name: 'trigger relay',
          on: true,
          detail: `${plural(config.triggers.length, 'trigger')}: ${config.triggers.map((t) => t.name).join(', ')}`,
        }
      : { name: 'trigger relay', on: false, detail: 'set "triggers" to turn it on (docs/trigger-relay.md)' },
  ];
  const line = (l: ConsumerLine) => `  ${l.on ? 'on ' : 'off'}  ${l.name.padEnd(14)}  ${l.detail}`;
  return [
    'kitebridge consumers:',
    ...lines.map(line),
    ...(lines.some((l) => l.on) ? [] : ['No consumer is on: events reach the bus and its archive only.']),
    'Buildkite API (buildkiteApi):',
    ...buildkiteApiLines(config).map(line),
  ].join('\n');
}
