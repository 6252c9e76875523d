import { METRICS_NAMESPACE, UNEXPECTED_ERRORS_METRIC } from '../shared/powertools';
import type { OutcomeObserver } from './app';
import type { Outcome } from './verify';

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

export interface OutcomeObserverOptions {
  /** The `service` key of the line and the `service` dimension of every metric. */
  readonly serviceName: string;
  /**
   * Lines below this level (Powertools names: `DEBUG`, `INFO`, `WARN`, `ERROR`, `SILENT` …) are
   * not logged; their metrics still are, as a metrics-only line. @default 'INFO'
   */
  readonly logLevel?: string;
  /** Leave the metrics out (Powertools' `POWERTOOLS_METRICS_DISABLED`). @default false */
  readonly metricsDisabled?: boolean;
  /** Where each line goes, newline included. @default process.stdout (looked up on every write) */
  readonly write?: (line: string) => void;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
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
    ? (timestamp, reason) =>
        `${head}${timestamp}${middle},"Reason":${JSON.stringify(reason)},"RejectedByReason":1}\n`
    : (timestamp) => `${head}${timestamp}${middle}}\n`;
}

const TAILS = {
  published: emfTail(['Accepted'], false),
  spooled: emfTail(['Accepted', 'Spooled'], false),
  rejected: emfTail(['Rejected'], true),
  unexpected: emfTail([UNEXPECTED_ERRORS_METRIC, 'Rejected'], true),
};

function tailFor(outcome: Outcome) {
  if (outcome.error) return TAILS.unexpected;
  if (outcome.answer.statusCode >= 300) return TAILS.rejected;
  return outcome.code === 'spooled' ? TAILS.spooled : TAILS.published;
}

interface LambdaGlobal {
  awslambda?: { InvokeStore?: { getXRayTraceId?: () => string | undefined } };
}

/** The X-Ray trace id of the current invocation (the `Root` part), as Powertools Logger reads it. */
function xrayTraceId(): string | undefined {
  const value =
    (globalThis as LambdaGlobal).awslambda?.InvokeStore?.getXRayTraceId?.() ?? process.env._X_AMZN_TRACE_ID;
  if (!value) return undefined;
  const root = /(?:^|;)Root=([^;]*)/.exec(value);
  return root ? root[1] : value.includes('=') ? undefined : value;
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

  return (outcome, requestId, sourceIp) => {
    const { answer, code, event, auth, bytes, dedupeKey, error } = outcome;
    const status = answer.statusCode;
    let level: 'INFO' | 'WARN' | 'ERROR';
    let message: string;
    if (error) [level, message] = ['ERROR', 'Unexpected error; answered 503 and accepted nothing'];
    else if (status >= 500) [level, message] = ['ERROR', 'Delivery refused'];
    else if (status >= 400) [level, message] = ['WARN', 'Delivery rejected'];
    else [level, message] = ['INFO', 'Delivery accepted'];

    const logged = (LEVELS[level] as number) >= threshold;
    if (!logged && !metricsOn) return;
    const timestamp = now();
    let line: string;
    if (logged) {
      const text = JSON.stringify({
        level,
        message,
        timestamp: new Date(timestamp).toISOString(),
        service: options.serviceName,
        xray_trace_id: xrayTraceId(),
        requestId,
        sourceIp,
        status,
        code,
        event,
        auth,
        bytes,
        dedupeKey,
        error,
      });
      line = metricsOn ? text.slice(0, -1) : `${text}\n`;
    } else {
      line = `{"service":${service}`;
    }
    if (metricsOn) line += tailFor(outcome)(timestamp, code);
    write(line);
  };
}
