import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KITE_BUNDLING,
  kiteEsbuildOptions,
  splitBuildCommand,
  splitBuildScript,
} from '../../../lib/constructs/kite-bundling';

describe('kiteEsbuildOptions', () => {
  it('is KITE_BUNDLING as esbuild build() options', () => {
    expect(kiteEsbuildOptions()).toEqual({
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: KITE_BUNDLING.target,
      minify: KITE_BUNDLING.minify,
      sourcemap: KITE_BUNDLING.sourceMap,
      sourcesContent: KITE_BUNDLING.sourcesContent,
      mainFields: KITE_BUNDLING.mainFields,
      banner: { js: KITE_BUNDLING.banner },
      external: KITE_BUNDLING.externalModules,
    });
  });

  it('adds what the codeSplitting hook adds when splitting, and the same names', () => {
    const split = kiteEsbuildOptions({ splitting: true });
    expect(split).toEqual({
      ...kiteEsbuildOptions(),
      splitting: true,
      entryNames: 'index',
      chunkNames: '[name]-[hash]',
      outExtension: { '.js': '.mjs' },
    });
    const script = splitBuildScript(KITE_BUNDLING, '/src/entry.ts', '/out');
    const options = JSON.parse(/^const options = (.*);$/m.exec(script)?.[1] ?? 'null') as Record<
      string,
      unknown
    >;
    // The same options, except that entries are named by their key (`index`, `aws-…`).
    expect(options).toEqual({ ...split, entryNames: '[name]', outdir: '/out', logLevel: 'warning' });
    expect(script).toContain('entryPoints: { "index": "/src/entry.ts" }');
    expect(splitBuildCommand(KITE_BUNDLING, '/src/entry.ts', '/out')).toMatch(
      /^'node' '--input-type=module' '-e' '/,
    );
  });
});

describe('splitBuildScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kite-split-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the entry split, and each dynamically imported ./aws-* module as a bundle of its own', () => {
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(
      join(src, 'entry.ts'),
      "export const handler = async () => (await import('./aws-thing')).thing + (await import('./other')).other;\n",
    );
    writeFileSync(
      join(src, 'aws-thing.ts'),
      "import { shared } from './shared'; export const thing = shared + 1;\n",
    );
    writeFileSync(
      join(src, 'other.ts'),
      "import { shared } from './shared'; export const other = shared + 2;\n",
    );
    writeFileSync(join(src, 'shared.ts'), 'export const shared = 40;\n');
    const out = join(dir, 'out');
    execFileSync(process.execPath, [
      '--input-type=module',
      '-e',
      splitBuildScript(KITE_BUNDLING, join(src, 'entry.ts'), out),
    ]);
    const index = readFileSync(join(out, 'index.mjs'), 'utf8');
    expect(index).toContain('import("./aws-thing.mjs")');
    expect(index).not.toContain('import("./other.mjs")'); // an ordinary chunk of the entry's build
    const files = readdirSync(out).filter((f) => f.endsWith('.mjs'));
    expect(files).toEqual(expect.arrayContaining(['index.mjs', 'aws-thing.mjs']));
    expect(files.some((f) => /^other-[A-Z0-9]+\.mjs$/.test(f))).toBe(true);
  });
});
