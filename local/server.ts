import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ALL_EVENTS_PATTERN, type EventEnvelope } from '../lambda/shared/contract';
import { createVerifyHandler, type OutcomeObserver } from '../lambda/verify/app';
import { EventDeliverer, type Publisher } from '../lambda/verify/delivery';
import { TokenSource } from '../lambda/verify/token-source';
import { createGateway } from './gateway';
import { FileBodyStore, FileSpool, localBodyFolder } from './file-adapters';
import { detailPaths } from './event-pattern';
import { LocalBus, type DeadLetter, type LocalRule } from './local-bus';
import type { KitebridgeConfig } from '../lib/config';

export interface LocalOptions {
  readonly config: KitebridgeConfig;
  /** Where local outputs go: dev token, spool, oversized bodies, event log, dead letters. */
  readonly dataDir: string;
  /** @default a random token, written to `<dataDir>/dev-token` */
  readonly token?: string;
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** Rules on the local bus besides the built-in event log. */
  readonly rules?: readonly LocalRule[];
  /** Wraps the bus publisher, e.g. to inject faults in tests. */
  readonly wrapPublisher?: (publisher: Publisher) => Publisher;
  readonly observe?: OutcomeObserver;
  readonly log?: (line: string) => void;
}

export interface LocalKitebridge {
  readonly url: string;
  readonly token: string;
  readonly bus: LocalBus;
  readonly close: () => Promise<void>;
}

/**
 * Runs kitebridge on this machine: the real verify handler behind a local gateway, publishing
 * to a local bus whose rules use EventBridge pattern semantics. The AWS services around the
 * handler are replaced by files under `dataDir`; the handler code is the deployed code.
 */
export async function startLocal(options: LocalOptions): Promise<LocalKitebridge> {
  const { config, dataDir } = options;
  const log = options.log ?? (() => undefined);
  mkdirSync(dataDir, { recursive: true });
  const token = options.token ?? randomBytes(24).toString('hex');
  writeFileSync(path.join(dataDir, 'dev-token'), `${token}\n`, { mode: 0o600 });

  // One append stream, not a synchronous append per event: the gateway never waits on the disk.
  const eventLog = createWriteStream(path.join(dataDir, 'events.jsonl'), { flags: 'a' });
  const eventLogRule: LocalRule = {
    id: 'EventLog',
    pattern: ALL_EVENTS_PATTERN,
    target: (event: EventEnvelope) =>
      new Promise<void>((resolve, reject) =>
        eventLog.write(`${JSON.stringify(event)}\n`, (error) => (error ? reject(error) : resolve())),
      ),
  };
  const bus = new LocalBus({
    rules: [eventLogRule, ...(options.rules ?? [])],
    onDeadLetter: (dead: DeadLetter) => {
      appendFileSync(path.join(dataDir, 'dead-letters.jsonl'), `${JSON.stringify(dead)}\n`);
      log(`dead letter: rule ${dead.ruleId} failed on ${dead.event['detail-type']}: ${dead.error}`);
    },
  });
  const publisher: Publisher = { publish: (entry) => bus.publish(entry) };
  const deliverer = new EventDeliverer({
    publisher: options.wrapPublisher ? options.wrapPublisher(publisher) : publisher,
    spool: new FileSpool(path.join(dataDir, 'spool.jsonl')),
    bodies: new FileBodyStore(localBodyFolder(dataDir)),
    // As deployed: pointer events keep every field a rule on the (local) bus matches on.
    routingPaths: (options.rules ?? []).flatMap((rule) => detailPaths(rule.pattern)),
    log: {
      warn: (message, attributes) => log(`${message} ${JSON.stringify(attributes)}`),
      error: (message, attributes) => log(`${message} ${JSON.stringify(attributes)}`),
    },
  });
  // Locally every trigger's shared secret is the dev token (`npm run send -- --trigger` signs with it).
  const triggers = new Map(
    config.triggers.map((t) => [
      t.name,
      {
        definition: {
          name: t.name,
          kind: t.kind,
          ...(t.header ? { header: t.header } : {}),
          ...(t.encoding ? { encoding: t.encoding } : {}),
        },
        secrets: new TokenSource(async () => token),
      },
    ]),
  );
  const handler = createVerifyHandler(
    { tokens: new TokenSource(async () => token), deliverer, triggers },
    { replayWindowSeconds: config.replayWindowSeconds, maxBodyBytes: config.maxBodyBytes },
    options.observe ?? (() => undefined),
  );
  const server = createGateway({
    handler,
    allowlist: config.webhookIps,
    allowAnySourceIp: config.allowAnySourceIp,
    onHandlerError: (error) =>
      log(`the verify handler threw: ${error instanceof Error ? error.stack : String(error)}`),
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    token,
    bus,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await bus.drain();
      await new Promise<void>((resolve) => eventLog.end(resolve));
    },
  };
}
