import { METRICS_NAMESPACE, UNEXPECTED_ERRORS_METRIC } from '../shared/metric-names';
import type { DeliveryLog, OutcomeObserver } from './ports';
import { isoTimeOfMs } from './iso-time';
import { jsonString } from './json-text';
import type { Outcome } from './types';

/** Powertools Logger's level names and numbers (its `LogLevelThreshold`), so one setting governs both. */
const LEVELS: Readonly<Record<string, number>> = {
  TRACE: 6,
  DEBUG: 8,
  INFO: 12,
  WARN: 16,
  ERROR: 20,
  CRITICAL: 24,
  SILENT: 28,
};

/** What every JSON line writer here is given: its service, where lines go and its clock. */
interface LineWriterOptions {
  /** The `service` key of every line (and, for outcomes, the `service` dimension of every metric). */
  readonly serviceName: string;
  /** Where each line goes, newline included. @default process.stdout (looked up on every write) */
  readonly write?: (line: string) => void;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

export interface OutcomeObserverOptions extends LineWriterOptions {
  /**
   * Lines below this level (Powertools names: `DEBUG`, `INFO`, `WARN`, `ERROR`, `SILENT` …) are
   * not logged; their metrics still are, as a metrics-only line. @default 'INFO'
   */
  readonly logLevel?: string;
  /** Leave the metrics out (Powertools' `POWERTOOLS_METRICS_DISABLED`). @default false */
  readonly metricsDisabled?: boolean;
}

/** The EMF directive for one set of metrics: every metric is a Count. */
function directive(dimensions: readonly string[], metrics: readonly string[]) {
  return {
    Namespace: METRICS_NAMESPACE,
    Dimensions: [dimensions],
    Metrics: metrics.map((name) => ({ Name: name, Unit: 'Count' })),
  };
}

/**
 * The EMF tail of a line for each kind of outcome, serialised once: the `_aws` metadata with a
 * placeholder timestamp and the metric values. Same shape as Powertools Metrics emitted:
 * `Accepted`, `Rejected`, `Spooled` and `UnexpectedErrors` by `service`, `RejectedByReason` by
 * `service` and `Reason`.
 */
function emfTail(
  metrics: readonly string[],
  byReason: boolean,
): (timestamp: number, reason: string) => string {
  const directives = [directive(['service'], metrics)];
  if (byReason) directives.push(directive(['service', 'Reason'], ['RejectedByReason']));
  const values = metrics.map((name) => `,${JSON.stringify(name)}:1`).join('');
  const head = `,"_aws":{"Timestamp":`;
  const middle = `,"CloudWatchMetrics":${JSON.stringify(directives)}}${values}`;
  return byReason
    ? (timestamp, reason) => `${head}${timestamp}${middle},"Reason":${quoted(reason)},"RejectedByReason":1}\n`
    : (timestamp) => `${head}${timestamp}${middle}}\n`;
}

/** Each kind of outcome: its log level and message, and its EMF tail. */
const KINDS = {
  published: { level: 'INFO', message: 'Delivery accepted', tail: emfTail(['Accepted'], false) },
  spooled: { level: 'INFO', message: 'Delivery accepted', tail: emfTail(['Accepted', 'Spooled'], false) },
  rejected: { level: 'WARN', message: 'Delivery rejected', tail: emfTail(['Rejected'], true) },
  refused: { level: 'ERROR', message: 'Delivery refused', tail: emfTail(['Rejected'], true) },
  unexpected: {
    level: 'ERROR',
    message: 'Unexpected error; answered 503 and accepted nothing',
    tail: emfTail([UNEXPECTED_ERRORS_METRIC, 'Rejected'], true),
  },
} as const;

function kindOf(outcome: Outcome): keyof typeof KINDS {
  if (outcome.error) return 'unexpected';
  const status = outcome.answer.statusCode;
  if (status >= 500) return 'refused';
  if (status >= 300) return 'rejected';
  return outcome.code === 'spooled' ? 'spooled' : 'published';
}

interface LambdaGlobal {
  awslambda?: { InvokeStore?: { getXRayTraceId?: () => string | undefined } };
}

/** The last trace header parsed and its `Root`: a header is read once per request, parsed once. */
let lastTraceHeader: string | undefined;
let lastTraceRoot: string | undefined;

/** The X-Ray trace id of the current invocation (the `Root` part), as Powertools Logger reads it. */
function xrayTraceId(): string | undefined {
  const value =
    (globalThis as LambdaGlobal).awslambda?.InvokeStore?.getXRayTraceId?.() ?? process.env._X_AMZN_TRACE_ID;
  if (!value) return undefined;
  if (value !== lastTraceHeader) {
    const root = /(?:^|;)Root=([^;]*)/.exec(value);
    lastTraceRoot = root ? root[1] : value.includes('=') ? undefined : value;
    lastTraceHeader = value;
  }
  return lastTraceRoot;
}

/**
 * JSON text of the values that repeat from request to request (answer codes, auth methods, event
 * names): `JSON.stringify` once each, then looked up. Bounded, so values never seen before
 * cannot grow it past `QUOTED_LIMIT`; past it they are serialised each time.
 */
const quotedValues = new Map<string, string>();
const QUOTED_LIMIT = 512;

function quoted(value: string): string {
  let text = quotedValues.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    if (quotedValues.size < QUOTED_LIMIT) quotedValues.set(value, text);
  }
  return text;
}

/**
 * The verify function's per-request observer: one JSON line per request that is both the
 * structured log line (Powertools Logger's keys: level, message, timestamp, service,
 * xray_trace_id, then the outcome's fields) and, in CloudWatch Embedded Metric Format, the
 * request's metrics. CloudWatch extracts metrics from any EMF line in the log, so one
 * serialisation and one write per request replace a log line plus a separate metrics flush
 * (bench/README.md has the figures).
 */
export function createOutcomeObserver(options: OutcomeObserverOptions): OutcomeObserver {
  const threshold = LEVELS[(options.logLevel ?? 'INFO').toUpperCase()] ?? 12;
  const service = JSON.stringify(options.serviceName);
  const metricsOn = options.metricsDisabled !== true;
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;

  // Per kind, worked out once: whether its line is logged at this level, the line's keys up to
  // the timestamp's text and the `service` key after it, and the EMF tail.
  const kinds = Object.fromEntries(
    Object.entries(KINDS).map(([kind, { level, message, tail }]) => [
      kind,
      {
        logged: (LEVELS[level] as number) >= threshold,
        head: `{"level":"${level}","message":${JSON.stringify(message)},"timestamp":"`,
        service: `","service":${service}`,
        tail,
      },
    ]),
  ) as Record<
    keyof typeof KINDS,
    { logged: boolean; head: string; service: string; tail: typeof KINDS.published.tail }
  >;
  const str = jsonString;
  // The status, code, event and auth keys of the last line: busy requests in a row mostly repeat
  // them (the same event, answered the same way), so their text is reused when all four match.
  let lastStatus = 0;
  let lastCode: string | undefined;
  let lastEvent: string | undefined;
  let lastAuth: string | undefined;
  let lastSegment = '';

  return (outcome, requestId, sourceIp) => {
    const kind = kinds[kindOf(outcome)];
    if (!kind.logged && !metricsOn) return;
    const timestamp = now();
    let line: string;
    if (kind.logged) {
      // The same text as JSON.stringify of { level, message, timestamp, service, xray_trace_id,
      // requestId, sourceIp, status, code, event, auth, bytes, dedupeKey, error } (undefined
      // keys left out), built from parts: this runs on every request.
      const { answer, code, event, auth, bytes, dedupeKey, error } = outcome;
      const trace = xrayTraceId();
      line = kind.head + isoTimeOfMs(timestamp) + kind.service;
      if (trace !== undefined) line += `,"xray_trace_id":${str(trace)}`;
      line += `,"requestId":${str(requestId)},"sourceIp":${str(sourceIp)}`;
      const status = answer.statusCode;
      if (status !== lastStatus || code !== lastCode || event !== lastEvent || auth !== lastAuth) {
        let segment = `,"status":${status},"code":${quoted(code)}`;
        if (event !== undefined) segment += `,"event":${quoted(event)}`;
        if (auth !== undefined) segment += `,"auth":${quoted(auth)}`;
        lastStatus = status;
        lastCode = code;
        lastEvent = event;
        lastAuth = auth;
        lastSegment = segment;
      }
      line += `${lastSegment},"bytes":${bytes}`;
      if (dedupeKey !== undefined) line += `,"dedupeKey":${str(dedupeKey)}`;
      if (error !== undefined) line += `,"error":${JSON.stringify(error)}`;
      if (!metricsOn) line += '}\n';
    } else {
      line = `{"service":${service}`;
    }
    if (metricsOn) line += kind.tail(timestamp, outcome.code);
    write(line);
  };
}

/**
 * The log level as Powertools Logger resolves it from the environment: Lambda's own log level
 * (`AWS_LAMBDA_LOG_LEVEL`, advanced logging controls; FATAL is CRITICAL) when set, else
 * `POWERTOOLS_LOG_LEVEL`, else `LOG_LEVEL` (either case), else INFO. Tested against Powertools.
 */
export function logLevelFromEnv(env: NodeJS.ProcessEnv): string {
  const lambda = env.AWS_LAMBDA_LOG_LEVEL === 'FATAL' ? 'CRITICAL' : env.AWS_LAMBDA_LOG_LEVEL;
  if (lambda !== undefined && LEVELS[lambda] !== undefined) return lambda;
  const own = (env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL)?.toUpperCase();
  return own !== undefined && LEVELS[own] !== undefined ? own : 'INFO';
}

export interface DeliveryLogOptions extends LineWriterOptions {
  /** Lines below this level are not written. @default 'INFO' */
  readonly logLevel?: string;
  /** The `sampling_rate` key (Powertools' `POWERTOOLS_LOGGER_SAMPLE_RATE`). @default 0 */
  readonly samplingRate?: number;
}

/**
 * The deliverer's warnings and errors (a failed PutEvents, a failed spool or body store): one
 * JSON line each with Powertools Logger's keys and order (level, message, timestamp, service,
 * sampling_rate, xray_trace_id, then the attributes). Written here rather than by Powertools
 * Logger, whose 21 KB (with its commons) would otherwise be loaded at every cold start for lines
 * a healthy function never writes (bench/README.md).
 */
export function createDeliveryLog(options: DeliveryLogOptions): DeliveryLog {
  const threshold = LEVELS[(options.logLevel ?? 'INFO').toUpperCase()] ?? 12;
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;
  const fixed = `,"service":${JSON.stringify(options.serviceName)},"sampling_rate":${options.samplingRate ?? 0}`;
  const line = (level: 'WARN' | 'ERROR', message: string, attributes: Record<string, unknown>) => {
    if ((LEVELS[level] as number) < threshold) return;
    const trace = xrayTraceId();
    const head = `{"level":"${level}","message":${JSON.stringify(message)},"timestamp":"${isoTimeOfMs(now())}"${fixed}${trace === undefined ? '' : `,"xray_trace_id":${JSON.stringify(trace)}`}`;
    const rest = JSON.stringify(attributes);
    write(`${head}${rest === '{}' ? '' : `,${rest.slice(1, -1)}`}}\n`);
  };
  return {
    warn: (message, attributes) => line('WARN', message, attributes),
    error: (message, attributes) => line('ERROR', message, attributes),
  };
}
