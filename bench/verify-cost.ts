/**
 * Warm cost per request of the verify handler against the floor on the same body.
 *
 *   handler: createVerifyHandler (lambda/verify/app.ts) with the real EventDeliverer whose
 *            publisher, spool and body store resolve at once, a static TokenSource and a no-op
 *            outcome observer; called with an API Gateway REST proxy event.
 *   floor:   what any verifier must do with the body: HMAC-SHA256 over `<timestamp>.<body>`
 *            (computeSignature) plus JSON.parse of the body text. Token mode's floor is
 *            JSON.parse plus the constant-time token comparison.
 *
 * Both sides run in this process, interleaved in rounds of short batches, after a warm-up;
 * each round yields a ns/op for each side and a ratio. Printed: the median over rounds and the
 * spread (min–max). A breakdown times the handler's own per-byte steps on the same body.
 *
 *   npx tsx bench/verify-cost.ts [--seconds 4] [--warmup 1]
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { entrySize, type BusEntry } from '../lambda/shared/contract';
import { createVerifyHandler } from '../lambda/verify/app';
import { EventDeliverer, detailText } from '../lambda/verify/delivery';
import { computeSignature } from '../lambda/verify/signature';
import { TokenSource } from '../lambda/verify/token-source';
import { matchToken } from '../lambda/verify/tokens';
import { apiEvent } from '../test/support/api-event';
import { buildFinishedBody, fmt, kb, machineLine, median, numberFlag } from './support';

const TOKEN = 'bench-webhook-token-4f1c9a7e2b8d6c3a5e0f1b2d';
const SECONDS = numberFlag('seconds', 4);
const WARMUP_SECONDS = numberFlag('warmup', 1);
const BATCH_MS = 25;
const TARGET_RATIO = 1.5;
const SIZES = [
  { label: '~2 KB', bytes: 2 * 1024 },
  { label: '~50 KB', bytes: 50 * 1024 },
  { label: '~500 KB', bytes: 500 * 1024 },
];

let sink = 0;
const counts = { published: 0, oversized: 0 };

const deliverer = new EventDeliverer({
  publisher: {
    publish: async (entry: BusEntry) => {
      counts.published++;
      sink ^= entry.detail.length;
      return 'event-id';
    },
  },
  spool: { put: async () => undefined },
  bodies: {
    put: async (key: string) => {
      counts.oversized++;
      return { bucket: 'bench-oversized', key };
    },
  },
  log: { warn: () => undefined, error: () => undefined },
});
const handler = createVerifyHandler(
  { tokens: new TokenSource(async () => JSON.stringify({ token: TOKEN })), deliverer },
  { replayWindowSeconds: 300, maxBodyBytes: 5_000_000 },
  () => undefined,
);

/** The headers API Gateway passes on for a Buildkite delivery, plus the one credential. */
function buildkiteEvent(body: string, auth: Record<string, string>): APIGatewayProxyEvent {
  return apiEvent({
    body,
    headers: {
      'Content-Type': 'application/json',
      Host: 'abcde12345.execute-api.eu-west-1.amazonaws.com',
      'User-Agent': 'Buildkite-Request',
      'X-Buildkite-Event': 'build.finished',
      'X-Buildkite-Request': '019a9f1c-6b7d-7a41-8e2c-5d3f0b9a1c27',
      'X-Amzn-Trace-Id': 'Root=1-6742b1c0-0a1b2c3d4e5f60718293a4b5',
      'X-Forwarded-For': '192.0.2.10',
      'X-Forwarded-Port': '443',
      'X-Forwarded-Proto': 'https',
      ...auth,
    },
  });
}

type Op = () => unknown;
type AsyncOp = () => Promise<unknown>;

/** ns per op and minor page faults per op of one batch. */
interface Batch {
  readonly ns: number;
  readonly faults: number;
}

function runSync(op: Op, iterations: number): Batch {
  const faults = process.resourceUsage().minorPageFault;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) op();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  return { ns, faults: (process.resourceUsage().minorPageFault - faults) / iterations };
}

async function runAsync(op: AsyncOp, iterations: number): Promise<Batch> {
  const faults = process.resourceUsage().minorPageFault;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await op();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
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

async function checkAccepted(event: APIGatewayProxyEvent, what: string): Promise<APIGatewayProxyResult> {
  const result = await handler(event);
  const status = (JSON.parse(result.body) as { status?: string }).status;
  if (result.statusCode !== 202 || status !== 'published') {
    throw new Error(`${what}: expected 202 published, got ${result.statusCode} ${result.body}`);
  }
  return result;
}

interface Row {
  size: string;
  bytes: number;
  mode: string;
  handlerUs: string;
  floorUs: string;
  ratio: string;
  ratioMedian: number;
}

async function main(): Promise<void> {
  console.log('verify-cost: verify handler warm cost per request vs the floor (HMAC-SHA256 + JSON.parse)');
  console.log(machineLine());
  console.log(
    `settings: ${SECONDS} s measured + ${WARMUP_SECONDS} s warm-up per size and mode, batches of ~${BATCH_MS} ms, sides interleaved; figures are median (min–max) over rounds`,
  );
  console.log(
    'handler: createVerifyHandler + EventDeliverer, publisher/spool/body store stubbed (resolve at once), static TokenSource, no-op observer (the deployed observer also logs a line and flushes EMF metrics: not measured here)\n',
  );

  const rows: Row[] = [];
  for (const size of SIZES) {
    const bodyText = buildFinishedBody(size.bytes);
    const rawBody = Buffer.from(bodyText, 'utf8');
    const bytes = rawBody.length;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = computeSignature(TOKEN, timestamp, rawBody);
    const signedEvent = buildkiteEvent(bodyText, {
      'X-Buildkite-Signature': `timestamp=${timestamp},signature=${signature}`,
    });
    const tokenEvent = buildkiteEvent(bodyText, { 'X-Buildkite-Token': TOKEN });

    const oversizedBefore = counts.oversized;
    await checkAccepted(signedEvent, `${size.label} signature mode`);
    await checkAccepted(tokenEvent, `${size.label} token mode`);
    const oversized = counts.oversized > oversizedBefore;

    const handlerSide = (event: APIGatewayProxyEvent): Side => ({
      name: 'handler',
      run: (n) =>
        runAsync(async () => {
          const result = await handler(event);
          sink ^= result.statusCode;
        }, n),
    });
    const signatureFloor: Side = {
      name: 'floor',
      run: (n) =>
        runSync(() => {
          sink ^= computeSignature(TOKEN, timestamp, rawBody).charCodeAt(0);
          sink ^= (JSON.parse(bodyText) as { event: string }).event.length;
        }, n),
    };
    const tokens = [TOKEN];
    const tokenFloor: Side = {
      name: 'floor',
      run: (n) =>
        runSync(() => {
          sink ^= matchToken(TOKEN, tokens) === undefined ? 0 : 1;
          sink ^= (JSON.parse(bodyText) as { event: string }).event.length;
        }, n),
    };

    console.log(
      `== ${size.label}: ${bytes} bytes build.finished body (${oversized ? 'above the 255 KB inline limit: goes to the body store behind a pointer event' : 'published inline'})`,
    );
    for (const [mode, event, floor, floorName] of [
      ['signature', signedEvent, signatureFloor, 'HMAC-SHA256 + JSON.parse'],
      ['token', tokenEvent, tokenFloor, 'token compare + JSON.parse'],
    ] as const) {
      const [hs, fs] = (await interleaved([handlerSide(event), floor], SECONDS)) as [Series, Series];
      const h = hs.ns;
      const f = fs.ns;
      const r = ratios(h, f);
      console.log(
        `  ${mode.padEnd(9)} handler ${spread(h, 1000)} µs/op | floor (${floorName}) ${spread(f, 1000)} µs/op | ratio ${spread(r)}x over ${r.length} rounds${mode === 'signature' ? (median(r) <= TARGET_RATIO ? '  [target ≤ 1.5x: PASS]' : '  [target ≤ 1.5x: MISS]') : ''}`,
      );
      console.log(
        `  ${''.padEnd(9)} minor page faults/op: handler ${fmt(median(hs.faults), 1)}, floor ${fmt(median(fs.faults), 1)}`,
      );
      rows.push({
        size: size.label,
        bytes,
        mode,
        handlerUs: spread(h, 1000),
        floorUs: spread(f, 1000),
        ratio: spread(r),
        ratioMedian: median(r),
      });
    }

    // Where the time above the floor goes: the handler's per-byte steps, timed alone.
    const delivery = {
      receivedAt: new Date().toISOString(),
      requestId: 'req-1',
      dedupeKey: 'x'.repeat(64),
      auth: 'signature' as const,
      sourceIp: '192.0.2.10',
    };
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    const steps: Side[] = [
      {
        name: 'Buffer.from(event.body) (toInboundRequest)',
        run: (n) => runSync(() => Buffer.from(bodyText, 'utf8'), n),
      },
      {
        name: 'rawBody.toString("utf8") (parseBody)',
        run: (n) => runSync(() => rawBody.toString('utf8').length, n),
      },
      {
        name: 'SHA-256 dedupe key (hex)',
        run: (n) => runSync(() => createHash('sha256').update(rawBody).digest('hex'), n),
      },
      {
        name: 'detailText + entrySize (delivery)',
        run: (n) =>
          runSync(() => {
            const detail = detailText({
              kind: 'buildkite',
              detailType: 'build.finished',
              body,
              text: bodyText,
              rawBody,
              delivery,
            });
            sink ^= entrySize({ source: 'buildkite', detailType: 'build.finished', detail, time: 'x' });
          }, n),
      },
    ];
    const stepTimes = await interleaved(steps, Math.max(1, SECONDS / 2));
    console.log('  breakdown: per-byte work the handler does and the floor does not (median per op):');
    steps.forEach((step, i) => {
      const series = stepTimes[i] as Series;
      console.log(
        `    ${step.name.padEnd(44)} ${fmt(median(series.ns) / 1000).padStart(9)} µs  ${fmt(median(series.faults), 1).padStart(6)} page faults`,
      );
    });
    console.log('');
  }

  console.log('summary (µs/op, median (min–max) over rounds):');
  console.log('| body | bytes | mode | handler µs/op | floor µs/op | ratio | target | result |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const target = row.mode === 'signature' ? '≤ 1.5x' : 'info';
    const result = row.mode === 'signature' ? (row.ratioMedian <= TARGET_RATIO ? 'PASS' : 'MISS') : '–';
    console.log(
      `| ${row.size} | ${row.bytes} (${kb(row.bytes)}) | ${row.mode} | ${row.handlerUs} | ${row.floorUs} | ${row.ratio}x | ${target} | ${result} |`,
    );
  }
  console.log(
    `\n(sink ${sink & 1}; deliveries published ${counts.published}, of which oversized ${counts.oversized})`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
