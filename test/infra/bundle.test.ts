import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { logicalIdOf, synthStack } from './helpers';

const MAX_BUNDLE_BYTES = 1_000_000;

interface AssetsManifest {
  readonly files: Record<string, { readonly source: { readonly path: string; readonly packaging?: string } }>;
}

describe('function bundles (real esbuild run)', () => {
  // Every built-in consumer on, so each function's bundle is built for real.
  const { app, stack, template } = synthStack(
    {
      triggers: [{ name: 'github-deploy', kind: 'github' }],
      chatAlerts: { destinations: [{ name: 'ci-slack', service: 'slack' }] },
      autoscaler: { org: 'acme', queues: [{ queue: 'linux', asgName: 'ci-linux', max: 5 }] },
      analytics: {},
    },
    { bundle: true },
  );
  const assembly = app.synth();
  const manifest = JSON.parse(
    readFileSync(join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8'),
  ) as AssetsManifest;

  /** The asset directory of a function, found through its Code.S3Key and the assets manifest. */
  function assetDirOf(functionId: string): string {
    const code = template.toJSON().Resources[functionId].Properties.Code;
    const hash = String(code.S3Key).replace(/\.zip$/, '');
    const entry = manifest.files[hash];
    expect(entry).toBeDefined();
    expect(entry?.source.packaging).toBe('zip');
    return join(assembly.directory, entry?.source.path ?? '');
  }

  it.each([
    ['verify', () => logicalIdOf(stack.ingress.verify)],
    ['redrive', () => logicalIdOf(stack.bus.redrive)],
    ['chat-alerts', () => logicalIdOf(stack.chatAlerts?.function ?? stack)],
    ['autoscaler', () => logicalIdOf(stack.autoscaler?.function ?? stack)],
    ['trigger-relay', () => logicalIdOf(stack.triggerRelay?.function ?? stack)],
    ['analytics', () => logicalIdOf(stack.analytics?.function ?? stack)],
  ])('%s is one minified ESM index.mjs under 1 MB, with its source map', (_name, functionId) => {
    const dir = assetDirOf(functionId());
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['index.mjs', 'index.mjs.map']);
    const bundle = join(dir, 'index.mjs');
    const size = statSync(bundle).size;
    expect(size).toBeGreaterThan(1_000);
    expect(size).toBeLessThan(MAX_BUNDLE_BYTES);
    const text = readFileSync(bundle, 'utf8');
    // The banner that gives bundled CommonJS dependencies a require() in ESM output.
    expect(text).toMatch(/^import\s*\{\s*createRequire\s*\}\s*from\s*['"](node:)?module['"]/);
    expect(text).toMatch(/export\s*\{[^}]*\bhandler\b/);
    expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
  });

  it('tells Lambda to load index.handler', () => {
    template.allResourcesProperties('AWS::Lambda::Function', { Handler: 'index.handler' });
  });
});
