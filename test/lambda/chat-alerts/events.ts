import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EventEnvelope, OversizedPointer } from '../../../lambda/shared/contract';

type Json = Record<string, unknown>;

/** The shared reference material next to the project (read only, never copied). */
const SHARED = path.join(__dirname, '../../../../shared');

/** A fixture body from fixtures/buildkite. */
export function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(path.join(__dirname, '../../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Json;
}

/** A body from `../shared/` by its path there, e.g. `buildkite/payloads/ping-ping.json`. */
export function sharedBody(relative: string): Json {
  return JSON.parse(readFileSync(path.join(SHARED, relative), 'utf8')) as Json;
}

/**
 * Every Buildkite webhook body in `../shared/`: the real-world captures and documented examples,
 * and the webhook bodies among the payload examples (not the REST API answers nor the
 * pipeline-trigger examples, which are no webhook bodies).
 */
export function sharedWebhookBodies(): [string, Json][] {
  const realworld = readdirSync(path.join(SHARED, 'realworld/buildkite'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => `realworld/buildkite/${f}`);
  const payloads = readdirSync(path.join(SHARED, 'buildkite/payloads'))
    .filter(
      (f) => f.endsWith('.json') && !f.startsWith('pipeline-triggers-') && !f.endsWith('-response.json'),
    )
    .map((f) => `buildkite/payloads/${f}`);
  return [...realworld, ...payloads].sort().map((file) => [file, sharedBody(file)]);
}

/**
 * The detail-type verify publishes a body under: its `event`, or for a Test Engine monitor body
 * (no `event`) `workflow.<type>`.
 */
export function detailTypeOf(body: Json): string {
  if (typeof body.event === 'string') return body.event;
  if (typeof body.type === 'string') return `workflow.${body.type}`;
  throw new Error(`Not a webhook body: ${JSON.stringify(body).slice(0, 80)}`);
}

let counter = 0;

/** Wraps a body as the bus delivers it: envelope, `detail-type` from the body, `delivery` added. */
export function envelope(body: Json, dedupeKey = `dedupe-${++counter}`): EventEnvelope {
  return {
    version: '0',
    id: `event-${++counter}`,
    'detail-type': detailTypeOf(body),
    source: 'buildkite',
    account: '123456789012',
    time: '2026-06-03T04:16:03Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      ...body,
      delivery: {
        receivedAt: '2026-06-03T04:16:03.100Z',
        requestId: `req-${counter}`,
        dedupeKey,
        auth: 'token',
        sourceIp: '192.0.2.10',
      },
    },
  };
}

/** A build.finished body for build `number` of deploy-api on `branch` with `state`. */
export function buildFinished(number: number, state: string, overrides: Json = {}): Json {
  const body = fixture('build.finished');
  const build = body.build as Json;
  return {
    ...body,
    build: {
      ...build,
      id: `build-${number}`,
      number,
      state,
      web_url: `https://buildkite.com/acme/deploy-api/builds/${number}`,
      ...overrides,
    },
  };
}

/** A job.finished body for a job of build `number`. */
export function jobFinished(number: number, jobId: string, overrides: Json = {}): Json {
  const body = fixture('job.finished');
  return {
    ...body,
    build: { ...(body.build as Json), id: `build-${number}`, number },
    job: {
      ...(body.job as Json),
      id: jobId,
      name: `:jest: job ${jobId}`,
      web_url: `https://buildkite.com/acme/deploy-api/builds/${number}#${jobId}`,
      ...overrides,
    },
  };
}

/**
 * The pointer event verify publishes for a body too large for EventBridge: the detail-type, a
 * few routing fields (`routing`) and `delivery.oversized`; the body itself is stored at `key`.
 */
export function pointerEnvelope(
  detailType: string,
  routing: Json,
  pointer: OversizedPointer,
  dedupeKey = `dedupe-${++counter}`,
): EventEnvelope {
  const event = envelope({ event: detailType }, dedupeKey);
  const delivery = event.detail.delivery as Json;
  return {
    ...event,
    detail: { ...routing, event: detailType, delivery: { ...delivery, oversized: pointer } },
  };
}
