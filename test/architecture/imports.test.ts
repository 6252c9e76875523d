/**
 * The house plan, enforced: dependencies point one way (`bin → lib → lambda`, `local → lib,
 * lambda`, `bench`/`scripts`/`support` → their own support, never `test/`), and there is no import
 * cycle among the sources. Reads every relative import (static, `export … from`, dynamic) as text.
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
