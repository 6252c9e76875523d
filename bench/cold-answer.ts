/**
 * Cold start of the verify function to its first answer: process start → the first request
 * answered, on Node 24, through the bundle as deployed and the real AWS SDK v3 clients, with AWS
 * answered by a stand-in over loopback HTTP. bench/bundle.ts measures init alone (process start →
 * handler module imported); a client built on first use lowers that figure but moves its work
 * into the first request. This measures where it lands.
 *
 * Each measurement is a fresh Node 24 process (bench/cold-support.ts, as bundle.ts runs them) that
 * imports the bundle (`init`: performance.now(), which counts from process start), calls
 * `handler(event)` once with an API Gateway REST proxy event of a signed ~2 KB Buildkite
 * `build.finished` delivery, and takes `answer` when the promise resolves (202 required), with
 * the process's CPU time at both points. The handler's log line goes to /dev/null (the child's
 * stdout); the figures come back on fd 3.
 *
 * AWS is a `node:http` server in this process on 127.0.0.1 speaking the JSON 1.1 protocol:
 * `secretsmanager.GetSecretValue` answers the webhook secret `{"token": …}`, `AWSEvents.PutEvents`
 * accepts the entry. The children get `AWS_ENDPOINT_URL` pointing at it (the clients use the
 * default configuration chain) and dummy credentials, so the SDK signs, serialises and sends each
 * call over a real socket. Every child must make exactly the calls expected of it, else the run
 * fails.
 *
 * Variants, interleaved with the order rotating each run:
 *   1. reference publisher: a split-built module that constructs one EventBridgeClient (bundle.ts's
 *      reference) and answers 202 after one PutEvents of a ~2 KB entry;
 *   2. verify as deployed: lambda/verify/handler.ts split as KiteFunction splits it;
 *   3. verify with the Secrets Manager client built on first use (an experiment, not the product):
 *      handler.ts with its `new SecretsManagerClient(…)` moved into the first `send`;
 *   4. the same with the client in a lazy adapter of its own, imported on that first `send`
 *      (experiment: the pattern of the SQS spool and S3 body store).
 *
 *   npx tsx bench/cold-answer.ts [--runs 40] [--keep] [--node <path>]
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { computeSignature } from '../lambda/verify/signature';
import { LAZY_AWS_ADAPTER_IMPORT } from '../lib/constructs/kite-bundling';
import {
  REFERENCE_CLIENT,
  bootstrapRatioInterval,
  interleaved,
  lambdaEnv,
  node24,
  nodeVersionOf,
  pairedRatio,
  splitBuild,
  type SplitBuilt,
  writeBenchEntry,
} from './cold-support';
import {
  PROJECT_ROOT,
  buildFinishedBody,
  buildkiteDeliveryEvent,
  fmt,
  kb,
  machineLine,
  median,
  numberFlag,
  quantile,
} from './support';

const RUNS = numberFlag('runs', 40);
const KEEP = process.argv.includes('--keep');
const INIT_RATIO_TARGET = 1.05;
const TOKEN = 'bench-webhook-token-4f1c9a7e2b8d6c3a5e0f1b2d';
const BODY = buildFinishedBody(2 * 1024);

/** AWS operations (`X-Amz-Target`) and how many of each a child must call. */
type Calls = Readonly<Record<string, number>>;

interface Variant {
  readonly name: string;
  readonly short: string;
  /** The entry the split build starts from. */
  readonly entry: string;
  readonly expected: Calls;
}

/** One child's figures, all in milliseconds from its process start (CPU: user + system). */
interface Answer {
  readonly init: number;
  readonly answer: number;
  readonly initCpu: number;
  readonly answerCpu: number;
}

const first = (a: Answer) => a.answer - a.init;
const firstCpu = (a: Answer) => a.answerCpu - a.initCpu;

/**
 * The reference publisher: bundle.ts's reference client, and a handler that puts one entry of
 * the delivery's size on the bus and answers 202, as a verifier that does nothing else would.
 */
const REFERENCE_PUBLISHER = [
  "import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';",
  `const client = ${REFERENCE_CLIENT};`,
  `const detail = ${JSON.stringify(BODY)};`,
  'export const handler = async () => {',
  "  await client.send(new PutEventsCommand({ Entries: [{ EventBusName: process.env.EVENT_BUS_NAME, Source: 'kitebridge.buildkite', DetailType: 'build.finished', Detail: detail }] }));",
  '  return { statusCode: 202, body: \'{"accepted":true}\' };',
  '};',
].join('\n');

/** handler.ts's client, as the source reads: an edit of the experiment variants replaces it. */
const BUILT_AT_IMPORT = 'const secretsManager = new SecretsManagerClient(clientConfig);';
/** handler.ts's import of the client's package. */
const CLIENT_IMPORT = "import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';";

/** An edit of handler.ts: each `[from, to]` replaces text the source must hold. */
type Edit = readonly [from: string, to: string];

/** Variant 3: the same client, built on its first `send` (the fetch of the secret). */
const ON_FIRST_USE: readonly Edit[] = [
  [
    BUILT_AT_IMPORT,
    [
      'let secretsManagerClient: SecretsManagerClient | undefined;',
      'const secretsManager = {',
      '  send: (command: never) => (secretsManagerClient ??= new SecretsManagerClient(clientConfig)).send(command),',
      '} as unknown as SecretsManagerClient;',
    ].join('\n'),
  ],
];

/**
 * Variant 4: the client built by a lazy adapter of its own, `./aws-secrets-manager-client`
 * (the pattern of handler.ts's SQS spool and S3 body store: built apart by the split build,
 * imported on first use), so the client and its runtime configuration leave the startup files.
 * aws-adapters.ts still imports `GetSecretValueCommand` statically: the command and its schema
 * stay.
 */
const IMPORTED_ON_FIRST_USE: readonly Edit[] = [
  [CLIENT_IMPORT, CLIENT_IMPORT.replace('import {', 'import type {')],
  [
    BUILT_AT_IMPORT,
    [
      'let secretsManagerClient: Promise<SecretsManagerClient> | undefined;',
      'const secretsManager = {',
      '  send: async (command: never) => {',
      "    secretsManagerClient ??= import('./aws-secrets-manager-client').then((m) => m.createSecretsManagerClient(clientConfig));",
      '    return (await secretsManagerClient).send(command);',
      '  },',
      '} as unknown as SecretsManagerClient;',
    ].join('\n'),
  ],
];
/** Variant 4's lazy adapter. */
const SECRETS_CLIENT_ADAPTER = [
  "import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';",
  'export const createSecretsManagerClient = (config: SecretsManagerClientConfig) => new SecretsManagerClient(config);',
].join('\n');

/**
 * lambda/verify/handler.ts with `edits` applied, written into the bench cache as `name` with its
 * static imports made absolute. Its lazy adapter imports (`import('./aws-…')`) stay as they are,
 * each next to a file there that re-exports the adapter, so the split build treats them as it
 * treats handler.ts's: built apart, loaded on first use. Returns the entry.
 */
function writeVerifyVariant(name: string, edits: readonly Edit[]): string {
  const dir = path.join(PROJECT_ROOT, 'lambda', 'verify');
  let source = readFileSync(path.join(dir, 'handler.ts'), 'utf8');
  for (const [from, to] of edits) {
    if (!source.includes(from)) {
      throw new Error(
        `lambda/verify/handler.ts no longer has \`${from}\`: update the edits of the experiment variants in bench/cold-answer.ts to the lines that import and build the Secrets Manager client.`,
      );
    }
    source = source.replace(from, to);
  }
  for (const [, rel] of source.matchAll(/import\('(\.\/[^']+)'\)/g)) {
    if (!LAZY_AWS_ADAPTER_IMPORT.test(rel as string) || rel === './aws-secrets-manager-client') continue;
    const adapter = JSON.stringify(path.join(dir, rel as string));
    writeBenchEntry(`${path.basename(rel as string)}.ts`, `export * from ${adapter};`);
  }
  return writeBenchEntry(
    name,
    source
      .replace(/from '(\.{1,2}\/[^']+)'/g, (_, rel: string) => `from ${JSON.stringify(path.join(dir, rel))}`)
      .replace(/import\('(\.{1,2}\/[^']+)'\)/g, (call: string, rel: string) =>
        LAZY_AWS_ADAPTER_IMPORT.test(rel) ? call : `import(${JSON.stringify(path.join(dir, rel))})`,
      ),
  );
}

/** A Buildkite delivery of `body` as API Gateway hands it to the function, signed now. */
function signedDelivery(body: string): APIGatewayProxyEvent {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = computeSignature(TOKEN, timestamp, Buffer.from(body, 'utf8'));
  return buildkiteDeliveryEvent(body, {
    'X-Buildkite-Signature': `timestamp=${timestamp},signature=${signature}`,
  });
}

/** The AWS stand-in: what it answered since the last `take()`, and anything it could not. */
interface FakeAws {
  readonly url: string;
  /** The calls answered since the previous take, by operation; throws on any refused. */
  take(): Record<string, number>;
  readonly total: () => number;
  close(): Promise<void>;
}

function answerFor(target: string, input: Record<string, unknown>): unknown {
  switch (target) {
    case 'secretsmanager.GetSecretValue':
      return {
        ARN: input.SecretId,
        Name: 'kitebridge-webhook',
        SecretString: JSON.stringify({ token: TOKEN }),
        VersionId: '5b1d6e0a-8c2f-4a7e-9d3b-1f0e2c4a6b8d',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1764979200,
      };
    case 'AWSEvents.PutEvents': {
      const entries = input.Entries as { EventBusName?: string }[] | undefined;
      if (entries?.length !== 1 || entries[0]?.EventBusName !== 'kitebridge-bench') {
        throw new Error(
          `PutEvents should carry one entry for the bus kitebridge-bench, got ${JSON.stringify(entries?.map((e) => e.EventBusName))}`,
        );
      }
      return { FailedEntryCount: 0, Entries: [{ EventId: 'b1e7c2a4-3d5f-4e6a-8b9c-0d1e2f3a4b5c' }] };
    }
    default:
      throw new Error(`unexpected AWS call ${target || '(no X-Amz-Target)'}`);
  }
}

async function startFakeAws(): Promise<FakeAws> {
  let calls: Record<string, number> = {};
  let total = 0;
  const refused: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      try {
        if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
          throw new Error(`${target} arrived without a SigV4 signature`);
        }
        const body = JSON.stringify(
          answerFor(target, JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>),
        );
        calls[target] = (calls[target] ?? 0) + 1;
        total++;
        res.writeHead(200, {
          'Content-Type': 'application/x-amz-json-1.1',
          'Content-Length': Buffer.byteLength(body),
          'x-amzn-RequestId': `bench-${total}`,
        });
        res.end(body);
      } catch (error) {
        refused.push(error instanceof Error ? error.message : String(error));
        const body = JSON.stringify({
          __type: 'ValidationException',
          message: 'refused by the bench stand-in',
        });
        res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take() {
      if (refused.length > 0) throw new Error(`the AWS stand-in refused: ${refused.join('; ')}`);
      const taken = calls;
      calls = {};
      return taken;
    },
    total: () => total,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * The child: the event is parsed before the import (the same for every variant), `init` taken
 * when the module is imported, `answer` when the handler's promise resolves.
 */
function childCode(module: string): string {
  return [
    "import { writeSync } from 'node:fs';",
    'const event = JSON.parse(process.env.BENCH_EVENT);',
    'delete process.env.BENCH_EVENT;',
    `const m = await import(${JSON.stringify(pathToFileURL(module).href)});`,
    'const init = performance.now();',
    'const initCpu = process.cpuUsage();',
    'const result = await m.handler(event);',
    'const answer = performance.now();',
    'const answerCpu = process.cpuUsage();',
    'if (result?.statusCode !== 202) {',
    '  writeSync(2, `answered ${result?.statusCode}, not 202: ${result?.body}\\n`);',
    '  process.exit(4);',
    '}',
    'const ms = (cpu) => (cpu.user + cpu.system) / 1000;',
    'writeSync(3, JSON.stringify({ init, answer, initCpu: ms(initCpu), answerCpu: ms(answerCpu) }));',
    'process.exit(0);',
  ].join('\n');
}

/** Runs one fresh child of `variant` and checks the AWS calls it made. */
function coldAnswer(node: string, aws: FakeAws, variant: Variant & { built: SplitBuilt }): Promise<Answer> {
  aws.take();
  const env = {
    ...lambdaEnv(),
    AWS_ENDPOINT_URL: aws.url,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: 'bench-session-token',
    AWS_REGION: 'us-east-1',
    BENCH_EVENT: JSON.stringify(signedDelivery(BODY)),
  };
  const child = spawn(node, ['--input-type=module', '-e', childCode(variant.built.file)], {
    env,
    // stdout (the handler's log line) to /dev/null; the figures on fd 3.
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let figures = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdio[3]?.on('data', (chunk: Buffer) => (figures += chunk.toString('utf8')));
  return new Promise<Answer>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`the ${variant.short} child exited with ${code}: ${stderr}`);
        const calls = aws.take();
        const expected = JSON.stringify(Object.entries(variant.expected).sort());
        const made = JSON.stringify(Object.entries(calls).sort());
        if (made !== expected) {
          throw new Error(`the ${variant.short} child made the AWS calls ${made}, expected ${expected}`);
        }
        resolve(JSON.parse(figures) as Answer);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** `median (p10–p90)` of milliseconds. */
function spread(values: readonly number[]): string {
  return `${fmt(median(values), 1)} (${fmt(quantile(values, 0.1), 1)}–${fmt(quantile(values, 0.9), 1)}) ms`;
}

/** The ratio of medians a/b, its 90% bootstrap interval and the median of the per-run ratios. */
function ratioLine(a: readonly Answer[], b: readonly Answer[], pick: (x: Answer) => number): string {
  const ratio = median(a.map(pick)) / median(b.map(pick));
  const [lo, hi] = bootstrapRatioInterval(a, b, pick);
  return `${fmt(ratio, 3)} (90% interval ${fmt(lo, 3)}–${fmt(hi, 3)}; per-run ${fmt(pairedRatio(a, b, pick), 3)})`;
}

async function main(): Promise<void> {
  const node = node24();
  const nodeVersion = nodeVersionOf(node);
  console.log(
    'cold-answer: the verify function from process start to its first answer, against an SDK v3 floor',
  );
  console.log(machineLine());
  console.log(
    `children run on Node ${nodeVersion} (${node}); AWS answered by a stand-in on loopback HTTP; body ${BODY.length} bytes\n`,
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kitebridge-bench-cold-answer-'));
  writeBenchEntry('aws-secrets-manager-client.ts', SECRETS_CLIENT_ADAPTER);
  const aws = await startFakeAws();
  try {
    const secretAndPut = { 'secretsmanager.GetSecretValue': 1, 'AWSEvents.PutEvents': 1 };
    const variants: (Variant & { built: SplitBuilt })[] = [
      {
        name: 'reference publisher: one EventBridgeClient, one PutEvents',
        short: 'reference',
        entry: writeBenchEntry('reference-publisher.ts', REFERENCE_PUBLISHER),
        expected: { 'AWSEvents.PutEvents': 1 },
      },
      {
        name: 'verify (code-split, as deployed)',
        short: 'verify',
        entry: path.join('lambda', 'verify', 'handler.ts'),
        expected: secretAndPut,
      },
      {
        name: 'verify, Secrets Manager client built on first use',
        short: 'verify, client on first use',
        entry: writeVerifyVariant('verify-secrets-client-on-first-use.ts', ON_FIRST_USE),
        expected: secretAndPut,
      },
      {
        name: 'verify, Secrets Manager client in a lazy adapter (imported and built on first use)',
        short: 'verify, client in a lazy adapter',
        entry: writeVerifyVariant('verify-secrets-client-imported-on-first-use.ts', IMPORTED_ON_FIRST_USE),
        expected: secretAndPut,
      },
    ].map((v, i) => ({ ...v, built: splitBuild(v.entry, path.join(dir, `variant-${i}`)) }));
    console.log('loaded at startup (index.mjs and the chunks it imports statically):');
    for (const { short, built } of variants) {
      const bytes = built.index + built.startup.reduce((sum, [, b]) => sum + b, 0);
      console.log(
        `  ${short.padEnd(38)} ${kb(bytes)} in ${built.startup.length + 1} files; ${built.lazy.length} lazy chunks`,
      );
    }
    console.log(
      `\n${RUNS} fresh processes per variant, variants interleaved (order rotating each run); init = process start → handler module imported; answer = process start → first handler promise resolved (202)`,
    );
    const times = await interleaved(variants, RUNS, (v) => coldAnswer(node, aws, v));
    const [ref, ver] = times as [Answer[], Answer[]];
    variants.forEach((v, i) => {
      const t = times[i] as Answer[];
      console.log(`  ${v.name}`);
      console.log(
        `    wall: init ${spread(t.map((a) => a.init))}; first answer ${spread(t.map((a) => a.answer))}; first request alone ${spread(t.map(first))}`,
      );
      console.log(
        `    CPU:  init ${spread(t.map((a) => a.initCpu))}; first answer ${spread(t.map((a) => a.answerCpu))}; first request alone ${spread(t.map(firstCpu))}`,
      );
    });
    /** `a` against `b`: ratios of medians (interval, per-run) and the median per-run difference. */
    const compare = (a: readonly Answer[], b: readonly Answer[], label: string) => {
      const diff = (pick: (x: Answer) => number) =>
        // `|| 0`: no "-0.0" for a difference that rounds to nothing.
        fmt(Math.round(10 * median(a.map((x, i) => pick(x) - pick(b[i] as Answer)))) / 10 || 0, 1);
      console.log(`  ${label}:`);
      console.log(`    init ${ratioLine(a, b, (x) => x.init)}`);
      console.log(`    first answer ${ratioLine(a, b, (x) => x.answer)}`);
      console.log(`    CPU time to first answer ${ratioLine(a, b, (x) => x.answerCpu)}`);
      console.log(
        `    median per-run difference: init ${diff((x) => x.init)} ms, first request alone ${diff(first)} ms, first answer ${diff((x) => x.answer)} ms`,
      );
    };
    compare(ver, ref, 'verify / reference');
    for (let i = 2; i < variants.length; i++) {
      compare(times[i] as Answer[], ver, `${(variants[i] as Variant).short} / verify as deployed`);
    }
    const calls = (RUNS + 1) * variants.length; // runs plus the warm-up
    console.log(
      `  the AWS stand-in answered ${aws.total()} calls (${calls} PutEvents, ${calls - RUNS - 1} GetSecretValue), each one the child expected`,
    );

    const initRatio = median(ver.map((a) => a.init)) / median(ref.map((a) => a.init));
    console.log(`\nsummary (Node ${nodeVersion}, ${RUNS} runs per variant):`);
    console.log('| figure | measured | target | result |');
    console.log('|---|---|---|---|');
    variants.forEach((v, i) => {
      const t = times[i] as Answer[];
      console.log(
        `| ${v.short}: init / first request alone / first answer, median (p10–p90) | ${spread(t.map((a) => a.init))} / ${spread(t.map(first))} / ${spread(t.map((a) => a.answer))} | – | info |`,
      );
      console.log(
        `| ${v.short}: CPU time to init / first request alone / first answer, median | ${fmt(median(t.map((a) => a.initCpu)), 1)} / ${fmt(median(t.map(firstCpu)), 1)} / ${fmt(median(t.map((a) => a.answerCpu)), 1)} ms | – | info |`,
      );
    });
    console.log(
      `| ratio verify/reference, init | ${ratioLine(ver, ref, (a) => a.init)} | ≤ ${INIT_RATIO_TARGET} | info (${initRatio <= INIT_RATIO_TARGET ? 'within' : 'over'}; bench:bundle owns the verdict) |`,
    );
    console.log(
      `| ratio verify/reference, first answer | ${ratioLine(ver, ref, (a) => a.answer)} | – | info |`,
    );
    console.log(
      `| ratio verify/reference, CPU time to first answer | ${ratioLine(ver, ref, (a) => a.answerCpu)} | – | info |`,
    );
    for (let i = 2; i < variants.length; i++) {
      const t = times[i] as Answer[];
      const short = (variants[i] as Variant).short;
      console.log(`| ratio ${short} / as deployed, init | ${ratioLine(t, ver, (a) => a.init)} | – | info |`);
      console.log(
        `| ratio ${short} / as deployed, first answer | ${ratioLine(t, ver, (a) => a.answer)} | – | info |`,
      );
    }
  } finally {
    await aws.close();
    if (KEEP) console.log(`\nbundles kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
