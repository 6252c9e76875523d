/**
 * Bundle size and cold load time of the Lambda functions, bundled exactly as KiteFunction
 * (lib/constructs/kite-function.ts) has the CDK bundle them: esbuild with bundle, platform node,
 * format esm, target node24, minify, mainFields module,main, the createRequire banner,
 * `--sourcemap` (a linked .map file) without sources content, nothing external.
 *
 *   1. size of the verify and redrive index.mjs, and the biggest contributors (metafile);
 *   2. cold load: fresh `node` processes, alternating, that import an empty module (baseline)
 *      or the verify bundle (with and without NODE_OPTIONS=--enable-source-maps, which the
 *      functions set), timed from spawn to exit; medians and the difference.
 *
 *   npx tsx bench/bundle.ts [--runs 20] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import * as esbuild from 'esbuild';
import { PROJECT_ROOT, fmt, kb, machineLine, median, numberFlag, quantile } from './support';

const RUNS = numberFlag('runs', 20);
const BREAKDOWN_RUNS = numberFlag('breakdown-runs', 10);
const KEEP = process.argv.includes('--keep');
const BREAKDOWN = !process.argv.includes('--no-breakdown');

/**
 * What the verify handler's imports cost alone: one snippet per dependency, constructed at module
 * level as handler.ts constructs it. They share @smithy/* and @aws-sdk/core, so the parts add up to more
 * than the whole.
 */
const PARTS: readonly { name: string; contents: string }[] = [
  {
    name: '@aws-sdk/client-eventbridge (EventBridgeClient)',
    contents:
      "import { EventBridgeClient } from '@aws-sdk/client-eventbridge'; const client = new EventBridgeClient({}); export const handler = () => client;",
  },
  {
    name: '@aws-sdk/client-s3 (S3Client)',
    contents:
      "import { S3Client } from '@aws-sdk/client-s3'; const client = new S3Client({}); export const handler = () => client;",
  },
  {
    name: '@aws-sdk/client-sqs (SQSClient)',
    contents:
      "import { SQSClient } from '@aws-sdk/client-sqs'; const client = new SQSClient({}); export const handler = () => client;",
  },
  {
    name: 'client-secrets-manager + Powertools SecretsProvider',
    contents:
      "import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets'; import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'; const provider = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) }); export const handler = () => provider;",
  },
  {
    name: 'Powertools Logger + Metrics',
    contents:
      "import { Logger } from '@aws-lambda-powertools/logger'; import { Metrics } from '@aws-lambda-powertools/metrics'; const both = [new Logger({ serviceName: 'verify' }), new Metrics({ namespace: 'kitebridge', serviceName: 'verify' })]; export const handler = () => both;",
  },
  {
    name: 'kitebridge verify code only (app.ts, no SDK)',
    contents: "export { createVerifyHandler as handler } from './lambda/verify/app';",
  },
];
const SIZE_TARGET_KB = 350;
const LOAD_TARGET_MS = 40;
const LAMBDA_TARGET = 'node24';

/** Everything KiteFunction passes to esbuild (aws-lambda-nodejs turns the props into these flags). */
function kiteBuildOptions(entry: string, outfile: string, target: string): esbuild.BuildOptions {
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target,
    outfile,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    external: [],
    metafile: true,
    logLevel: 'warning',
  };
}

interface Built {
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
  readonly gzipBytes: number;
  readonly metafile: esbuild.Metafile;
}

/** Builds `entry` (a path under the project, or `{ contents }` of a snippet) like KiteFunction. */
async function build(entry: string | { contents: string }, outDir: string, target: string): Promise<Built> {
  const file = path.join(outDir, 'index.mjs');
  const options = kiteBuildOptions(typeof entry === 'string' ? entry : '', file, target);
  if (typeof entry !== 'string') {
    delete options.entryPoints;
    options.stdin = {
      contents: entry.contents,
      resolveDir: PROJECT_ROOT,
      loader: 'ts',
      sourcefile: 'snippet.ts',
    };
  }
  const result = await esbuild.build(options);
  return {
    file,
    bytes: statSync(file).size,
    mapBytes: statSync(`${file}.map`).size,
    gzipBytes: gzipSync(readFileSync(file)).length,
    metafile: result.metafile as esbuild.Metafile,
  };
}

/** `node_modules/@aws-sdk/client-s3/dist-es/…` → `@aws-sdk/client-s3`; own sources → `(kitebridge)`. */
function packageOf(input: string): string {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return input.startsWith('<') ? input : '(kitebridge sources)';
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
}

function contributors(built: Built): { byPackage: [string, number][]; byScope: [string, number][] } {
  const output = Object.values(built.metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (!output) throw new Error('esbuild metafile has no entry output');
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = packageOf(input);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
  }
  const byScope = new Map<string, number>();
  for (const [pkg, bytes] of byPackage) {
    const scope = pkg.startsWith('@') ? `${pkg.split('/')[0]}/*` : pkg;
    byScope.set(scope, (byScope.get(scope) ?? 0) + bytes);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { byPackage: sorted(byPackage), byScope: sorted(byScope) };
}

function printSize(name: string, built: Built, top: number): void {
  const { byPackage, byScope } = contributors(built);
  console.log(
    `${name}: index.mjs ${built.bytes} bytes = ${kb(built.bytes)} minified (gzip ${kb(built.gzipBytes)}); index.mjs.map ${kb(built.mapBytes)}`,
  );
  console.log(`  top ${top} input packages by bytes in output:`);
  for (const [pkg, bytes] of byPackage.slice(0, top)) {
    console.log(
      `    ${pkg.padEnd(44)} ${kb(bytes).padStart(9)}  ${fmt((100 * bytes) / built.bytes, 1).padStart(5)} %`,
    );
  }
  console.log(
    `  by scope: ${byScope
      .slice(0, 6)
      .map(([scope, bytes]) => `${scope} ${kb(bytes)}`)
      .join(', ')}`,
  );
}

/** The verify function's environment in Lambda, with dummy values for the stack's resources. */
function lambdaEnv(sourceMaps: boolean): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: 'Kitebridge-Verify',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    EVENT_BUS_NAME: 'kitebridge-bench',
    WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kitebridge-webhook-AbCdEf',
    SPOOL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/kitebridge-spool',
    OVERSIZED_BUCKET_NAME: 'kitebridge-oversized-bench',
    REPLAY_WINDOW_SECONDS: '300',
    MAX_BODY_BYTES: '5000000',
    ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
  };
}

/** Wall time of one fresh node process that imports `module` and checks it exports a handler. */
function coldImport(module: string, env: NodeJS.ProcessEnv): number {
  const code = `const m = await import(${JSON.stringify(pathToFileURL(module).href)}); if (typeof m.handler !== 'function') process.exit(3);`;
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`node exited with ${result.status} importing ${module}: ${result.stderr}`);
  }
  return ms;
}

function stats(values: readonly number[]): string {
  return `median ${fmt(median(values), 1)} ms (p10 ${fmt(quantile(values, 0.1), 1)}, p90 ${fmt(quantile(values, 0.9), 1)}, min ${fmt(Math.min(...values), 1)}, max ${fmt(Math.max(...values), 1)})`;
}

async function main(): Promise<void> {
  console.log('bundle: Lambda bundle size (built like KiteFunction) and cold load time');
  console.log(machineLine());
  console.log(
    `esbuild ${esbuild.version}, target ${LAMBDA_TARGET} (the functions run on Lambda's Node.js 24)\n`,
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kitebridge-bench-bundle-'));
  try {
    const verify = await build(
      path.join('lambda', 'verify', 'handler.ts'),
      path.join(dir, 'verify'),
      LAMBDA_TARGET,
    );
    const redrive = await build(
      path.join('lambda', 'redrive', 'handler.ts'),
      path.join(dir, 'redrive'),
      LAMBDA_TARGET,
    );
    printSize('verify', verify, 10);
    const sizeKb = verify.bytes / 1024;
    console.log(
      `  size target ≤ ${SIZE_TARGET_KB} KB minified: ${sizeKb <= SIZE_TARGET_KB ? 'PASS' : `MISS (${fmt(sizeKb - SIZE_TARGET_KB, 1)} KB over)`}\n`,
    );
    printSize('redrive', redrive, 5);
    console.log('');

    // Cold load. The bundle targets node24; this machine may run an older Node: if the bundle
    // does not load here, a copy built for this Node's major version is timed instead.
    let loadable = verify.file;
    let loadTarget = LAMBDA_TARGET;
    let loadNote = `the ${LAMBDA_TARGET} bundle itself`;
    try {
      coldImport(loadable, lambdaEnv(false));
    } catch (error) {
      loadTarget = `node${process.versions.node.split('.')[0]}`;
      loadable = (
        await build(path.join('lambda', 'verify', 'handler.ts'), path.join(dir, 'verify-local'), loadTarget)
      ).file;
      loadNote = `a ${loadTarget} build (the ${LAMBDA_TARGET} one failed here: ${(error as Error).message.split('\n')[0]})`;
    }
    const empty = path.join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const handler = () => undefined;\n');

    console.log(
      `cold load: ${RUNS} fresh node processes per variant, variants alternating, each timed from spawn to exit; loading ${loadNote}`,
    );
    console.log(
      `  NOTE: Lambda runs the function on Node.js 24; this machine has Node ${process.version}: load times differ by version (and Lambda's init adds its own runtime bootstrap).`,
    );
    const variants = [
      { name: 'baseline: import an empty module', module: empty, sourceMaps: false },
      { name: 'import the verify bundle', module: loadable, sourceMaps: false },
      { name: 'baseline, NODE_OPTIONS=--enable-source-maps', module: empty, sourceMaps: true },
      {
        name: 'verify bundle, NODE_OPTIONS=--enable-source-maps (as deployed)',
        module: loadable,
        sourceMaps: true,
      },
    ];
    for (const v of variants) coldImport(v.module, lambdaEnv(v.sourceMaps)); // warm the file cache
    const times: number[][] = variants.map(() => []);
    for (let run = 0; run < RUNS; run++) {
      // Rotate the order each run so no variant always follows the same one.
      for (let k = 0; k < variants.length; k++) {
        const i = (run + k) % variants.length;
        const v = variants[i] as (typeof variants)[number];
        (times[i] as number[]).push(coldImport(v.module, lambdaEnv(v.sourceMaps)));
      }
    }
    variants.forEach((v, i) => console.log(`  ${v.name.padEnd(64)} ${stats(times[i] as number[])}`));
    const [base, bundle, baseMaps, bundleMaps] = times.map((t) => median(t)) as [
      number,
      number,
      number,
      number,
    ];
    const plain = bundle - base;
    const deployed = bundleMaps - baseMaps;
    const verdict = (ms: number) => (ms <= LOAD_TARGET_MS ? 'PASS' : 'MISS');
    console.log(
      `  load cost (difference of medians): +${fmt(plain, 1)} ms without source maps [target ≤ +${LOAD_TARGET_MS} ms: ${verdict(plain)}]; +${fmt(deployed, 1)} ms with --enable-source-maps as deployed [${verdict(deployed)}]`,
    );

    let parts: { name: string; bytes: number; ms: number }[] = [];
    if (BREAKDOWN) {
      console.log(
        `\nload breakdown: each dependency bundled alone like KiteFunction (snippet that constructs it), ${BREAKDOWN_RUNS} cold imports each, alternating with the baseline; no source maps`,
      );
      const builtParts = [];
      for (const [i, part] of PARTS.entries()) {
        builtParts.push({
          ...part,
          built: await build({ contents: part.contents }, path.join(dir, `part-${i}`), loadTarget),
        });
      }
      const partTimes: number[][] = builtParts.map(() => []);
      const baseTimes: number[] = [];
      for (const part of builtParts) coldImport(part.built.file, lambdaEnv(false));
      for (let run = 0; run < BREAKDOWN_RUNS; run++) {
        baseTimes.push(coldImport(empty, lambdaEnv(false)));
        builtParts.forEach((part, i) =>
          (partTimes[i] as number[]).push(coldImport(part.built.file, lambdaEnv(false))),
        );
      }
      const baseMedian = median(baseTimes);
      parts = builtParts.map((part, i) => ({
        name: part.name,
        bytes: part.built.bytes,
        ms: median(partTimes[i] as number[]) - baseMedian,
      }));
      console.log(`  baseline (empty module)${''.padEnd(41)} ${stats(baseTimes)}`);
      for (const part of parts) {
        console.log(
          `  ${part.name.padEnd(54)} ${kb(part.bytes).padStart(9)}  +${fmt(part.ms, 1)} ms (median difference)`,
        );
      }
    }

    console.log('\nsummary:');
    console.log('| figure | measured | target | result |');
    console.log('|---|---|---|---|');
    console.log(
      `| verify index.mjs (minified, SDK bundled) | ${kb(verify.bytes)} | ≤ ${SIZE_TARGET_KB} KB | ${sizeKb <= SIZE_TARGET_KB ? 'PASS' : 'MISS'} |`,
    );
    console.log(`| redrive index.mjs | ${kb(redrive.bytes)} | – | – |`);
    console.log(
      `| verify cold import, median difference | +${fmt(plain, 1)} ms | ≤ +${LOAD_TARGET_MS} ms | ${verdict(plain)} |`,
    );
    console.log(
      `| same with NODE_OPTIONS=--enable-source-maps (deployed) | +${fmt(deployed, 1)} ms | ≤ +${LOAD_TARGET_MS} ms | ${verdict(deployed)} |`,
    );
    for (const part of parts) {
      console.log(`| load of ${part.name} alone | ${kb(part.bytes)}, +${fmt(part.ms, 1)} ms | – | info |`);
    }
  } finally {
    if (KEEP) console.log(`\nbundles kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
