import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { pathToFileURL } from 'node:url';

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

/**
 * A dynamic import of a module beside the entry whose name starts with `aws-`
 * (`import('./aws-sqs-spool')`): an AWS adapter loaded on first use, built as a bundle of its own
 * (`aws-sqs-spool.mjs` and its chunks) instead of a chunk of the entry's build. In one split
 * build, code the SDK's shared index modules re-export for that adapter's client (the S3 XML
 * serializer, checksum streams) lands in a chunk the entry loads at startup; built apart, none
 * of it does (bench/README.md, bundle).
 */
export const LAZY_AWS_ADAPTER_IMPORT = /^\.\/aws-[a-z0-9-]+$/;

/** Quotes one argument for `bash -c`, which runs the bundling hooks. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `bundling` as options of esbuild's `build()`: entry, output and logging are the caller's. */
function esbuildOptionsOf(bundling: BundlingOptions): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: bundling.format === OutputFormat.ESM ? 'esm' : 'cjs',
    target: bundling.target,
    minify: bundling.minify,
    sourcemap: bundling.sourceMap,
    sourcesContent: bundling.sourcesContent,
    mainFields: bundling.mainFields ? [...bundling.mainFields] : undefined,
    banner: bundling.banner ? { js: bundling.banner } : undefined,
    external: [...(bundling.externalModules ?? [])],
  };
}

/**
 * The Node.js script (ESM, esbuild's API) that builds `entry` as KiteFunction bundles it, split
 * into chunks (see {@link SPLIT_NAMES}): first the entry, with every dynamic import matching
 * {@link LAZY_AWS_ADAPTER_IMPORT} left as an import of `./<name>.mjs`; then those adapters
 * together, as entries of a second split build into the same directory. Every other option comes
 * from `bundling`, so the builds cannot drift. The bundle benchmark runs the same script.
 */
export function splitBuildScript(bundling: BundlingOptions, entry: string, outputDir: string): string {
  const options: BuildOptions = {
    ...esbuildOptionsOf(bundling),
    splitting: true,
    outdir: outputDir,
    entryNames: '[name]',
    chunkNames: SPLIT_NAMES.chunkNames,
    outExtension: { '.js': SPLIT_NAMES.outExtension },
    logLevel: 'warning',
  };
  const esbuildMain = pathToFileURL(require.resolve('esbuild')).href;
  return [
    `import esbuild from ${JSON.stringify(esbuildMain)};`,
    "import { basename, join } from 'node:path';",
    `const options = ${JSON.stringify(options)};`,
    'const lazy = {};',
    'const lazyAdapters = { name: "lazy-aws-adapters", setup(build) {',
    `  build.onResolve({ filter: ${String(LAZY_AWS_ADAPTER_IMPORT)} }, (args) => {`,
    "    if (args.kind !== 'dynamic-import') return undefined;",
    '    const name = basename(args.path);',
    '    lazy[name] = join(args.resolveDir, args.path);',
    "    return { path: './' + name + " + JSON.stringify(SPLIT_NAMES.outExtension) + ', external: true };',
    '  });',
    '} };',
    `await esbuild.build({ ...options, entryPoints: { ${JSON.stringify(SPLIT_NAMES.entryNames)}: ${JSON.stringify(entry)} }, plugins: [lazyAdapters] });`,
    'if (Object.keys(lazy).length > 0) await esbuild.build({ ...options, entryPoints: lazy });',
  ].join('\n');
}

/**
 * The shell command KiteFunction's `codeSplitting` hook runs: {@link splitBuildScript} under
 * Node.js. It overwrites `index.mjs` (and its map) from NodejsFunction's single-file build and
 * adds the chunks and the lazy adapters' bundles.
 */
export function splitBuildCommand(bundling: BundlingOptions, entry: string, outputDir: string): string {
  return ['node', '--input-type=module', '-e', splitBuildScript(bundling, entry, outputDir)]
    .map(shellQuote)
    .join(' ');
}

/**
 * {@link KITE_BUNDLING} as options of esbuild's `build()`, for builds outside the CDK that must
 * match the deployed bundles (bench/). Entry, output and logging are the caller's; `splitting`
 * adds what KiteFunction's `codeSplitting` hook adds (pass `outdir`, not `outfile`).
 */
export function kiteEsbuildOptions(options: { readonly splitting?: boolean } = {}): BuildOptions {
  return {
    ...esbuildOptionsOf(KITE_BUNDLING),
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
