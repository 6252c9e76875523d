import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  createWriteStream,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ALL_EVENTS_PATTERN, type EventEnvelope } from '../lambda/shared/contract';
import { createVerifyHandler } from '../lambda/verify/app';
import { EventDeliverer } from '../lambda/verify/event-publishing';
import type { OutcomeObserver, Publisher } from '../lambda/verify/ports';
import { TokenSource } from '../lambda/verify/token-source';
import { toTriggerDefinition } from '../lambda/shared/triggers';
import { createGateway, toProxyEvent, type GatewayOptions } from './gateway';
import { gatewayAnswerBody, GATEWAY_ANSWERS } from '../lambda/shared/gateway-answers';
import { createConsole, type ConsoleOptions } from './console/app';
import { FileBodyStore, FileSpool, localBodyFolder } from './adapters/files';
import { detailPaths } from '../lambda/shared/event-pattern';
import { LocalBus, type DeadLetter, type LocalRule } from './local-bus';
import { DEFAULT_SECRET_CACHE_SECONDS } from './local-env';
import { LocalSecretStore } from './adapters/local-secret-store';
import type { KitebridgeConfig } from '../lib/config';

export interface LocalOptions {
  readonly config: KitebridgeConfig;
  /** Where local outputs go: webhook secret, dev token, spool, oversized bodies, event log, dead letters. */
  readonly dataDir: string;
  /**
   * The token the local webhook secret (`<dataDir>/webhook-secret.json`) starts with; a rotation
   * (`npm run rotate -- --local`) replaces it. Its current token is also in `<dataDir>/dev-token`.
   * @default a random token
   */
  readonly token?: string;
  /**
   * How long the verify handler serves the webhook secret before reading it again, as the deployed
   * function's cache does (300 s there). @default 10
   */
  readonly secretCacheSeconds?: number;
  /**
   * The verify handler's clock (ms since the epoch): signature timestamps, the secret cache and the
   * previous tokens' expiry. Tests pass a simulated one. @default Date.now
   */
  readonly now?: () => number;
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** Rules on the local bus besides the built-in event log. */
  readonly rules?: readonly LocalRule[];
  /**
   * Admit 127.0.0.0/8 and ::1 whatever the allowlists say, so `npm run send` works with any
   * configuration; off, local mode refuses loopback callers exactly as the deployed API would.
   * @default true
   */
  readonly allowLoopback?: boolean;
  /** Wraps the bus publisher, e.g. to inject faults in tests. */
  readonly wrapPublisher?: (publisher: Publisher) => Publisher;
  readonly observe?: OutcomeObserver;
  readonly log?: (line: string) => void;
  /**
   * Runs on `close` once the bus has drained and before the data folder is released: consumers
   * that queue work keep what is left in the folder here.
   */
  readonly beforeRelease?: () => Promise<void> | void;
  /**
   * Serve the local console (local/console) at the gateway's root, recording every request,
   * bus event, rule verdict and consumer outcome in this journal.
   */
  readonly console?: ConsoleOptions;
}

export interface LocalKitebridge {
  readonly url: string;
  /** The webhook token Buildkite should have now: the local secret's current token. */
  readonly token: string;
  /** The local webhook secret the verify handler reads (the rotation's SecretStore). */
  readonly secret: LocalSecretStore;
  readonly bus: LocalBus;
  /** The console's address, when it is served. */
  readonly consoleUrl?: string;
  /** Stops accepting requests, lets every accepted event reach its targets, then releases the data folder. */
  readonly close: () => Promise<void>;
}

/**
 * The deployed API's source-IP policy as the local gateway applies it: the Buildkite routes
 * take `webhookIps` (or any address with `allowAnySourceIp`); each trigger with `sourceIps`
 * takes only those, and a trigger without them any address.
 */
export function sourceIpPolicy(
  config: Pick<KitebridgeConfig, 'webhookIps' | 'allowAnySourceIp' | 'triggers'>,
): Pick<GatewayOptions, 'allowlist' | 'allowAnySourceIp' | 'triggerAllowlists'> {
  return {
    allowlist: config.webhookIps,
    allowAnySourceIp: config.allowAnySourceIp,
    triggerAllowlists: Object.fromEntries(
      config.triggers.flatMap((t) => (t.sourceIps && t.sourceIps.length > 0 ? [[t.name, t.sourceIps]] : [])),
    ),
  };
}

/** The lock file's contents: who holds the data folder. */
interface DataDirOwner {
  readonly pid: number;
  readonly url: string;
  readonly startedAt: string;
}

/** Another running kitebridge holds the data folder: nothing was started and nothing written. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: DataDirOwner,
    readonly lockFile: string,
  ) {
    super(`Another kitebridge (pid ${owner.pid}, ${owner.url}) is using the data folder ${dataDir}.`);
    this.name = 'DataDirInUseError';
  }
}

/** The file that marks a data folder as in use by one running kitebridge. */
export function lockFile(dataDir: string): string {
  return path.join(dataDir, 'kitebridge.lock');
}

/** Data folders held by this process (a pid alone cannot tell this process's locks from stale ones). */
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live holder of the data folder, if any; a lock left by a process that is gone is ignored. */
function liveOwner(dataDir: string): DataDirOwner | undefined {
  let owner: DataDirOwner;
  try {
    owner = JSON.parse(readFileSync(lockFile(dataDir), 'utf8')) as DataDirOwner;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(owner.pid)) return undefined;
  if (owner.pid === process.pid) return heldHere.has(path.resolve(dataDir)) ? owner : undefined;
  return isAlive(owner.pid) ? owner : undefined;
}

/** Takes the data folder for this process, replacing a stale lock; throws if someone else holds it. */
function acquireDataDir(dataDir: string, url: string): void {
  const file = lockFile(dataDir);
  const owner: DataDirOwner = { pid: process.pid, url, startedAt: new Date().toISOString() };
  const create = () => writeFileSync(file, `${JSON.stringify(owner)}\n`, { flag: 'wx' });
  try {
    create();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = liveOwner(dataDir);
    if (holder) throw new DataDirInUseError(dataDir, holder, file);
    // Left by a kitebridge that did not stop cleanly. Two starts racing for it: one create fails.
    rmSync(file, { force: true });
    create();
  }
  heldHere.add(path.resolve(dataDir));
}

function releaseDataDir(dataDir: string): void {
  if (!heldHere.delete(path.resolve(dataDir))) return;
  rmSync(lockFile(dataDir), { force: true });
}

/**
 * Runs kitebridge on this machine: the real verify handler behind a local gateway, publishing
 * to a local bus whose rules use EventBridge pattern semantics. The AWS services around the
 * handler are replaced by files under `dataDir`; the handler code is the deployed code.
 *
 * Nothing is written until the gateway listens: a start that fails (port taken, bad host) or
 * that finds another running kitebridge using `dataDir` leaves the folder, and that kitebridge's
 * dev token, untouched.
 */
export async function startLocal(options: LocalOptions): Promise<LocalKitebridge> {
  const { config, dataDir } = options;
  const log = options.log ?? (() => undefined);
  const holder = liveOwner(dataDir);
  if (holder) throw new DataDirInUseError(dataDir, holder, lockFile(dataDir));
  const token = options.token ?? randomBytes(24).toString('hex');
  const now = options.now ?? Date.now;
  // Written once the gateway listens; read as the deployed function reads Secrets Manager: through
  // a TokenSource over a fetcher that caches the value for the cache period.
  const secret = new LocalSecretStore(dataDir, { now });
  const secretCacheSeconds = options.secretCacheSeconds ?? DEFAULT_SECRET_CACHE_SECONDS;
  const tokenSource = () => new TokenSource(secret.fetcher(secretCacheSeconds * 1000), { now });
  /** The current token; the start token if the file cannot be read (the console signs with it). */
  const currentToken = () => {
    try {
      return secret.currentToken();
    } catch {
      return token;
    }
  };

  // Opened once the gateway listens; one append stream, not a synchronous append per event: the
  // gateway never waits on the disk.
  const eventLog: { stream?: WriteStream } = {};
  const eventLogRule: LocalRule = {
    id: 'EventLog',
    pattern: ALL_EVENTS_PATTERN,
    target: (event: EventEnvelope) =>
      new Promise<void>((resolve, reject) => {
        if (!eventLog.stream) return reject(new Error('The event log is not open.'));
        eventLog.stream.write(`${JSON.stringify(event)}\n`, (error) => (error ? reject(error) : resolve()));
      }),
  };
  const journal = options.console?.journal;
  // With a console, each target runs in its event's context, so consumers' reports find it.
  const busRules = [eventLogRule, ...(options.rules ?? [])].map((rule) =>
    journal ? journal.observeRule(rule) : rule,
  );
  journal?.setRules(busRules);
  const bus = new LocalBus({
    rules: busRules,
    ...(journal ? { onPublish: (event: EventEnvelope) => journal.published(event) } : {}),
    onDeadLetter: (dead: DeadLetter) => {
      journal?.deadLetter(dead);
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
  // Locally every trigger's shared secret is the webhook secret, whose current token is the dev
  // token (`npm run send -- --trigger` signs with it); each has its own cache, as deployed.
  const triggers = new Map(
    config.triggers.map((t) => [t.name, { definition: toTriggerDefinition(t), secrets: tokenSource() }]),
  );
  const handler = createVerifyHandler(
    { tokens: tokenSource(), deliverer, triggers, now: () => new Date(now()) },
    { replayWindowSeconds: config.replayWindowSeconds, maxBodyBytes: config.maxBodyBytes },
    (outcome, requestId, sourceIp) => {
      journal?.outcome(outcome);
      options.observe?.(outcome, requestId, sourceIp);
    },
  );
  const listening: { url?: string } = {};
  const consoleApp = options.console
    ? createConsole({
        ...options.console,
        config,
        dataDir,
        // What the console sends is signed with the token in use, after a rotation too.
        get token() {
          return currentToken();
        },
        url: () => listening.url ?? '',
      })
    : undefined;
  const server = createGateway({
    handler: journal ? journal.wrapHandler(handler) : handler,
    ...(consoleApp ? { otherRequests: consoleApp.handle } : {}),
    ...(journal
      ? {
          onRefused: (request, matched, code, bytes) =>
            journal.refused(
              toProxyEvent(request, Buffer.alloc(0), matched, request.socket.remoteAddress ?? '', 'local'),
              {
                status: GATEWAY_ANSWERS[code].status,
                body: gatewayAnswerBody(code),
                bytes,
              },
            ),
        }
      : {}),
    ...sourceIpPolicy(config),
    allowLoopback: options.allowLoopback ?? true,
    onHandlerError: (error) =>
      log(`the verify handler threw: ${error instanceof Error ? error.stack : String(error)}`),
  });
  server.keepAliveTimeout = 5_000;
  // A clean stop answers the requests being handled (a 202 is an acceptance the sender sees);
  // only then are idle keep-alive connections cut.
  let answering = 0;
  let answered: (() => void) | undefined;
  server.on('request', (_request, response) => {
    answering++;
    response.once('close', () => {
      if (--answering === 0) answered?.();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  listening.url = url;
  const closeServer = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (answering > 0) await new Promise<void>((resolve) => (answered = resolve));
    server.closeAllConnections();
    await closed;
  };

  // Synchronous from here to the return: no request is handled before the token and log exist.
  try {
    mkdirSync(dataDir, { recursive: true });
    acquireDataDir(dataDir, url);
  } catch (error) {
    await closeServer();
    throw error;
  }
  // The local webhook secret, with the dev-token file beside it (a new one at each start).
  secret.reset(token, secretCacheSeconds);
  const openLog = createWriteStream(path.join(dataDir, 'events.jsonl'), { flags: 'a' });
  eventLog.stream = openLog;

  return {
    url,
    get token() {
      return currentToken();
    },
    secret,
    bus,
    // The console answers loopback callers only: listening on another address, nobody could open it.
    ...(consoleApp && /^(127\.|::1$|0\.0\.0\.0$|::$)/.test(address.address)
      ? { consoleUrl: `${url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/, 'http://127.0.0.1')}/` }
      : {}),
    close: async () => {
      // The console's event streams stay open until ended; a clean stop waits for open answers.
      consoleApp?.close();
      await closeServer();
      await bus.drain();
      await new Promise<void>((resolve) => openLog.end(resolve));
      try {
        await options.beforeRelease?.();
      } finally {
        releaseDataDir(dataDir);
      }
    },
  };
}
