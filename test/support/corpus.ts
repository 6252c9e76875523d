/**
 * Every webhook body the tests know of: the project's own fixtures, the documentation examples in
 * `../shared/buildkite/payloads/` and the bodies captured in the wild in `../shared/realworld/`
 * (read in place, never copied into the project).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testEngineDetailType } from '../../lambda/shared/contract';

export const PROJECT_ROOT = path.join(__dirname, '../..');
export const SHARED = path.join(PROJECT_ROOT, '../shared');

export interface CorpusBody {
  /** Where it came from, relative to the project root's parent (`main/fixtures/…`, `shared/…`). */
  readonly name: string;
  /** The raw bytes as the sender sent them. */
  readonly raw: Buffer;
  readonly body: Record<string, unknown>;
  /** The detail-type kitebridge publishes it under. */
  readonly detailType: string;
}

/** Files in `../shared/buildkite/payloads/` that are not webhook bodies: API answers and trigger examples. */
export const NOT_WEBHOOK_BODIES = [
  'agent-metrics-get-v3-metrics-response.json',
  'meta-get-v2-meta-response.json',
  'pipeline-triggers-accessing-data-github-pull_request-closed.json',
  'pipeline-triggers-request-example-pagerduty.json',
  'pipeline-triggers-response-201.json',
];

function jsonFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => path.join(folder, file));
}

/** The detail-type the verify function gives a body: its `event`, else `workflow.<type>`. */
export function detailTypeOf(body: Record<string, unknown>): string {
  if (typeof body.event === 'string') return body.event;
  if (typeof body.type === 'string') return testEngineDetailType(body.type);
  throw new Error(`A webhook body with neither event nor type: ${JSON.stringify(body).slice(0, 80)}`);
}

function load(file: string): CorpusBody {
  const raw = readFileSync(file);
  const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  return {
    name: path.relative(path.join(PROJECT_ROOT, '..'), file),
    raw,
    body,
    detailType: detailTypeOf(body),
  };
}

/** Buildkite webhook bodies (Pipelines, Package Registries, Test Engine) from all three sources. */
export function webhookBodies(): CorpusBody[] {
  const payloads = path.join(SHARED, 'buildkite/payloads');
  return [
    ...jsonFiles(path.join(PROJECT_ROOT, 'fixtures/buildkite')),
    ...jsonFiles(payloads).filter((file) => !NOT_WEBHOOK_BODIES.includes(path.basename(file))),
    ...jsonFiles(path.join(SHARED, 'realworld/buildkite')),
  ].map(load);
}

/** The non-webhook files among the documentation payloads (each must be refused with a 400). */
export function notWebhookBodies(): { name: string; raw: Buffer }[] {
  return NOT_WEBHOOK_BODIES.map((file) => {
    const full = path.join(SHARED, 'buildkite/payloads', file);
    return { name: path.relative(path.join(PROJECT_ROOT, '..'), full), raw: readFileSync(full) };
  });
}

/** Third-party trigger bodies: the project's fixtures and the captured ones. */
export function triggerBodies(): { name: string; raw: Buffer; body: unknown }[] {
  return [
    ...jsonFiles(path.join(PROJECT_ROOT, 'fixtures/triggers')),
    ...jsonFiles(path.join(SHARED, 'realworld/triggers')),
  ].map((file) => {
    const raw = readFileSync(file);
    return {
      name: path.relative(path.join(PROJECT_ROOT, '..'), file),
      raw,
      body: JSON.parse(raw.toString('utf8')),
    };
  });
}
