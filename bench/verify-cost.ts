/**
 * Warm cost per request of the verify handler, as deployed, against the floor on the same body,
 * and the cost per million deliveries derived from it.
 *
 *   handler: the deployed composition, `createDeployedHandler` (lambda/verify/deployed.ts, what
 *            handler.ts exports), given the adapters handler.ts gives it: the EventBridgePublisher
 *            and the Secrets Manager fetcher (lambda/verify/aws-adapters.ts) over SDK v3 clients
 *            whose `send` answers in-process (PutEvents accepted, GetSecretValue the token), a
 *            Powertools Logger for the deliverer's warnings; spool and body store resolve at once.
 *            So it runs the deployed observer (one JSON log line carrying the EMF metrics),
 *            deliverer, token source and publisher code; only the SDK's own send (middleware,
 *            signing, HTTP) is left out. Called with an API Gateway REST proxy event. The code is
 *            the esbuild bundle built as KiteFunction builds it (ESM, minified), unless
 *            `--code source`. stdout goes to /dev/null through a real write(2) per line, so the
 *            line's serialisation and write are paid.
 *   floor:   what the contract requires of any verifier: HMAC-SHA256 over `<timestamp>.<body>`,
 *            the SHA-256 dedupe key over the body, and JSON.parse of the body text. Token mode's
 *            floor has the constant-time token comparison instead of the HMAC.
 *
 * Both sides run in this process, interleaved in rounds of short batches, after a warm-up;
 * each round yields a ns/op for each side and a ratio. Printed: the median over rounds and the
 * spread (min–max). Also printed: the observer alone against two Powertools variants (Logger line
 * + Metrics flush, as before; Logger line carrying the EMF keys), the log line's bytes, and the
 * cost per million deliveries.
 *
 *   npx tsx bench/verify-cost.ts [--seconds 4] [--warmup 1] [--code bundle|source] [--sizes 2,50,500] [--clock wall|cpu]
 *     [--io-ms 30] [--cold-per-million 200] [--init-ms 250] [--rps 10] [--containers 2]
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BusEntry } from '../lambda/shared/contract';
import { KITE_BUNDLING, kiteEsbuildOptions } from '../lib/constructs/kite-bundling';
import { METRICS_NAMESPACE, UNEXPECTED_ERRORS_METRIC } from '../lambda/shared/metric-names';
import { createLogger, createMetrics } from '../lambda/shared/powertools';
import type { EventBridgePublisher } from '../lambda/shared/event-bridge-publisher';
import type { secretsManagerFetcher } from '../lambda/verify/aws-adapters';
import type { createDeployedHandler, DeployedAdapters } from '../lambda/verify/deployed';
import type { createOutcomeObserver } from '../lambda/verify/observer';
import type { OutcomeObserver } from '../lambda/verify/ports';
import { computeSignature } from '../lambda/verify/signature';
import { matchToken } from '../lambda/verify/tokens';
import type { Outcome } from '../lambda/verify/types';
import { outcomeLogFields } from '../support/outcome-fields';
import {
  buildFinishedBody,
  buildkiteDeliveryEvent,
  fmt,
  kb,
  machineLine,
  median,
  numberFlag,
  PROJECT_ROOT,
  stdoutToNull,
  stringFlag,
} from './support';

const print = stdoutToNull();

const TOKEN = 'bench-webhook-token-4f1c9a7e2b8d6c3a5e0f1b2d';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-webhook-AbCdEf';
const SECONDS = numberFlag('seconds', 4);
const WARMUP_SECONDS = numberFlag('warmup', 1);
const CODE = stringFlag('code', 'bundle');
const BATCH_MS = 25;
/** `--sizes 2` (KB, comma-separated) runs only those sizes: quicker while iterating on one. */
const ONLY_KB = stringFlag('sizes', '2,50,500').split(',').map(Number);
const SIZES = [
  { label: '~2 KB', bytes: 2 * 1024, target: 2 },
  { label: '~50 KB', bytes: 50 * 1024, target: 1.5 },
  { label: '~500 KB', bytes: 500 * 1024, target: 1.5 },
].filter((size) => ONLY_KB.includes(size.bytes / 1024));

/**
 * List prices, us-east-1, on-demand, first pricing tier each, as the AWS pricing pages gave them
 * in 2025 (not re-checked from this machine: it has no internet access). Change them here for
 * another region or a newer price list.
 */
const PRICES = {
  region: 'us-east-1',
  date: '2025 (not re-checked)',
  /** API Gateway REST API: per million requests (first 333 million a month). */
  apiGatewayRestPerMillion: 3.5,
  /** Lambda: per million requests. */
  lambdaRequestsPerMillion: 0.2,
  /** Lambda arm64 duration, per GB-second (first 7.5 billion GB-s a month); init is billed alike since 2025-08-01. */
  lambdaArmPerGbSecond: 0.0000133334,
  /** Lambda arm64 provisioned concurrency, per GB-second provisioned. */
  lambdaArmProvisionedPerGbSecond: 0.0000033334,
  /** Lambda arm64 duration on provisioned concurrency, per GB-second. */
  lambdaArmProvisionedDurationPerGbSecond: 0.0000077778,
  /** EventBridge custom-bus PutEvents: per million events, each 64 KB chunk of an entry counted as one. */
  eventBridgePutEventsPerMillion: 1.0,
  /** CloudWatch Logs ingestion (Lambda logs, first tier; Standard class), per GB. */
  cloudWatchLogsPerGb: 0.5,
  /** Secrets Manager: per 10,000 API calls. */
  secretsManagerPer10kCalls: 0.05,
};

/** The verify function's memory (lib/constructs/ingress.ts) and Lambda's CPU share for it. */
const MEMORY_MB = 1024;
/** Lambda gives a full vCPU at 1,769 MB, proportionally less below. */
const FULL_VCPU_MB = 1769;
/** Assumptions (flags): not measurable on this machine. */
/** The PutEvents round trip the capacity simulation assumes (README, Capacity). */
const IO_MS = numberFlag('io-ms', 30);
const COLD_PER_MILLION = numberFlag('cold-per-million', 200);
/**
 * Billed init: the capacity simulation's cold start (README, Capacity). bench:bundle measures
 * 56–63 ms of module init on Node 24; Lambda's runtime start comes on top.
 */
const INIT_MS = numberFlag('init-ms', 250);
const RPS = numberFlag('rps', 10);
const CONTAINERS = numberFlag('containers', 2);
/** CloudWatch Logs counts 26 bytes of metadata per log event. */
const LOG_EVENT_OVERHEAD_BYTES = 26;
/** Lambda's own lines per invocation in JSON log format (platform.start + platform.report): an estimate, not measured here. */
const PLATFORM_LOG_BYTES = 600;

interface VerifyCode {
  readonly EventBridgeClient: typeof EventBridgeClient;
  readonly SecretsManagerClient: typeof SecretsManagerClient;
  readonly EventBridgePublisher: typeof EventBridgePublisher;
  readonly secretsManagerFetcher: typeof secretsManagerFetcher;
  readonly createDeployedHandler: typeof createDeployedHandler;
  readonly createOutcomeObserver: typeof createOutcomeObserver;
}

/** The modules the bench takes from the verify code: the deployed composition and its AWS adapters. */
const VERIFY_MODULES = [
  ['EventBridgeClient', '@aws-sdk/client-eventbridge'],
  ['SecretsManagerClient', '@aws-sdk/client-secrets-manager'],
  ['EventBridgePublisher', './lambda/shared/event-bridge-publisher'],
  ['secretsManagerFetcher', './lambda/verify/aws-adapters'],
  ['createDeployedHandler', './lambda/verify/deployed'],
  ['createOutcomeObserver', './lambda/verify/observer'],
] as const;

/** The verify code as the bundle KiteFunction ships holds it (built with KiteFunction's esbuild options), or the sources. */
async function loadVerifyCode(): Promise<VerifyCode> {
  if (CODE === 'source') {
    return {
      ...(await import('@aws-sdk/client-eventbridge')),
      ...(await import('@aws-sdk/client-secrets-manager')),
      ...(await import('../lambda/shared/event-bridge-publisher')),
      ...(await import('../lambda/verify/aws-adapters')),
      ...(await import('../lambda/verify/deployed')),
      ...(await import('../lambda/verify/observer')),
    };
  }
  if (CODE !== 'bundle') throw new Error('--code must be bundle or source');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'verify-cost-'));
  const outfile = path.join(dir, 'verify.mjs');
  await build({
    ...kiteEsbuildOptions(),
    stdin: {
      contents: VERIFY_MODULES.map(([name, from]) => `export { ${name} } from '${from}';`).join('\n'),
      resolveDir: PROJECT_ROOT,
      loader: 'ts',
    },
    outfile,
    logLevel: 'error',
  });
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  try {
    return (await import(pathToFileURL(outfile).href)) as VerifyCode;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The observer handler.ts had before observer.ts, for comparison in the observers-alone table: a Powertools
 * Logger line and a Powertools Metrics flush (two EMF lines when rejected) per request.
 */
function previousObserver(): OutcomeObserver {
  const logger = createLogger('verify');
  const metrics = createMetrics('verify');
  return (outcome, requestId, sourceIp) => {
    const { answer, code, event, auth, bytes, dedupeKey, error } = outcome;
    const fields = { requestId, sourceIp, status: answer.statusCode, code, event, auth, bytes, dedupeKey };
    if (error) {
      logger.error('Unexpected error; answered 503 and accepted nothing', { ...fields, error });
      metrics.addMetric(UNEXPECTED_ERRORS_METRIC, MetricUnit.Count, 1);
    } else if (answer.statusCode >= 500) logger.error('Delivery refused', fields);
    else if (answer.statusCode >= 400) logger.warn('Delivery rejected', fields);
    else logger.info('Delivery accepted', fields);
    metrics.addMetric(answer.statusCode < 300 ? 'Accepted' : 'Rejected', MetricUnit.Count, 1);
    if (code === 'spooled') metrics.addMetric('Spooled', MetricUnit.Count, 1);
    if (answer.statusCode >= 400) {
      const single = metrics.singleMetric();
      single.addDimension('Reason', code);
      single.addMetric('RejectedByReason', MetricUnit.Count, 1);
    }
    metrics.publishStoredMetrics();
  };
}

/** Powertools kept, configured for the hot path: its Logger writes one line that carries the EMF keys. */
function powertoolsOneLineObserver(): OutcomeObserver {
  const logger = createLogger('verify');
  const directives = [
    {
      Namespace: METRICS_NAMESPACE,
      Dimensions: [['service']],
      Metrics: [{ Name: 'Accepted', Unit: 'Count' }],
    },
  ];
  return (outcome, requestId, sourceIp) => {
    logger.info('Delivery accepted', {
      ...outcomeLogFields(outcome, requestId, sourceIp),
      _aws: { Timestamp: Date.now(), CloudWatchMetrics: directives },
      Accepted: 1,
    });
  };
}

let sink = 0;
const counts = { published: 0, oversized: 0 };

type Op = () => unknown;
type AsyncOp = () => Promise<unknown>;

/** ns per op and minor page faults per op of one batch. */
interface Batch {
  readonly ns: number;
  readonly faults: number;
}

/**
 * `--clock wall` (default): elapsed time. `--clock cpu`: CPU time of the process (user + system,
 * all its threads, so garbage collection on helper threads counts too), which time spent waiting
 * for a core on a loaded machine does not inflate; microsecond resolution, ample for 25 ms batches.
 */
const CLOCK = stringFlag('clock', 'wall');
if (CLOCK !== 'wall' && CLOCK !== 'cpu') throw new Error('--clock must be wall or cpu');

/** A reading of the chosen clock, in nanoseconds. */
function clockNs(): number {
  if (CLOCK === 'wall') return Number(process.hrtime.bigint());
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

function runSync(op: Op, iterations: number): Batch {
  const faults = process.resourceUsage().minorPageFault;
  const start = clockNs();
  for (let i = 0; i < iterations; i++) op();
  const ns = (clockNs() - start) / iterations;
  return { ns, faults: (process.resourceUsage().minorPageFault - faults) / iterations };
}

async function runAsync(op: AsyncOp, iterations: number): Promise<Batch> {
  const faults = process.resourceUsage().minorPageFault;
  const start = clockNs();
  for (let i = 0; i < iterations; i++) await op();
  const ns = (clockNs() - start) / iterations;
  return { ns, faults: (process.resourceUsage().minorPageFault - faults) / iterations };
}

/** Iterations that take about BATCH_MS, from a first estimate of the cost of one. */
function batchSize(nsPerOp: number): number {
  return Math.max(1, Math.round((BATCH_MS * 1e6) / nsPerOp));
}

interface Side {
  readonly name: string;
  readonly run: (iterations: number) => Promise<Batch> | Batch;
}

interface Series {
  /** ns/op of each round. */
  readonly ns: number[];
  /** Minor page faults per op of each round. */
  readonly faults: number[];
}

/** Warms every side up, then runs them in interleaved rounds; returns each side's rounds. */
async function interleaved(sides: readonly Side[], seconds: number): Promise<Series[]> {
  const batches: number[] = [];
  for (const side of sides) {
    let n = 1;
    let { ns } = await side.run(n);
    const warmEnd = Date.now() + (WARMUP_SECONDS * 1000) / sides.length;
    while (Date.now() < warmEnd) {
      n = batchSize(ns);
      ({ ns } = await side.run(n));
    }
    batches.push(batchSize(ns));
  }
  const results: Series[] = sides.map(() => ({ ns: [], faults: [] }));
  const end = Date.now() + seconds * 1000;
  for (let round = 0; Date.now() < end || round < 5; round++) {
    for (let s = 0; s < sides.length; s++) {
      const batch = await (sides[s] as Side).run(batches[s] as number);
      (results[s] as Series).ns.push(batch.ns);
      (results[s] as Series).faults.push(batch.faults);
    }
  }
  return results;
}

function spread(values: readonly number[], unit = 1, digits = 2): string {
  return `${fmt(median(values) / unit, digits)} (${fmt(Math.min(...values) / unit, digits)}–${fmt(Math.max(...values) / unit, digits)})`;
}

function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, i) => value / (b[i] as number));
}

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** What `run` writes to process.stdout (the deployed observer's default sink), instead of writing it. */
async function captureStdout(run: () => Promise<unknown>): Promise<string> {
  const write = process.stdout.write;
  let text = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return text;
}

async function checkAccepted(handler: Handler, event: APIGatewayProxyEvent, what: string): Promise<void> {
  const result = await handler(event);
  const status = (JSON.parse(result.body) as { status?: string }).status;
  if (result.statusCode !== 202 || status !== 'published') {
    throw new Error(`${what}: expected 202 published, got ${result.statusCode} ${result.body}`);
  }
}

interface Row {
  size: string;
  bytes: number;
  mode: string;
  handlerUs: string;
  floorUs: string;
  ratio: string;
  ratioMedian: number;
  target?: number;
}

/** What one size's deployed handler measured, for the cost model. */
interface CostInput {
  readonly size: string;
  readonly bodyBytes: number;
  readonly handlerUs: number;
  readonly logLineBytes: number;
  /** The line an accepted delivery writes at log level WARN: its EMF metrics only. */
  readonly metricsOnlyBytes: number;
  /** EventBridge bills each 64 KB chunk of an entry as one event. */
  readonly putEventsChunks: number;
  readonly oversized: boolean;
}

function verdict(ratio: number, target: number): string {
  return ratio <= target ? 'PASS' : 'MISS';
}

async function main(): Promise<void> {
  const code = await loadVerifyCode();
  let lastEntry: BusEntry | undefined;
  const clientOptions = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  };
  // The SDK clients handler.ts builds, each `send` answered here: PutEvents accepts the entry,
  // GetSecretValue (called once: the fetcher caches it for 300 s) returns the token.
  const eventBridge = new code.EventBridgeClient(clientOptions);
  eventBridge.send = (async (command: {
    input: { Entries: { Detail: string; Source: string; DetailType: string }[] };
  }) => {
    const [first] = command.input.Entries;
    if (first) {
      counts.published++;
      lastEntry = { source: first.Source, detailType: first.DetailType, detail: first.Detail };
      sink ^= first.Detail.length;
    }
    return { FailedEntryCount: 0, Entries: [{ EventId: 'event-id' }] };
  }) as unknown as typeof eventBridge.send;
  const secretsManager = new code.SecretsManagerClient(clientOptions);
  secretsManager.send = (async () => ({
    SecretString: JSON.stringify({ token: TOKEN }),
  })) as unknown as typeof secretsManager.send;
  // The adapters handler.ts gives the deployed composition, over those clients; the spool and
  // the body store (lazy chunks over SQS and S3 as deployed) resolve at once.
  const adapters: DeployedAdapters = {
    publisher: new code.EventBridgePublisher(eventBridge, 'kitebridge-bench'),
    spool: { put: async () => undefined },
    bodies: {
      put: async (key: string) => {
        counts.oversized++;
        return { bucket: 'bench-oversized', key };
      },
    },
    secret: (arn) => code.secretsManagerFetcher(secretsManager, arn, { maxAgeMs: 300_000 }),
  };
  // The function's environment as the stack sets it: POWERTOOLS_LOG_LEVEL=INFO, metrics on.
  const env: NodeJS.ProcessEnv = {
    WEBHOOK_SECRET_ARN: SECRET_ARN,
    REPLAY_WINDOW_SECONDS: '300',
    MAX_BODY_BYTES: '5000000',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  const handler = code.createDeployedHandler(env, adapters);
  // At POWERTOOLS_LOG_LEVEL=WARN an accepted delivery writes its metrics only.
  const quietHandler = code.createDeployedHandler({ ...env, POWERTOOLS_LOG_LEVEL: 'WARN' }, adapters);
  const observerOptions = { serviceName: 'verify', logLevel: 'INFO', metricsDisabled: false };

  print(
    'verify-cost: verify handler warm cost per request, as deployed, vs the floor (HMAC-SHA256 + SHA-256 + JSON.parse)',
  );
  print(machineLine());
  print(
    `settings: ${SECONDS} s measured + ${WARMUP_SECONDS} s warm-up per size and mode, batches of ~${BATCH_MS} ms, sides interleaved, ${CLOCK === 'cpu' ? 'process CPU time (--clock cpu)' : 'wall-clock time'}; figures are median (min–max) over rounds`,
  );
  print(
    `handler: ${CODE === 'bundle' ? `esbuild bundle of the verify code (KiteFunction's options: ESM, minified, target ${KITE_BUNDLING.target})` : 'TypeScript sources through tsx'}; createDeployedHandler (lambda/verify/deployed.ts, as handler.ts) with handler.ts's adapters: EventBridgePublisher and the Secrets Manager fetcher over SDK clients whose send answers in-process, spool/body store resolving at once; the deployed observer writes one log line with EMF metrics per request to stdout → /dev/null\n`,
  );

  const rows: Row[] = [];
  const costs: CostInput[] = [];
  for (const size of SIZES) {
    const bodyText = buildFinishedBody(size.bytes);
    const rawBody = Buffer.from(bodyText, 'utf8');
    const bytes = rawBody.length;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = computeSignature(TOKEN, timestamp, rawBody);
    const signedEvent = buildkiteDeliveryEvent(bodyText, {
      'X-Buildkite-Signature': `timestamp=${timestamp},signature=${signature}`,
    });
    const tokenEvent = buildkiteDeliveryEvent(bodyText, { 'X-Buildkite-Token': TOKEN });
    // A build.finished is keyed by build id and state (delivery.dedupeKey), so the handler hashes
    // no body for it; every other event is keyed by the body's SHA-256, as the floor is. The same
    // body as build.running measures that path: the floor's work, step for step.
    const hashedText = bodyText.replace('"event":"build.finished"', '"event":"build.running"');
    if (hashedText === bodyText) throw new Error('the body has no "event":"build.finished" to rename');
    const hashedBody = Buffer.from(hashedText, 'utf8');
    const hashedSignature = computeSignature(TOKEN, timestamp, hashedBody);
    const hashedEvent = buildkiteDeliveryEvent(
      hashedText,
      { 'X-Buildkite-Signature': `timestamp=${timestamp},signature=${hashedSignature}` },
      'build.running',
    );

    const oversizedBefore = counts.oversized;
    await checkAccepted(handler, signedEvent, `${size.label} signature mode`);
    const entry = lastEntry as BusEntry;
    await checkAccepted(handler, tokenEvent, `${size.label} token mode`);
    await checkAccepted(handler, hashedEvent, `${size.label} build.running`);
    const oversized = counts.oversized > oversizedBefore;
    // The log line of this request as the deployed observer writes it (to process.stdout), and
    // the metrics-only line of the same request at log level WARN.
    const logLine = await captureStdout(() => handler(signedEvent));
    const metricsOnlyLine = await captureStdout(() => quietHandler(signedEvent));
    const entryBytes =
      Buffer.byteLength(entry.source) + Buffer.byteLength(entry.detailType) + Buffer.byteLength(entry.detail);

    const handlerSide = (name: string, h: Handler, event: APIGatewayProxyEvent): Side => ({
      name,
      run: (n) =>
        runAsync(async () => {
          const result = await h(event);
          sink ^= result.statusCode;
        }, n),
    });
    const signatureFloor: Side = {
      name: 'floor',
      run: (n) =>
        runSync(() => {
          sink ^= computeSignature(TOKEN, timestamp, rawBody).charCodeAt(0);
          sink ^= createHash('sha256').update(rawBody).digest('hex').charCodeAt(0);
          sink ^= (JSON.parse(bodyText) as { event: string }).event.length;
        }, n),
    };
    const tokens = [TOKEN];
    const tokenFloor: Side = {
      name: 'floor',
      run: (n) =>
        runSync(() => {
          sink ^= matchToken(TOKEN, tokens) === undefined ? 0 : 1;
          sink ^= createHash('sha256').update(rawBody).digest('hex').charCodeAt(0);
          sink ^= (JSON.parse(bodyText) as { event: string }).event.length;
        }, n),
    };

    print(
      `== ${size.label}: ${bytes} bytes build.finished body (${oversized ? 'above the 255 KB inline limit: goes to the body store behind a pointer event' : 'published inline'}); log line ${Buffer.byteLength(logLine)} bytes; bus entry ${entryBytes} bytes`,
    );
    // Signature mode: the deployed handler on both bodies and the floor, interleaved.
    const [hs, ks, fs] = (await interleaved(
      [
        handlerSide('handler', handler, signedEvent),
        handlerSide('handler, build.running', handler, hashedEvent),
        signatureFloor,
      ],
      SECONDS,
    )) as [Series, Series, Series];
    const r = ratios(hs.ns, fs.ns);
    const kr = ratios(ks.ns, fs.ns);
    print(
      `  signature handler ${spread(hs.ns, 1000)} µs/op | floor (HMAC-SHA256 + SHA-256 + JSON.parse) ${spread(fs.ns, 1000)} µs/op | ratio ${spread(r)}x over ${r.length} rounds  [target ≤ ${size.target}x: ${verdict(median(r), size.target)}]`,
    );
    print(
      `            the same body as build.running (SHA-256 dedupe key, as the floor): ${spread(ks.ns, 1000)} µs/op, ratio ${spread(kr)}x  [target ≤ ${size.target}x: ${verdict(median(kr), size.target)}]`,
    );
    print(
      `            minor page faults/op: handler ${fmt(median(hs.faults), 1)}, build.running ${fmt(median(ks.faults), 1)}, floor ${fmt(median(fs.faults), 1)}`,
    );
    rows.push(
      {
        size: size.label,
        bytes,
        mode: 'signature',
        handlerUs: spread(hs.ns, 1000),
        floorUs: spread(fs.ns, 1000),
        ratio: spread(r),
        ratioMedian: median(r),
        target: size.target,
      },
      {
        size: size.label,
        bytes: hashedBody.length,
        mode: 'signature, as build.running (SHA-256 key)',
        handlerUs: spread(ks.ns, 1000),
        floorUs: spread(fs.ns, 1000),
        ratio: spread(kr),
        ratioMedian: median(kr),
        target: size.target,
      },
    );

    const [ts, tf] = (await interleaved(
      [handlerSide('handler', handler, tokenEvent), tokenFloor],
      SECONDS,
    )) as [Series, Series];
    const tr = ratios(ts.ns, tf.ns);
    print(
      `  token     handler ${spread(ts.ns, 1000)} µs/op | floor (token compare + SHA-256 + JSON.parse) ${spread(tf.ns, 1000)} µs/op | ratio ${spread(tr)}x over ${tr.length} rounds (info)`,
    );
    rows.push({
      size: size.label,
      bytes,
      mode: 'token',
      handlerUs: spread(ts.ns, 1000),
      floorUs: spread(tf.ns, 1000),
      ratio: spread(tr),
      ratioMedian: median(tr),
    });
    costs.push({
      size: size.label,
      bodyBytes: bytes,
      handlerUs: median(hs.ns) / 1000,
      logLineBytes: Buffer.byteLength(logLine),
      metricsOnlyBytes: Buffer.byteLength(metricsOnlyLine),
      putEventsChunks: Math.max(1, Math.ceil(entryBytes / (64 * 1024))),
      oversized,
    });
    print('');
  }

  // The observer alone, on an accepted outcome: what the log line and metrics cost per request.
  const outcome: Outcome = {
    answer: { statusCode: 202, body: { id: 'req-1', status: 'published' } },
    code: 'published',
    event: 'build.finished',
    auth: 'signature',
    bytes: 51273,
    dedupeKey: 'f'.repeat(64),
  };
  const observers: [string, OutcomeObserver][] = [
    ['deployed: one line, log + EMF (observer.ts)', code.createOutcomeObserver(observerOptions)],
    ['Powertools Logger, one line with the EMF keys', powertoolsOneLineObserver()],
    ['previous: Powertools Logger line + Metrics flush', previousObserver()],
  ];
  const observerSides = observers.map(([name, observe]): Side => ({
    name,
    run: (n) => runSync(() => observe(outcome, 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', '192.0.2.10'), n),
  }));
  const observerTimes = await interleaved(observerSides, Math.max(1, SECONDS / 2));
  print('observer alone, accepted outcome (median µs/op; stdout → /dev/null):');
  observers.forEach(([name], i) => {
    print(`  ${name.padEnd(50)} ${fmt(median((observerTimes[i] as Series).ns) / 1000).padStart(7)} µs`);
  });
  print('');

  print('summary (µs/op, median (min–max) over rounds):');
  print('| body | bytes | mode | handler µs/op | floor µs/op | ratio | target | result |');
  print('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const target = row.target === undefined ? 'info' : `≤ ${row.target}x`;
    const result = row.target === undefined ? '–' : verdict(row.ratioMedian, row.target);
    print(
      `| ${row.size} | ${row.bytes} (${kb(row.bytes)}) | ${row.mode} | ${row.handlerUs} | ${row.floorUs} | ${row.ratio}x | ${target} | ${result} |`,
    );
  }
  printCosts(costs);
  print(
    `\n(sink ${sink & 1}; deliveries published ${counts.published}, of which oversized ${counts.oversized})`,
  );
}

/** Cost per million deliveries from the measured figures, the prices and the stated assumptions. */
function printCosts(costs: readonly CostInput[]): void {
  print(
    `\ncost per million deliveries, ${PRICES.region} prices of ${PRICES.date}, arm64, ${MEMORY_MB} MB, signature mode, accepted:`,
  );
  print(
    `  measured here: handler µs/op above (scaled by ${FULL_VCPU_MB}/memory MB for Lambda's CPU share; this machine's CPU, not Graviton), log line bytes, bus entry bytes`,
  );
  print(
    `  assumed (flags): ${IO_MS} ms waiting on PutEvents per request (--io-ms; twice that for an oversized body's S3 put first), ${COLD_PER_MILLION} cold starts per million (--cold-per-million) of ${INIT_MS} ms billed init (--init-ms), ${RPS} req/s on ${CONTAINERS} warm containers (--rps, --containers) for Secrets Manager, ${PLATFORM_LOG_BYTES} bytes of Lambda platform lines and ${LOG_EVENT_OVERHEAD_BYTES} bytes of metadata per log event`,
  );
  print(
    '| body | API Gateway | Lambda requests | Lambda duration (billed ms) | Lambda init | EventBridge (64 KB chunks) | CloudWatch Logs (bytes/request) | Secrets Manager (calls) | total $/million |',
  );
  print('|---|---|---|---|---|---|---|---|---|');
  for (const c of costs) {
    const cost = costPerMillion(c, MEMORY_MB, c.logLineBytes);
    print(
      `| ${c.size} | $${fmt(cost.api)} | $${fmt(cost.requests)} | $${fmt(cost.duration)} (${cost.billedMs} ms) | $${fmt(cost.init, 3)} | $${fmt(cost.events)} (${c.putEventsChunks}) | $${fmt(cost.logs, 3)} (${cost.logBytes}) | $${fmt(cost.secrets, 4)} (${Math.round(cost.secretCalls)}) | **$${fmt(cost.total)}** |`,
    );
  }
  const c = costs[0] as CostInput;
  print(`levers, on the ${c.size} body (total $/million; the other lines unchanged):`);
  for (const memory of [256, 512, MEMORY_MB, 1769]) {
    const cost = costPerMillion(c, memory, c.logLineBytes);
    print(
      `  memory ${String(memory).padStart(4)} MB: duration $${fmt(cost.duration)} (${cost.billedMs} ms billed), init $${fmt(cost.init, 3)}, total $${fmt(cost.total)}`,
    );
  }
  const quiet = costPerMillion(c, MEMORY_MB, c.metricsOnlyBytes);
  print(
    `  log level WARN: an accepted delivery writes its metrics only (${c.metricsOnlyBytes} bytes instead of ${c.logLineBytes}): CloudWatch Logs $${fmt(quiet.logs, 3)}, total $${fmt(quiet.total)}`,
  );
  const gb = MEMORY_MB / 1024;
  const instanceMonth = gb * 730 * 3600 * PRICES.lambdaArmProvisionedPerGbSecond;
  const provisioned = costPerMillion(c, MEMORY_MB, c.logLineBytes, true);
  print(
    `  provisioned concurrency: $${fmt(instanceMonth)} per environment-month (730 h) at ${MEMORY_MB} MB whatever the traffic; on it, no billed on-demand init and duration at $${PRICES.lambdaArmProvisionedDurationPerGbSecond}/GB-s: total $${fmt(provisioned.total)} per million before the monthly charge`,
  );
}

/** The cost lines of a million accepted deliveries of one size. */
function costPerMillion(c: CostInput, memoryMb: number, logLineBytes: number, provisioned = false) {
  const gb = memoryMb / 1024;
  const cpuScale = Math.max(1, FULL_VCPU_MB / memoryMb);
  // Lambda bills duration in 1 ms steps, rounded up.
  const billedMs = Math.ceil((c.handlerUs / 1000) * cpuScale + IO_MS * (c.oversized ? 2 : 1));
  const api = PRICES.apiGatewayRestPerMillion;
  const requests = PRICES.lambdaRequestsPerMillion;
  const durationPrice = provisioned
    ? PRICES.lambdaArmProvisionedDurationPerGbSecond
    : PRICES.lambdaArmPerGbSecond;
  const duration = 1e6 * (billedMs / 1000) * gb * durationPrice;
  const init = provisioned ? 0 : COLD_PER_MILLION * (INIT_MS / 1000) * gb * PRICES.lambdaArmPerGbSecond;
  const events = c.putEventsChunks * PRICES.eventBridgePutEventsPerMillion;
  const logBytes = logLineBytes + LOG_EVENT_OVERHEAD_BYTES + PLATFORM_LOG_BYTES;
  const logs = ((1e6 * logBytes) / 1024 ** 3) * PRICES.cloudWatchLogsPerGb;
  // One GetSecretValue per warm container per 5 minutes; a million deliveries take 1e6 / RPS seconds.
  const secretCalls = CONTAINERS * (1e6 / RPS / 300);
  const secrets = (secretCalls / 10_000) * PRICES.secretsManagerPer10kCalls;
  const total = api + requests + duration + init + events + logs + secrets;
  return { billedMs, api, requests, duration, init, events, logBytes, logs, secretCalls, secrets, total };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
