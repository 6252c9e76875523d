/**
 * Shared pieces of the benchmarks: realistic Buildkite bodies of a chosen size, small
 * statistics helpers and a description of the machine. Benchmarks only: nothing in the
 * product imports this.
 */
import { createHash } from 'node:crypto';
import { openSync, readFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { apiEvent } from '../support/api-event';

export const PROJECT_ROOT = path.join(__dirname, '..');

export function readFixture(name: string): Record<string, unknown> {
  const file = path.join(PROJECT_ROOT, 'fixtures', 'buildkite', `${name}.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Deterministic hex, so bodies are identical from run to run but not trivially repetitive. */
function hex(seed: string, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += createHash('sha256').update(`${seed}:${i}`).digest('hex');
  return out.slice(0, length);
}

const SERVICES = ['api', 'web', 'worker', 'billing', 'search', 'auth', 'notifier', 'ingest'];
const SUITES = ['unit', 'integration', 'e2e', 'contract', 'lint', 'typecheck'];

/** A commit message of a squash merge: a summary line and one bullet per squashed commit. */
function squashMessage(commits: number): string {
  const lines = ['Merge branch release/2026-11 into main (#4812)', ''];
  for (let i = 0; i < commits; i++) {
    const service = SERVICES[i % SERVICES.length] as string;
    lines.push(
      `* ${hex(`commit${i}`, 12)} ${service}: retry transient S3 503 SlowDown errors with jittered backoff (attempt ${i % 5}/5), log the final error and surface it in the deploy step summary`,
    );
  }
  lines.push('', 'Co-authored-by: Dana Whitfield <dana.whitfield@acme.example>');
  return lines.join('\n');
}

/** A build.env map like a monorepo pipeline sets: a few dozen variables. */
function buildEnv(count: number): Record<string, string> {
  const env: Record<string, string> = {
    CI: 'true',
    NODE_ENV: 'production',
    AWS_REGION: 'eu-west-1',
    DEPLOY_ENVIRONMENT: 'staging',
    DOCKER_BUILDKIT: '1',
    BUILDKITE_PLUGIN_DOCKER_COMPOSE_IMAGE_REPOSITORY: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/ci-cache',
  };
  for (let i = 0; Object.keys(env).length < count; i++) {
    const service = (SERVICES[i % SERVICES.length] as string).toUpperCase();
    env[`${service}_IMAGE_TAG_${i}`] = `sha-${hex(`env${i}`, 40)}`;
  }
  return env;
}

/**
 * Meta-data entry `i`: what pipelines store with `buildkite-agent meta-data set`, here a
 * JSON-encoded test-shard summary (a string value, as Buildkite meta-data values are).
 */
function metaDataEntry(i: number): [string, string] {
  const suite = SUITES[i % SUITES.length] as string;
  const service = SERVICES[i % SERVICES.length] as string;
  const summary = {
    suite,
    service,
    shard: i,
    passed: 380 + (i % 40),
    failed: i % 7 === 0 ? 1 : 0,
    skipped: i % 3,
    durationMs: 41_000 + i * 137,
    slowest: [
      `${service}/src/handlers/${hex(`f${i}a`, 8)}.test.ts`,
      `${service}/src/domain/${hex(`f${i}b`, 8)}.test.ts`,
    ],
    junit: `s3://acme-ci-artifacts/deploy-api/1042/${suite}/shard-${i}/junit-${hex(`j${i}`, 16)}.xml`,
  };
  return [`test-summary:${suite}:shard-${i}`, JSON.stringify(summary)];
}

/**
 * A build.finished body (fixtures/buildkite/build.finished.json) grown or trimmed to about
 * `targetBytes` of compact JSON, as Buildkite sends it. Below the fixture's size, the pipeline
 * object keeps only its identity fields; above it, the build carries a squash-merge commit
 * message, a build.env map and test-summary meta-data until the size is reached.
 */
export function buildFinishedBody(targetBytes: number): string {
  const body = readFixture('build.finished') as {
    build: Record<string, unknown>;
    pipeline: Record<string, unknown>;
  };
  const full = JSON.stringify(body);
  if (targetBytes < full.length) {
    const keep = ['id', 'graphql_id', 'url', 'web_url', 'name', 'description', 'slug', 'repository'];
    body.pipeline = Object.fromEntries(keep.map((key) => [key, body.pipeline[key]]));
    return JSON.stringify(body);
  }
  body.build.message = squashMessage(Math.min(60, Math.floor(targetBytes / 2000)));
  body.build.env = buildEnv(Math.min(80, 10 + Math.floor(targetBytes / 4000)));
  const metaData: Record<string, string> = {
    'release-version': '2026.11.23-1042',
    'deploy-approved-by': 'dwhitfield',
  };
  body.build.meta_data = metaData;
  // Grow in bulk first (cheap), then entry by entry to land just past the target.
  let text = JSON.stringify(body);
  let i = 0;
  const add = (count: number) => {
    for (const end = i + count; i < end; i++) {
      const [key, value] = metaDataEntry(i);
      metaData[key] = value;
    }
    text = JSON.stringify(body);
  };
  const before = text.length;
  add(20);
  const perEntry = (text.length - before) / 20;
  add(Math.max(0, Math.floor((targetBytes - text.length) / perEntry) - 2));
  while (text.length < targetBytes) add(1);
  return text;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile, q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function fmt(value: number, digits = 2): string {
  return value.toFixed(digits);
}

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** One line describing where the figures came from. */
export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `machine: ${os.availableParallelism()} cores (${cpu}), Node ${process.version}, ${os.platform()} ${os.release()}; load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

/** Reads `--name value` flags with numeric defaults. */
export function numberFlag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`);
  return value;
}

export function stringFlag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = process.argv[index + 1];
  if (value === undefined) throw new Error(`--${name} needs a value`);
  return value;
}

/**
 * Sends everything written to `process.stdout` to /dev/null, each chunk still encoded and
 * written with a `write(2)` as a real stream would (so a logger's write cost stays in the
 * figures), and returns a printer that writes to the real stdout.
 */
export function stdoutToNull(): (text: string) => void {
  const realWrite = process.stdout.write.bind(process.stdout);
  const fd = openSync('/dev/null', 'w');
  process.stdout.write = ((chunk: string | Uint8Array) => {
    writeSync(fd, typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    return true;
  }) as typeof process.stdout.write;
  return (text) => void realWrite(`${text}\n`);
}

/**
 * A Buildkite delivery of `body` as API Gateway hands it to the verify function: the headers it
 * passes on, plus `auth` (the one credential header), received now.
 */
export function buildkiteDeliveryEvent(
  body: string,
  auth: Record<string, string>,
  eventName = 'build.finished',
): APIGatewayProxyEvent {
  const event = apiEvent({
    body,
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    headers: {
      Host: 'abcde12345.execute-api.eu-west-1.amazonaws.com',
      'User-Agent': 'Buildkite-Request',
      'X-Buildkite-Event': eventName,
      'X-Buildkite-Request': '019a9f1c-6b7d-7a41-8e2c-5d3f0b9a1c27',
      'X-Amzn-Trace-Id': 'Root=1-6742b1c0-0a1b2c3d4e5f60718293a4b5',
      'X-Forwarded-For': '192.0.2.10',
      'X-Forwarded-Port': '443',
      'X-Forwarded-Proto': 'https',
      ...auth,
    },
  });
  return { ...event, requestContext: { ...event.requestContext, requestTimeEpoch: Date.now() } };
}
