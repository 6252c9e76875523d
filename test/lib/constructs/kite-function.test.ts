import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { logicalIdOf, synthStack } from '../helpers';

const MAX_BUNDLE_BYTES = 1_000_000;

/** The chunks a bundle file imports statically (`import … from "./x.mjs"`, `import "./x.mjs"`). */
function staticImports(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*["']\.\/([^"']+\.mjs)["']/g)].map((m) => m[1] as string);
}

/** The chunks a bundle file imports on demand (`import("./x.mjs")`). */
function dynamicImports(text: string): string[] {
  return [...text.matchAll(/\bimport\(\s*["']\.\/([^"']+\.mjs)["']\s*\)/g)].map((m) => m[1] as string);
}

/** Every file `index.mjs` loads before its handler can run: itself and its static imports, transitively. */
function startupFiles(dir: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    staticImports(readFileSync(join(dir, file), 'utf8')).forEach(visit);
  };
  visit('index.mjs');
  return seen;
}

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
    ['chat-alerts', () => logicalIdOf(stack.chatAlerts?.function ?? stack)],
    ['autoscaler', () => logicalIdOf(stack.autoscaler?.function ?? stack)],
    ['analytics', () => logicalIdOf(stack.analytics?.function ?? stack)],
  ])(
    '%s is code-split: the S3 client (oversized bodies only) is never on the startup path',
    (_name, functionId) => {
      const dir = assetDirOf(functionId());
      const code = readdirSync(dir).filter((f) => f.endsWith('.mjs'));
      expect(code).toContain('index.mjs');
      const index = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(index).toMatch(/export\s*\{[^}]*\bhandler\b/);
      const startup = startupFiles(dir);
      const holdingS3 = code.filter((f) => readFileSync(join(dir, f), 'utf8').includes('"AmazonS3"'));
      expect(holdingS3.length).toBeGreaterThan(0);
      expect(holdingS3.filter((f) => startup.has(f))).toEqual([]);
      for (const file of code) expect(statSync(join(dir, file)).size).toBeLessThan(MAX_BUNDLE_BYTES);
    },
  );

  it.each([
    ['redrive', () => logicalIdOf(stack.bus.redrive)],
    ['trigger-relay', () => logicalIdOf(stack.triggerRelay?.function ?? stack)],
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

  describe('verify (code-split)', () => {
    const dir = () => assetDirOf(logicalIdOf(stack.ingress.verify));

    it('is index.mjs plus chunks, every one minified ESM under 1 MB with its source map', () => {
      const files = readdirSync(dir());
      const code = files.filter((f) => f.endsWith('.mjs')).sort();
      expect(code).toContain('index.mjs');
      expect(code.length).toBeGreaterThan(1);
      expect(files.sort()).toEqual([...code, ...code.map((f) => `${f}.map`)].sort());
      for (const file of code) {
        const size = statSync(join(dir(), file)).size;
        expect(size).toBeLessThan(MAX_BUNDLE_BYTES);
        const text = readFileSync(join(dir(), file), 'utf8');
        expect(text).toMatch(/^import\s*\{\s*createRequire\s*\}\s*from\s*['"](node:)?module['"]/);
      }
      const index = readFileSync(join(dir(), 'index.mjs'), 'utf8');
      expect(index).toMatch(/export\s*\{[^}]*\bhandler\b/);
    });

    it('loads the SQS and S3 clients only from chunks index.mjs imports on demand', () => {
      const files = readdirSync(dir()).filter((f) => f.endsWith('.mjs'));
      const startup = startupFiles(dir());
      const lazy = dynamicImports(readFileSync(join(dir(), 'index.mjs'), 'utf8'));
      expect(lazy).toEqual(expect.arrayContaining(['aws-sqs-spool.mjs', 'aws-s3-body-store.mjs']));
      for (const chunk of lazy) expect(startup.has(chunk)).toBe(false);
      // The service ids the clients sign with: present in the bundle, never on the startup path.
      const holding = (marker: string) =>
        files.filter((f) => readFileSync(join(dir(), f), 'utf8').includes(marker));
      for (const marker of ['"AmazonSQS"', '"AmazonS3"']) {
        expect(holding(marker).length).toBeGreaterThan(0);
        expect(holding(marker).filter((f) => startup.has(f))).toEqual([]);
      }
      // The bus and Secrets Manager clients stay on the startup path: the first request needs them.
      expect([...startup].some((f) => readFileSync(join(dir(), f), 'utf8').includes('"AWSEvents"'))).toBe(
        true,
      );
    });

    it('loads the /triggers path (sender checks and answers) only from a chunk imported on demand', () => {
      const files = readdirSync(dir()).filter((f) => f.endsWith('.mjs'));
      const startup = startupFiles(dir());
      const lazy = dynamicImports(readFileSync(join(dir(), 'index.mjs'), 'utf8'));
      // Strings only the trigger path holds: Svix's header name, PagerDuty's ping, Linear's timestamp field.
      for (const marker of ['svix-signature', 'pagey.ping', 'webhookTimestamp']) {
        const holding = files.filter((f) => readFileSync(join(dir(), f), 'utf8').includes(marker));
        expect(holding).toHaveLength(1);
        expect(lazy).toContain(holding[0]);
        expect(startup.has(holding[0] as string)).toBe(false);
      }
    });

    it('runs: index.mjs exports a handler and every lazy chunk loads', () => {
      const index = pathToFileURL(join(dir(), 'index.mjs')).href;
      const lazy = dynamicImports(readFileSync(join(dir(), 'index.mjs'), 'utf8')).map(
        (chunk) => pathToFileURL(join(dir(), chunk)).href,
      );
      const script = `
        const m = await import(${JSON.stringify(index)});
        if (typeof m.handler !== 'function') throw new Error('no handler export');
        for (const chunk of ${JSON.stringify(lazy)}) {
          const c = await import(chunk);
          if (Object.values(c).filter((v) => typeof v === 'function').length === 0) throw new Error('empty chunk ' + chunk);
        }`;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          EVENT_BUS_NAME: 'bus',
          WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf',
          SPOOL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/spool',
          OVERSIZED_BUCKET_NAME: 'oversized',
          REPLAY_WINDOW_SECONDS: '300',
          MAX_BODY_BYTES: '5000000',
        },
      });
      expect(result.stderr.replace(/^.*NodeVersionSupportWarning.*$\n?/gm, '')).not.toMatch(/Error/);
      expect(result.status).toBe(0);
    });
  });

  it('tells Lambda to load index.handler', () => {
    template.allResourcesProperties('AWS::Lambda::Function', { Handler: 'index.handler' });
  });
});
