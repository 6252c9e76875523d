import { z } from 'zod';
import { TRIGGER_SAFE_HEADERS } from '../lambda/shared/contract';
import { SVIX_HEADERS, STANDARD_WEBHOOKS_HEADERS, TRIGGER_KINDS } from '../lambda/verify/trigger-auth';
import { validatePattern } from '../local/event-pattern';
import { normaliseCidr } from './cidr';
import { bool, fromCli, int } from './config-fields';
import { analyticsConfigSchema } from './consumers/analytics-config';
import { autoscalerConfigSchema } from './consumers/autoscaler-config';
import { chatAlertsConfigSchema } from './consumers/chat-alerts-config';

/** CloudWatch Logs accepts only these retention periods, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

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
            message: `"${entry}" is not an IPv4/IPv6 address or CIDR`,
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
    name: z
      .string({ required_error: 'is required' })
      .regex(
        /^[a-z0-9][a-z0-9-]{0,62}$/,
        'must be 1-63 lower-case letters, digits or dashes (it becomes a URL path)',
      ),
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
  throttleRateLimit: int(1, 10000).default(50),
  throttleBurstLimit: int(1, 5000).default(100),
  tailEvents: bool.default(true),
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
  analytics: analyticsConfigSchema.optional(),
});

export type KitebridgeConfig = Omit<z.output<typeof schema>, 'oversizedRetentionDays'> & {
  /** Defaults to archiveRetentionDays, so every archived pointer event can still find its body. */
  readonly oversizedRetentionDays: number;
};

/** The config keys, read from CDK context (cdk.json, or `-c key=value`). */
export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof z.input<typeof schema>)[];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid kitebridge configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'Fix the value in the "context" of cdk.json, or override it with -c key=value.',
    );
    this.name = 'ConfigError';
  }
}

/** Validates raw config values (as read from context) into a typed config; throws ConfigError naming each bad key. */
export function parseConfig(raw: Record<string, unknown>): KitebridgeConfig {
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== null));
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const key = issue.path.length
          ? issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('')
          : '(config)';
        return `${key} ${issue.message}`;
      }),
    );
  }
  if (result.data.webhookIps.length === 0 && !result.data.allowAnySourceIp) {
    throw new ConfigError([
      "webhookIps is empty, so no source address could call the endpoint. Run `npm run refresh-ips` to fetch Buildkite's list, or set allowAnySourceIp: true to accept any address (authentication still applies)",
    ]);
  }
  return {
    ...result.data,
    oversizedRetentionDays: result.data.oversizedRetentionDays ?? result.data.archiveRetentionDays,
  };
}

/** Reads every config key from CDK context. Call once, in bin/. */
export function loadConfig(context: { tryGetContext(key: string): unknown }): KitebridgeConfig {
  return parseConfig(Object.fromEntries(CONFIG_KEYS.map((key) => [key, context.tryGetContext(key)])));
}
