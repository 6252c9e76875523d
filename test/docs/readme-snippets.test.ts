/**
 * Every TypeScript snippet in README.md compiles and synthesizes where the README says it goes
 * (see ./snippets.ts): a snippet for `bin/kitebridge.ts` is pasted after the stack, type-checked
 * in memory against the project's sources and types, then run as the app; the stack it builds
 * must pass cdk-nag's AwsSolutions pack with nothing unacknowledged, and the app must synthesize
 * (with the AwsSolutions plugin `bin/kitebridge.ts` adds). A snippet that is a file of its own
 * (first line `// <path>.ts`) is type-checked at that path and exists there while the others run.
 * Fast: one type-check program for all snippets, no bundling, no built-in CloudFormation validation.
 *
 * The controls at the end put known-bad snippets through the same steps, so that each step is
 * shown to fail when it should.
 */
import { Stack, type App, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN_DIR,
  BIN_FILE,
  ROOT,
  extractSnippets,
  pasteIntoBin,
  runApp,
  typeCheck,
  writeFiles,
  type Snippet,
} from './snippets';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const binText = readFileSync(BIN_FILE, 'utf8');
const snippets = extractSnippets(readme);
const binSnippets = snippets.filter((s) => !s.file);
const fileSnippets = snippets.filter((s): s is Snippet & { file: string } => s.file !== undefined);

/** Known-bad snippets: each must fail one of the checks. */
const CONTROLS = {
  // What the README used to say: it creates the stack a second time.
  secondStack: `
import * as lambda from 'aws-cdk-lib/aws-lambda';
const stack = new KitebridgeStack(app, config.stackName, { config });
const notify = new lambda.Function(stack, 'Notify', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => {}'),
});
stack.addConsumer('Notify', { pattern: { source: ['buildkite'] }, receiver: { function: notify } });`,
  typeError: `
stack.addConsumer('Typo', { pattern: { source: ['buildkite'] }, receiver: { fn: 'not a function' } });`,
  // The README's first consumer once used one id for the function and the consumer.
  duplicateId: `
import * as lambda from 'aws-cdk-lib/aws-lambda';
const notify = new lambda.Function(stack, 'NotifyFailedDeploys', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => {}'),
});
stack.addConsumer('NotifyFailedDeploys', { pattern: { source: ['buildkite'] }, receiver: { function: notify } });`,
  // A plain Function: the managed AWSLambdaBasicExecutionRole policy is an AwsSolutions-IAM4 finding.
  nagFinding: `
import * as lambda from 'aws-cdk-lib/aws-lambda';
const notify = new lambda.Function(stack, 'PlainFunction', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => {}'),
});
stack.addConsumer('Plain', { pattern: { source: ['buildkite'] }, receiver: { function: notify } });`,
};
type Control = keyof typeof CONTROLS;

const readmeBinPath = (s: Snippet) => join(BIN_DIR, `kitebridge.readme-line-${s.line}.ts`);
const controlPath = (name: Control) => join(BIN_DIR, `kitebridge.control-${name}.ts`);

/** Every program to type-check (absolute path → text), all in one program. */
const programs = new Map<string, string>([
  ...binSnippets.map((s): [string, string] => [readmeBinPath(s), pasteIntoBin(binText, s.code)]),
  ...fileSnippets.map((s): [string, string] => [join(ROOT, s.file), s.code]),
  ...(Object.keys(CONTROLS) as Control[]).map((name): [string, string] => [
    controlPath(name),
    pasteIntoBin(binText, CONTROLS[name]),
  ]),
]);

let errors: Map<string, string[]>;
/** A stand-in project root holding the README's files, so that paths built from `__dirname` find them. */
let readmeFiles: string;

beforeAll(() => {
  errors = typeCheck(programs);
  // Inside the repository (NodejsFunction wants its entry under the lock file's folder), where
  // nothing lints, formats or type-checks.
  mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
  readmeFiles = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'readme-snippets-'));
  writeFiles(readmeFiles, new Map(fileSnippets.map((s) => [s.file, s.code])));
  // Loading aws-cdk-lib's 44 MB of declarations takes about 12 s here, near 30 s on a busy machine:
  // far more room than jest's 60 s default, so that only a hang fails this hook.
}, 300_000);

afterAll(() => {
  if (readmeFiles) rmSync(readmeFiles, { recursive: true, force: true });
});

function describeViolations(report: PolicyValidationPluginReport): string[] {
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`),
  );
}

/** Runs the program; returns its one app, its one stack and the AwsSolutions findings on it. */
function build(path: string): { app: App; stack: Stack; findings: string[] } {
  // What the app prints on stderr stays off the test output, unless running it fails.
  const stderr: unknown[][] = [];
  const log = jest.spyOn(console, 'error').mockImplementation((...args) => void stderr.push(args));
  let apps: App[];
  try {
    apps = runApp(programs.get(path) as string, path, join(readmeFiles, 'bin'));
  } catch (error) {
    const printed = stderr.map((args) => args.join(' ')).join('\n');
    throw printed ? new Error(`${(error as Error).message}\nstderr:\n${printed}`, { cause: error }) : error;
  } finally {
    log.mockRestore();
  }
  expect(apps).toHaveLength(1);
  const app = apps[0] as App;
  const stacks = app.node.children.filter((c): c is Stack => Stack.isStack(c));
  expect(stacks).toHaveLength(1);
  const stack = stacks[0] as Stack;
  return { app, stack, findings: describeViolations(new AwsSolutionsChecks(stack).validateScope(stack)) };
}

/** `app.synth()`, with the validation report the AwsSolutions plugin prints kept off the console. */
function synth(app: App): void {
  const log = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    app.synth();
  } finally {
    log.mockRestore();
  }
}

it('finds the README snippets: code for bin/kitebridge.ts, and the files they use', () => {
  expect(binSnippets.length).toBeGreaterThanOrEqual(2);
  // The README tells the reader what pasteIntoBin does: keep the stack in `stack`, paste after it.
  expect(readme).toContain('const stack = new KitebridgeStack(app, config.stackName, { … });');
  expect(fileSnippets.map((s) => s.file)).toEqual([expect.stringMatching(/^lambda\/.+\.ts$/)]);
  // Each file a snippet asks for is used by a snippet for bin/kitebridge.ts.
  for (const { file } of fileSnippets) {
    const parts = file.replace(/\.ts$/, '').split('/');
    expect(binSnippets.some((s) => parts.every((part) => s.code.includes(`'${part}`)))).toBe(true);
  }
});

it('extracts ts and typescript blocks only, with their line and the file a first-line comment names', () => {
  const markdown = [
    '# Title',
    '```sh',
    'npm test',
    '```',
    '```ts',
    "const a = 'a';",
    '```',
    '````typescript',
    '// lambda/x/handler.ts',
    'export const b = 1;',
    '```',
    '````',
    '```json',
    '{}',
    '```',
  ].join('\n');
  expect(extractSnippets(markdown)).toEqual([
    { line: 5, code: "const a = 'a';" },
    { line: 8, code: '// lambda/x/handler.ts\nexport const b = 1;\n```', file: 'lambda/x/handler.ts' },
  ]);
});

// One describe per snippet (a loop, not describe.each: a README without file snippets is fine).
for (const { line, file } of fileSnippets) {
  describe(`README line ${line}: file ${file}`, () => {
    it('compiles', () => {
      expect(errors.get(join(ROOT, file))).toEqual([]);
    });
  });
}

for (const s of binSnippets) {
  describe(`README line ${s.line}, in bin/kitebridge.ts`, () => {
    it('compiles', () => {
      expect(errors.get(readmeBinPath(s))).toEqual([]);
    });

    it('synthesizes, with no unacknowledged AwsSolutions finding', () => {
      const { app, stack, findings } = build(readmeBinPath(s));
      expect(findings).toEqual([]);
      // It added something: a consumer's rule on the bus.
      expect(stack.node.findAll().some((c) => c.node.id === 'Rule')).toBe(true);
      expect(() => synth(app)).not.toThrow();
    });
  });
}

describe('controls: the checks fail on bad snippets', () => {
  it('a snippet that creates the stack again does not compile', () => {
    expect(errors.get(controlPath('secondStack'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/Cannot redeclare block-scoped variable 'stack'/)]),
    );
  });

  it('a snippet with a type error does not compile', () => {
    expect(errors.get(controlPath('typeError'))).toEqual([
      expect.stringMatching(/^line \d+: .*'fn'.* \[stack\.addConsumer\('Typo'/),
    ]);
  });

  it('a snippet that reuses a construct id compiles but does not synthesize', () => {
    expect(errors.get(controlPath('duplicateId'))).toEqual([]);
    expect(() => build(controlPath('duplicateId'))).toThrow(
      /There is already a Construct with name 'NotifyFailedDeploys'/,
    );
  });

  it('a snippet with an unacknowledged AwsSolutions finding is reported, and synth fails', () => {
    expect(errors.get(controlPath('nagFinding'))).toEqual([]);
    const { app, findings } = build(controlPath('nagFinding'));
    expect(findings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AwsSolutions-IAM4\[.*\] at .*\/PlainFunction\//)]),
    );
    expect(() => synth(app)).toThrow();
  });
});
