/**
 * Runs the README's TypeScript snippets where the README says they go, for
 * `readme-snippets.test.ts`.
 *
 * Two kinds of snippet:
 * - one whose first line is `// <path>.ts` is a file of its own, to create at that path (a
 *   consumer's handler, say);
 * - any other goes into `bin/kitebridge.ts`, after the statement that creates the stack, which
 *   the README asks to keep in a constant (`const stack = new KitebridgeStack(…)`); its imports
 *   go with the others at the top of the file.
 */
import * as cdk from 'aws-cdk-lib';
import type { AppProps } from 'aws-cdk-lib';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import cdkJson from '../../cdk.json';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN_DIR = path.join(ROOT, 'bin');
export const BIN_FILE = path.join(BIN_DIR, 'kitebridge.ts');

export interface Snippet {
  /** 1-based line of the opening fence in the markdown. */
  readonly line: number;
  readonly code: string;
  /** The path (from the repository root) named on the snippet's first line, for a file of its own. */
  readonly file?: string;
}

const FILE_MARKER = /^\/\/ ((?:[\w.-]+\/)*[\w.-]+\.ts)\s*$/;

/** Every ```ts / ```typescript block of the markdown, in order. */
export function extractSnippets(markdown: string): Snippet[] {
  const lines = markdown.split(/\r?\n/);
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,})\s*([\w-]*)/.exec(lines[i] ?? '');
    if (!open) continue;
    const fence = open[1] as string;
    const close = lines.findIndex(
      (l, j) => j > i && /^`{3,}$/.test(l.trim()) && l.trim().length >= fence.length,
    );
    const end = close < 0 ? lines.length : close;
    if (['ts', 'typescript'].includes((open[2] ?? '').toLowerCase())) {
      const code = lines.slice(i + 1, end).join('\n');
      const file = FILE_MARKER.exec(code.split('\n')[0] ?? '')?.[1];
      snippets.push({ line: i + 1, code, ...(file ? { file } : {}) });
    }
    i = end;
  }
  return snippets;
}

/**
 * `bin/kitebridge.ts` with the snippet pasted in as the README says: the stack kept in `stack`,
 * the snippet's statements right after it, its imports after the file's own.
 */
export function pasteIntoBin(binText: string, snippetCode: string): string {
  const bin = ts.createSourceFile(BIN_FILE, binText, ts.ScriptTarget.ES2022, true);
  const createsStack = (node: ts.Node | undefined) =>
    node !== undefined &&
    ts.isNewExpression(node) &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === 'KitebridgeStack';
  const stackStatement = bin.statements.find(
    (s) =>
      (ts.isExpressionStatement(s) && createsStack(s.expression)) ||
      (ts.isVariableStatement(s) &&
        s.declarationList.declarations.some(
          (d) => ts.isIdentifier(d.name) && d.name.text === 'stack' && createsStack(d.initializer),
        )),
  );
  if (!stackStatement) {
    throw new Error(
      'bin/kitebridge.ts has no top-level `new KitebridgeStack(…)` statement; update the README and this test',
    );
  }
  const snippet = ts.createSourceFile('snippet.ts', snippetCode, ts.ScriptTarget.ES2022, true);
  const imports = snippet.statements.filter(ts.isImportDeclaration);
  let body = snippetCode;
  for (const imp of [...imports].reverse()) body = body.slice(0, imp.getStart()) + body.slice(imp.end);
  const importText = imports.map((imp) => imp.getText()).join('\n');
  const lastBinImport = [...bin.statements].reverse().find(ts.isImportDeclaration);
  const importsAt = lastBinImport?.end ?? 0;

  const stackText = ts.isExpressionStatement(stackStatement)
    ? `const stack = ${stackStatement.expression.getText()};`
    : stackStatement.getText();
  return [
    binText.slice(0, importsAt),
    importText ? `\n${importText}` : '',
    binText.slice(importsAt, stackStatement.getStart()),
    stackText,
    `\n\n${body.trim()}\n`,
    binText.slice(stackStatement.end),
  ].join('');
}

/**
 * Type-checks in-memory files (absolute path → text) against the project (its tsconfig, its
 * sources and types on disk) and returns each file's errors, one line each with the line of code.
 */
export function typeCheck(files: ReadonlyMap<string, string>): Map<string, string[]> {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const host = ts.createCompilerHost(options, true);
  const fromDisk = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = files.get(path.resolve(fileName));
    return text === undefined
      ? fromDisk(fileName, languageVersion, onError, shouldCreate)
      : ts.createSourceFile(fileName, text, languageVersion, true);
  };
  host.fileExists = (fileName) => files.has(path.resolve(fileName)) || ts.sys.fileExists(fileName);
  host.readFile = (fileName) => files.get(path.resolve(fileName)) ?? ts.sys.readFile(fileName);
  const program = ts.createProgram({
    rootNames: [...files.keys()],
    options: { ...options, noEmit: true },
    host,
  });

  const result = new Map<string, string[]>();
  for (const file of files.keys()) {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`${file} is not in the program`);
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    result.set(
      file,
      diagnostics.map((d) => {
        const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
        if (d.start === undefined) return message;
        const { line } = source.getLineAndCharacterOfPosition(d.start);
        const code = source.text.split('\n')[line]?.trim();
        return `line ${line + 1}: ${message} [${code}]`;
      }),
    );
  }
  return result;
}

/**
 * Runs a `bin/kitebridge.ts` variant as `cdk synth` would run the app, minus the slow parts: the
 * App it creates gets cdk.json's context (as the CLI passes it), no bundling and no built-in
 * CloudFormation validation. Relative imports resolve from `bin/`, as for the real file;
 * `__dirname` is `dirname`, so paths the program builds from it can point at files the README
 * asks to create. Returns the Apps it created; a `process.exit` throws.
 */
export function runApp(source: string, fileName: string, dirname: string): cdk.App[] {
  const apps: cdk.App[] = [];
  class SnippetApp extends cdk.App {
    constructor(props: AppProps = {}) {
      super({
        ...props,
        builtinCloudFormationValidation: false,
        context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...props.context },
      });
      apps.push(this);
    }
  }
  const cdkForSnippet: unknown = Object.create(cdk, { App: { value: SnippetApp } });
  const load = (specifier: string): unknown => {
    if (specifier === 'aws-cdk-lib') return cdkForSnippet;
    const resolved = specifier.startsWith('.') ? path.resolve(BIN_DIR, specifier) : specifier;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program's own imports, through jest's loader
    return require(resolved);
  };
  const exitThrows = new Proxy(process, {
    get: (target, key) =>
      key === 'exit'
        ? (code?: number) => {
            throw new Error(`the program called process.exit(${code ?? ''})`);
          }
        : Reflect.get(target, key),
  });
  const js = ts
    .transpileModule(source, {
      fileName,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    })
    // A shebang is valid at the start of a file, not in a function body.
    .outputText.replace(/^#!.*/, '');
  const module = { exports: {} };
  const run = new Function('exports', 'require', 'module', '__filename', '__dirname', 'process', js);
  run(module.exports, load, module, path.join(dirname, path.basename(fileName)), dirname, exitThrows);
  return apps;
}

/** Writes `files` (path from the repository root → text) under `root`. */
export function writeFiles(root: string, files: ReadonlyMap<string, string>): void {
  for (const [file, text] of files) {
    const target = path.resolve(root, file);
    if (!target.startsWith(`${path.resolve(root)}${path.sep}`)) throw new Error(`${file} is outside ${root}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
  }
}
