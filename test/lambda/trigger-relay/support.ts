import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TRIGGER_SOURCE, triggerDetailType, type OversizedPointer } from '../../../lambda/shared/contract';
import type {
  DeferredAttributes,
  RelayLog,
  RelayMessage,
  RelayQueue,
} from '../../../lambda/trigger-relay/ports';

/** What the stand-in for Buildkite received. */
export interface ReceivedRequest {
  readonly path: string;
  readonly body: string;
  readonly headers: IncomingHttpHeaders;
}

/** How the stand-in answers one request. */
export interface FakeAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Wait this long before answering (timeouts). */
  readonly delayMs?: number;
}

export interface FakeBuildkite {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** A pipeline-trigger URL on the stand-in; its last path segment plays the secret token. */
  readonly triggerUrl: string;
  readonly requests: ReceivedRequest[];
  answer: (request: ReceivedRequest, index: number) => FakeAnswer;
  close(): Promise<void>;
}

export const TRIGGER_TOKEN = 'bktr_s3cr3tTriggerToken0123456789';

/** A real HTTP server on 127.0.0.1 (ephemeral port) answering like a Buildkite pipeline trigger. */
export async function startFakeBuildkite(
  answer: (request: ReceivedRequest, index: number) => FakeAnswer = (_r, i) => ({
    status: 201,
    body: { id: `bk-delivery-${i}` },
  }),
): Promise<FakeBuildkite> {
  const requests: ReceivedRequest[] = [];
  const pending = new Set<ServerResponse>();
  const fake = { answer } as FakeBuildkite;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        path: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        headers: req.headers,
      };
      const index = requests.push(received) - 1;
      const planned = fake.answer(received, index);
      const send = () => {
        pending.delete(res);
        if (res.destroyed) return;
        res.writeHead(planned.status, { 'content-type': 'application/json', ...planned.headers });
        res.end(planned.body === undefined ? '' : JSON.stringify(planned.body));
      };
      if (planned.delayMs) {
        pending.add(res);
        setTimeout(send, planned.delayMs).unref();
      } else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(fake, {
    url,
    triggerUrl: `${url}/deliver/${TRIGGER_TOKEN}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of pending) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

export interface EventOptions {
  readonly trigger?: string;
  readonly dedupeKey?: string;
  readonly payload?: unknown;
  readonly oversized?: OversizedPointer;
  readonly id?: string;
}

/** A `kitebridge.trigger` event as an SQS rule target delivers it (the JSON envelope). */
export function triggerEvent(options: EventOptions = {}): string {
  const trigger = options.trigger ?? 'github-deploy';
  const delivery = {
    receivedAt: '2026-11-23T12:00:00.000Z',
    requestId: 'req-1',
    dedupeKey: options.dedupeKey ?? 'github:72d3162e-cc78-11e3-81ab-4c9367dc0958',
    auth: 'github',
    sourceIp: '192.0.2.10',
    ...(options.oversized ? { oversized: options.oversized } : {}),
  };
  return JSON.stringify({
    version: '0',
    id: options.id ?? 'event-1',
    'detail-type': triggerDetailType(trigger),
    source: TRIGGER_SOURCE,
    account: '123456789012',
    time: '2026-11-23T12:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      trigger,
      headers: { 'x-github-event': 'pull_request' },
      delivery,
      ...(options.oversized ? {} : { payload: options.payload ?? { action: 'closed', number: 123 } }),
    },
  });
}

export function message(body: string, extra: Partial<RelayMessage> = {}): RelayMessage {
  return { messageId: extra.messageId ?? 'm-1', body, attempt: 0, ...extra };
}

/** A relay queue that records what the relay did with each message. */
export class RecordingQueue implements RelayQueue {
  readonly deferred: ({ message: RelayMessage; delaySeconds: number } & DeferredAttributes)[] = [];
  readonly deadLetters: { message: RelayMessage; reason: string }[] = [];

  async defer(message: RelayMessage, delaySeconds: number, next: DeferredAttributes) {
    this.deferred.push({ message, delaySeconds, ...next });
  }

  async deadLetter(message: RelayMessage, reason: string) {
    this.deadLetters.push({ message, reason });
  }
}

/** A log that keeps every line, to assert on (and to prove no line holds a secret). */
export class RecordingLog implements RelayLog {
  readonly lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  info(message: string, attributes: Record<string, unknown>) {
    this.lines.push({ level: 'info', message, attributes });
  }
  warn(message: string, attributes: Record<string, unknown>) {
    this.lines.push({ level: 'warn', message, attributes });
  }
  error(message: string, attributes: Record<string, unknown>) {
    this.lines.push({ level: 'error', message, attributes });
  }
  text(): string {
    return JSON.stringify(this.lines);
  }
}
