import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/**
 * How every kitebridge function is bundled (NodejsFunction's `bundling`, which aws-lambda-nodejs
 * turns into esbuild flags): an ESM bundle for Node.js 24, minified, with the AWS SDK bundled and
 * source maps. KiteFunction uses it, and {@link kiteEsbuildOptions} derives the same build for
 * esbuild's API (bench/), so the two cannot drift.
 */
export const KITE_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  // Maps ship with the code but are not enabled at run time: --enable-source-maps cost
  // 30-90 ms of every cold start here (bench/README.md). Pass
  // environment NODE_OPTIONS=--enable-source-maps to a function while debugging it.
  sourceMap: true,
  sourcesContent: false,
  // Bundled CommonJS dependencies may call require(): give ESM output one.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  externalModules: [],
} as const satisfies BundlingOptions;

/**
 * What a build split at dynamic `import()`s adds: the entry stays `index.mjs` (Lambda loads
 * `index.handler`), chunks are `<module>-<hash>.mjs` beside it.
 */
const SPLIT_NAMES = { entryNames: 'index', chunkNames: '[name]-[hash]', outExtension: '.mjs' } as const;

/** Quotes one argument for `bash -c`, which runs the bundling hooks. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The esbuild command line that rebuilds `entry` as KiteFunction bundles it, but split into
 * chunks (see {@link SPLIT_NAMES}). Every other flag comes from `bundling`, so the two builds
 * cannot drift.
 */
export function splitBuildCommand(bundling: BundlingOptions, entry: string, outputDir: string): string {
  const args = [
    require.resolve('esbuild/bin/esbuild'),
    entry,
    '--bundle',
    '--splitting',
    '--platform=node',
    `--format=${bundling.format}`,
    `--target=${bundling.target}`,
    `--outdir=${outputDir}`,
    `--entry-names=${SPLIT_NAMES.entryNames}`,
    `--chunk-names=${SPLIT_NAMES.chunkNames}`,
    `--out-extension:.js=${SPLIT_NAMES.outExtension}`,
    ...(bundling.minify ? ['--minify'] : []),
    ...(bundling.sourceMap ? ['--sourcemap'] : []),
    ...(bundling.sourcesContent === false ? ['--sources-content=false'] : []),
    ...(bundling.mainFields ? [`--main-fields=${bundling.mainFields.join(',')}`] : []),
    ...(bundling.banner ? [`--banner:js=${bundling.banner}`] : []),
    ...(bundling.externalModules ?? []).map((name) => `--external:${name}`),
    '--log-level=warning',
  ];
  return args.map(shellQuote).join(' ');
}

/**
 * {@link KITE_BUNDLING} as options of esbuild's `build()`, for builds outside the CDK that must
 * match the deployed bundles (bench/). Entry, output and logging are the caller's; `splitting`
 * adds what KiteFunction's `codeSplitting` hook adds (pass `outdir`, not `outfile`).
 */
export function kiteEsbuildOptions(options: { readonly splitting?: boolean } = {}): BuildOptions {
  const b = KITE_BUNDLING;
  return {
    bundle: true,
    platform: 'node',
    format: b.format === OutputFormat.ESM ? 'esm' : 'cjs',
    target: b.target,
    minify: b.minify,
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    mainFields: [...b.mainFields],
    banner: { js: b.banner },
    external: [...b.externalModules],
    ...(options.splitting
      ? {
          splitting: true,
          entryNames: SPLIT_NAMES.entryNames,
          chunkNames: SPLIT_NAMES.chunkNames,
          outExtension: { '.js': SPLIT_NAMES.outExtension },
        }
      : {}),
  };
}
