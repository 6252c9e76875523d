import { KITE_BUNDLING, kiteEsbuildOptions, splitBuildCommand } from '../../../lib/constructs/kite-bundling';

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
    const command = splitBuildCommand(KITE_BUNDLING, 'entry.ts', 'out');
    const split = kiteEsbuildOptions({ splitting: true });
    expect(split).toEqual({
      ...kiteEsbuildOptions(),
      splitting: true,
      entryNames: 'index',
      chunkNames: '[name]-[hash]',
      outExtension: { '.js': '.mjs' },
    });
    expect(command).toContain(`'--entry-names=${split.entryNames}'`);
    expect(command).toContain(`'--chunk-names=${split.chunkNames}'`);
    expect(command).toContain(`'--out-extension:.js=${split.outExtension?.['.js']}'`);
    expect(command).toContain(`'--target=${split.target}'`);
    expect(command).toContain(`'--format=${split.format}'`);
  });
});
