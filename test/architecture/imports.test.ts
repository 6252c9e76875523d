/**
 * The house plan, enforced: dependencies point one way (`bin → lib → lambda`, `local → lib,
 * lambda`, `bench`/`scripts`/`support` → their own support, never `test/`), there is no import
 * cycle among the sources, and every function folder has one shape (handler.ts; app.ts with its
 * ports.ts; the AWS SDK only in handlers and aws-*.ts adapters; memory, file and simulated adapters
 * outside lambda/). Reads every relative import (static, `export … from`, dynamic) as text.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '../..');
const SOURCE_FOLDERS = ['bin', 'lib', 'lambda', 'local', 'bench', 'scripts', 'support'] as const;

/** Per importing top-level folder, the top-level folders it must never import from. */
const FORBIDDEN: Record<(typeof SOURCE_FOLDERS)[number], readonly string[]> = {
  lambda: ['bin', 'lib', 'local', 'test', 'bench', 'scripts', 'support'],
  lib: ['bin', 'local', 'test', 'bench', 'scripts', 'support'],
  local: ['bin', 'test', 'bench', 'scripts'],
  bin: ['local', 'test', 'bench', 'scripts', 'support'],
  bench: ['test', 'bin'],
  scripts: ['test', 'bin'],
  support: ['test', 'bin', 'bench', 'scripts'],
};

function sourceFiles(folder: string): string[] {
  const full = path.join(ROOT, folder);
  if (!existsSync(full)) return [];
  return readdirSync(full).flatMap((name) => {
    const file = path.join(full, name);
    if (statSync(file).isDirectory()) return sourceFiles(path.join(folder, name));
    return /\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [file] : [];
  });
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g;

/** The project file a relative specifier names, or undefined when it is not one of ours. */
function resolve(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  return [base, `${base}.ts`, `${base}.mts`, `${base}.mjs`, path.join(base, 'index.ts')].find(
    (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
  );
}

const files = SOURCE_FOLDERS.flatMap((folder) => sourceFiles(folder));
const graph = new Map<string, string[]>(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)]
      .map((match) => resolve(file, match[1] as string))
      .filter((target): target is string => target !== undefined);
    return [file, targets];
  }),
);
const rel = (file: string) => path.relative(ROOT, file);
const topFolder = (file: string) => rel(file).split(path.sep)[0] as string;

describe('dependencies point one way', () => {
  it('reads the sources (so an empty scan cannot pass)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get(path.join(ROOT, 'lambda/verify/handler.ts'))?.length).toBeGreaterThan(3);
  });

  it.each(SOURCE_FOLDERS.map((folder) => [folder] as const))('%s/ imports nothing it must not', (folder) => {
    const violations = [...graph]
      .filter(([file]) => topFolder(file) === folder)
      .flatMap(([file, targets]) =>
        targets
          .filter((t) => FORBIDDEN[folder].includes(topFolder(t)))
          .map((t) => `${rel(file)} → ${rel(t)}`),
      );
    expect(violations).toEqual([]);
  });

  it('has no import cycle among the sources', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'visiting');
      stack.push(file);
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === 'visiting') {
          cycles.push([...stack.slice(stack.indexOf(target)), target].map(rel).join(' → '));
        } else if (!state.has(target)) {
          visit(target);
        }
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});

/** The function folders under lambda/ (shared/ is the runtime code they share, not a function). */
const FUNCTION_FOLDERS = readdirSync(path.join(ROOT, 'lambda')).filter(
  (name) => name !== 'shared' && statSync(path.join(ROOT, 'lambda', name)).isDirectory(),
);
const SDK_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)['"](@aws-sdk\/[^'"]+)['"]/g;
const isHandler = (name: string) => /(^|-)handler\.ts$/.test(name);
const isAwsAdapter = (name: string) => /^aws-[\w-]+\.ts$/.test(name);

describe('every function folder is laid out alike', () => {
  it('finds the function folders (so an empty scan cannot pass)', () => {
    expect(FUNCTION_FOLDERS).toEqual(
      expect.arrayContaining(['analytics', 'chat-alerts', 'trigger-relay', 'verify']),
    );
  });

  it.each(FUNCTION_FOLDERS.map((folder) => [folder] as const))(
    'lambda/%s: a handler.ts; with an orchestrator (app.ts), the ports it needs (ports.ts)',
    (folder) => {
      const names = readdirSync(path.join(ROOT, 'lambda', folder));
      expect(names).toContain('handler.ts');
      if (names.includes('app.ts')) expect(names).toContain('ports.ts');
    },
  );

  it('only handlers (wiring) and aws-*.ts adapters import the AWS SDK', () => {
    const violations = FUNCTION_FOLDERS.flatMap((folder) =>
      sourceFiles(path.join('lambda', folder))
        .filter((file) => !isHandler(path.basename(file)) && !isAwsAdapter(path.basename(file)))
        .flatMap((file) =>
          [...readFileSync(file, 'utf8').matchAll(SDK_IMPORT)].map((m) => `${rel(file)} imports ${m[1]}`),
        ),
    );
    expect(violations).toEqual([]);
  });

  it('holds no memory, file or simulated adapters: those live with local mode or test support', () => {
    const violations = sourceFiles('lambda').flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [
        ...[
          ...text.matchAll(/^export (?:abstract )?class ((?:Memory|InMemory|File|Simulated|Fake)\w*)/gm),
        ].map((m) => `${rel(file)} defines ${m[1]}`),
        ...(/['"](?:node:)?fs(?:\/promises)?['"]/.test(text) ? [`${rel(file)} imports the file system`] : []),
      ];
    });
    expect(violations).toEqual([]);
  });
});
