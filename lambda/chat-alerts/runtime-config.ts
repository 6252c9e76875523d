import { ALERT_KINDS, CHAT_SERVICES, type AlertKind, type Destination } from './model';

/** What the construct passes the function in `CHAT_ALERTS_CONFIG` (secret ARNs, never URLs). */
export interface RuntimeConfig {
  readonly destinations: readonly Destination[];
  readonly jobsGraceSeconds: number;
  readonly stateTtlDays: number;
}

function fail(message: string): never {
  throw new Error(`CHAT_ALERTS_CONFIG: ${message}; the stack writes it, so redeploy the function.`);
}

const strings = (value: unknown, what: string): string[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    fail(`${what} must be a list of strings`);
  return value as string[];
};

/** Parses and checks the function's config (validated at synth already; this guards a hand-edited env). */
export function parseRuntimeConfig(json: string): RuntimeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    fail('is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object');
  const config = raw as Partial<Record<keyof RuntimeConfig, unknown>>;
  if (!Array.isArray(config.destinations) || config.destinations.length === 0)
    fail('destinations must be a non-empty list');
  const destinations = config.destinations.map((value, i): Destination => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(`destinations[${i}] must be an object`);
    const d = value as Record<string, unknown>;
    if (typeof d.name !== 'string' || !d.name) fail(`destinations[${i}].name must be a string`);
    if (!CHAT_SERVICES.includes(d.service as never))
      fail(`destinations[${i}].service must be slack or teams`);
    const events = strings(d.events, `destinations[${i}].events`);
    const unknown = events.filter((e) => !(ALERT_KINDS as readonly string[]).includes(e));
    if (unknown.length) fail(`destinations[${i}].events has unknown kinds ${unknown.join(', ')}`);
    return {
      name: d.name,
      service: d.service as Destination['service'],
      pipelines: strings(d.pipelines, `destinations[${i}].pipelines`),
      branches: strings(d.branches, `destinations[${i}].branches`),
      events: events as AlertKind[],
      ...(d.buildStates !== undefined
        ? { buildStates: strings(d.buildStates, `destinations[${i}].buildStates`) }
        : {}),
      ...(typeof d.secretArn === 'string' ? { secretArn: d.secretArn } : {}),
    };
  });
  const grace = Number(config.jobsGraceSeconds ?? 5);
  if (!Number.isFinite(grace) || grace < 0)
    fail(
      `jobsGraceSeconds must be a number of seconds, 0 or more (got ${JSON.stringify(config.jobsGraceSeconds)})`,
    );
  const ttl = Number(config.stateTtlDays ?? 30);
  if (!Number.isInteger(ttl) || ttl < 1)
    fail(
      `stateTtlDays must be a whole number of days, 1 or more (got ${JSON.stringify(config.stateTtlDays)})`,
    );
  return { destinations, jobsGraceSeconds: grace, stateTtlDays: ttl };
}
