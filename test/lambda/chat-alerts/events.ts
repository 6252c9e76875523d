import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EventEnvelope } from '../../../lambda/shared/contract';

type Json = Record<string, unknown>;

/** A fixture body from fixtures/buildkite. */
export function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(path.join(__dirname, '../../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Json;
}

let counter = 0;

/** Wraps a body as the bus delivers it: envelope, `detail-type` = event, `delivery` added. */
export function envelope(body: Json, dedupeKey = `dedupe-${++counter}`): EventEnvelope {
  return {
    version: '0',
    id: `event-${++counter}`,
    'detail-type': String(body.event),
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
