/**
 * Every Buildkite webhook body the shared reference holds, wrapped as the EventBridge event the
 * verify function publishes for it: documentation examples (which elide whole objects with
 * `"...": "..."`) and real captures. Read from `../shared/`, never copied into the project.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILDKITE_SOURCE, type EventEnvelope } from '../../lambda/shared/contract';
import { detailTypeOf, NOT_WEBHOOK_BODIES, SHARED } from './corpus';

export { detailTypeOf };

const PAYLOADS = path.join(SHARED, 'buildkite/payloads');
const REALWORLD = path.join(SHARED, 'realworld/buildkite');

/** Webhook bodies only: not REST API responses, not pipeline-trigger (third-party) examples. */
function isWebhookBody(file: string): boolean {
  return file.endsWith('.json') && !NOT_WEBHOOK_BODIES.includes(file);
}

/** `payloads/<file>` and `realworld/<file>` for every webhook body, sorted. */
export function webhookBodyFiles(): string[] {
  return [
    ...readdirSync(PAYLOADS)
      .filter(isWebhookBody)
      .map((f) => `payloads/${f}`),
    ...readdirSync(REALWORLD)
      .filter((f) => f.endsWith('.json'))
      .map((f) => `realworld/${f}`),
  ].sort();
}

export function readWebhookBody(file: string): Record<string, unknown> {
  const dir = file.startsWith('payloads/') ? PAYLOADS : REALWORLD;
  return JSON.parse(readFileSync(path.join(dir, file.replace(/^[a-z]+\//, '')), 'utf8')) as Record<
    string,
    unknown
  >;
}

/** The event on the bus for `body`: detail = body + `delivery` (the verify function's envelope). */
export function publishedEvent(
  body: Record<string, unknown>,
  id = 'evt-1',
  delivery: Record<string, unknown> = {},
): EventEnvelope {
  return {
    version: '0',
    id,
    'detail-type': detailTypeOf(body),
    source: BUILDKITE_SOURCE,
    account: '123456789012',
    time: '2026-06-03T04:16:04Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      ...body,
      delivery: {
        receivedAt: '2026-06-03T04:16:03.000Z',
        requestId: `req-${id}`,
        dedupeKey: `sha256-of-${id}`,
        auth: 'token',
        sourceIp: '192.0.2.1',
        ...delivery,
      },
    },
  };
}
