import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { triggerEvents, type EventEnvelope, type OversizedPointer } from '../../lambda/shared/contract';
import { gcraParams } from '../../lambda/trigger-relay/gcra';
import { checkTriggerUrl, FetchTriggerPoster } from '../../lambda/trigger-relay/http-poster';
import { MemoryIdempotencyStore, MemoryPacingStore } from '../adapters/memory-relay-stores';
import { Pacer } from '../../lambda/trigger-relay/pacer';
import type {
  DeferredAttributes,
  OversizedBodySource,
  PostResult,
  RelayLog,
  RelayMessage,
  RelayQueue,
  TriggerPoster,
  TriggerUrlSource,
} from '../../lambda/trigger-relay/ports';
import { TriggerRelayApp, type RelaySettings } from '../../lambda/trigger-relay/app';
import type { LocalRule } from '../local-bus';
import { reportToConsole } from '../console/journal';

export interface LocalTriggerRelayOptions {
  /** The same trigger list the stack gets: one rule per trigger, with its payload filter. */
  readonly triggers: readonly { readonly name: string; readonly filter?: Record<string, unknown> }[];
  readonly ratePerHour: number;
  readonly burst: number;
  /**
   * Where each trigger posts (http or https, e.g. a local stand-in for Buildkite). A trigger
   * without a URL runs dry: it logs what it would send. @default `KITEBRIDGE_TRIGGER_URL_<NAME>` from `env`
   */
  readonly urls?: Readonly<Record<string, string>>;
  /**
   * The local data folder. When set, requests waiting in the queue (paced, backing off) are kept
   * in `<dataDir>/trigger-relay/queue.json` as they change, so a stop or a crash loses none and
   * `resume` picks them up at the next start; dead letters are appended to
   * `<dataDir>/trigger-relay/dead-letters.jsonl`. @default memory only
   */
  readonly dataDir?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default console.log */
  readonly log?: (line: string) => void;
  /** @default 10000 */
  readonly postTimeoutMs?: number;
  /** Times a message may fail with an error before it is dead-lettered (SQS maxReceiveCount). @default 5 */
  readonly maxReceives?: number;
  readonly relaySettings?: Partial<RelaySettings>;
  /** For pacing, backoff and wake-up times. @default Date.now */
  readonly clock?: () => number;
}

export interface LocalDeadLetter {
  /** The EventBridge event, as JSON text. */
  readonly body: string;
  readonly reason: string;
}

/** The relay, locally: rules for the local bus, and control over the queue behind them. */
export interface LocalTriggerRelay {
  readonly rules: LocalRule[];
  readonly deadLetters: readonly LocalDeadLetter[];
  /** Requests in the queue: waiting for their time or being relayed. */
  readonly size: () => number;
  /** Resolves once no message is being relayed or waiting in the queue. */
  idle(): Promise<void>;
  /**
   * Schedules the requests a previous run left in the data folder; returns how many. Call once,
   * after the data folder is this process's (the local server holds it).
   */
  resume(): number;
  /**
   * Stops taking messages off the queue: lets requests being relayed finish, then keeps what
   * still waits in the data folder (dropped when there is none). Resolves to how many were kept.
   */
  close(): Promise<number>;
}

/** `KITEBRIDGE_TRIGGER_URL_GITHUB_DEPLOY` for trigger `github-deploy`. */
export function triggerUrlEnvName(trigger: string): string {
  return `KITEBRIDGE_TRIGGER_URL_${trigger.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Where the relay keeps its queue and dead letters under the local data folder. */
export function relayQueueFolder(dataDir: string): string {
  return path.join(dataDir, 'trigger-relay');
}

const DRY_RUN = 'dry-run:';
/** The delivery id a dry run answers with, so its outcome can be told from a real one. */
const DRY_RUN_ID = 'dry-run-';

/** Posts for real, except to a trigger without a URL, whose request is logged instead. */
class LocalPoster implements TriggerPoster {
  private readonly http: FetchTriggerPoster;
  constructor(
    private readonly log: (line: string) => void,
    timeoutMs: number,
  ) {
    this.http = new FetchTriggerPoster({ timeoutMs });
  }

  async post(url: string, body: string | Buffer): Promise<PostResult> {
    if (!url.startsWith(DRY_RUN)) return this.http.post(url, body);
    const trigger = url.slice(DRY_RUN.length);
    const text = body.toString();
    this.log(
      `[trigger-relay] dry run: trigger ${trigger} has no URL (set ${triggerUrlEnvName(trigger)} to relay for real); would POST ${Buffer.byteLength(text)} bytes: ${text.slice(0, 300)}`,
    );
    return { kind: 'response', status: 201, body: JSON.stringify({ id: `${DRY_RUN_ID}${randomUUID()}` }) };
  }
}

/** Oversized bodies written by the local gateway's FileBodyStore: the "bucket" is its folder. */
class FileBodySource implements OversizedBodySource {
  get(pointer: OversizedPointer): Promise<Buffer> {
    return readFile(path.join(pointer.bucket, pointer.key));
  }
}

/** One message in the queue: due at `dueAt` (epoch ms), on its `receive`th receive. */
interface QueuedMessage {
  readonly message: RelayMessage;
  readonly receive: number;
  readonly dueAt: number;
}

/** The queue file's contents. */
interface SavedQueue {
  readonly version: 1;
  readonly messages: readonly QueuedMessage[];
}

/**
 * The relay queue locally: delays are timers, a thrown error is retried like an SQS redelivery,
 * and, with a folder, every message stays in a file until it has been handled (at least once,
 * like SQS: a message being relayed when the process dies is relayed again at the next start).
 */
class LocalRelayQueue implements RelayQueue {
  readonly deadLetters: LocalDeadLetter[] = [];
  relay: TriggerRelayApp | undefined;
  private readonly queued = new Map<string, QueuedMessage>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private closing = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly log: (line: string) => void,
    private readonly maxReceives: number,
    private readonly clock: () => number,
    private readonly folder: string | undefined,
  ) {}

  private get file(): string | undefined {
    return this.folder && path.join(this.folder, 'queue.json');
  }

  enqueue(body: string): void {
    this.later({ messageId: randomUUID(), body, attempt: 0 }, 0, 1);
  }

  async defer(message: RelayMessage, delaySeconds: number, next: DeferredAttributes) {
    // Every attribute comes back, as SQS message attributes do when deployed.
    const resent: RelayMessage = {
      messageId: randomUUID(),
      body: message.body,
      attempt: next.attempt,
      ...(next.notBefore === undefined ? {} : { notBefore: next.notBefore }),
      ...(next.backoff ? { backoff: true } : {}),
    };
    this.later(resent, delaySeconds * 1000, 1);
  }

  async deadLetter(message: RelayMessage, reason: string) {
    this.deadLetters.push({ body: message.body, reason });
    if (this.folder) {
      await mkdir(this.folder, { recursive: true });
      await appendFile(
        path.join(this.folder, 'dead-letters.jsonl'),
        `${JSON.stringify({ at: new Date(this.clock()).toISOString(), reason, body: message.body })}\n`,
      );
    }
    this.log(`[trigger-relay] dead letter: ${reason}`);
  }

  size(): number {
    return this.queued.size;
  }

  idle(): Promise<void> {
    if (this.running === 0 && (this.closing || this.queued.size === 0)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  resume(): number {
    const file = this.file;
    if (!file || !existsSync(file)) return 0;
    let saved: SavedQueue;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as SavedQueue;
      if (!Array.isArray(saved.messages)) throw new Error('no "messages" list');
    } catch (error) {
      // Kept for a person to look at; the relay starts empty rather than not at all.
      const aside = `${file}.unreadable-${this.clock()}`;
      renameSync(file, aside);
      this.log(`[trigger-relay] could not read ${file} (${(error as Error).message}); moved it to ${aside}`);
      return 0;
    }
    for (const entry of saved.messages) {
      this.queued.set(entry.message.messageId, entry);
      this.schedule(entry);
    }
    if (saved.messages.length > 0) {
      this.log(
        `[trigger-relay] resumed ${saved.messages.length} request(s) accepted before the last stop, from ${file}`,
      );
    }
    return saved.messages.length;
  }

  async close(): Promise<number> {
    this.closing = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    // Messages being relayed finish (a POST that started is answered); what they defer is kept.
    while (this.running > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.save();
    const kept = this.file ? this.queued.size : 0;
    this.settle();
    return kept;
  }

  private later(message: RelayMessage, ms: number, receive: number): void {
    const entry: QueuedMessage = { message, receive, dueAt: this.clock() + ms };
    this.queued.set(message.messageId, entry);
    this.save();
    if (!this.closing) this.schedule(entry);
  }

  private schedule(entry: QueuedMessage): void {
    const id = entry.message.messageId;
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        void this.run(entry);
      },
      Math.max(0, entry.dueAt - this.clock()),
    );
    this.timers.set(id, timer);
  }

  private async run(entry: QueuedMessage): Promise<void> {
    const { message, receive } = entry;
    this.running++;
    try {
      await this.relay!.process(message);
      this.queued.delete(message.messageId);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.queued.delete(message.messageId);
      if (receive >= this.maxReceives) await this.deadLetter(message, `failed ${receive} times: ${reason}`);
      else {
        this.log(`[trigger-relay] error, retrying in ${receive} s: ${reason}`);
        this.later(message, receive * 1000, receive + 1);
      }
    } finally {
      this.save();
      this.running--;
      this.settle();
    }
  }

  /** Writes the queue whole (atomically: a temporary file renamed over it); no file when it is empty. */
  private save(): void {
    const file = this.file;
    if (!file) return;
    if (this.queued.size === 0) {
      rmSync(file, { force: true });
      return;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    const saved: SavedQueue = { version: 1, messages: [...this.queued.values()] };
    writeFileSync(`${file}.tmp`, JSON.stringify(saved));
    renameSync(`${file}.tmp`, file);
  }

  private settle(): void {
    if (this.running > 0 || (!this.closing && this.queued.size > 0)) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** A relay log line: a dry run's outcome is never reported as relayed. */
function relayLine(message: string, attributes: Record<string, unknown>): string {
  const id = attributes.buildkiteId;
  if (typeof id === 'string' && id.startsWith(DRY_RUN_ID)) {
    const rest = Object.fromEntries(
      Object.entries(attributes).filter(([key]) => key !== 'buildkiteId' && key !== 'httpStatus'),
    );
    const what =
      attributes.status === 'duplicate'
        ? 'dry run: already handled, nothing to send'
        : 'dry run: nothing sent to Buildkite';
    return `[trigger-relay] ${what} ${JSON.stringify(rest)}`;
  }
  return `[trigger-relay] ${message} ${JSON.stringify(attributes)}`;
}

/**
 * The pipeline-trigger relay for `npm start`: the deployed rules (same patterns, from the
 * contract) feed a local queue drained by the deployed relay code, with in-memory pacing and
 * idempotency, posting to the URL configured per trigger or, without one, logging what it would
 * send (a dry run). With a data folder, the queue survives a stop.
 */
export function createLocalTriggerRelay(options: LocalTriggerRelayOptions): LocalTriggerRelay {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = options.env ?? process.env;
  const clock = options.clock ?? Date.now;
  const queue = new LocalRelayQueue(
    log,
    options.maxReceives ?? 5,
    clock,
    options.dataDir === undefined ? undefined : relayQueueFolder(options.dataDir),
  );
  const urls: TriggerUrlSource = {
    url: async (trigger) => {
      const configured = options.urls?.[trigger] ?? env[triggerUrlEnvName(trigger)];
      return configured === undefined || configured === ''
        ? `${DRY_RUN}${trigger}`
        : checkTriggerUrl(trigger, configured, true);
    },
  };
  // Each outcome is a terminal line and, on the event it names, the local console's view of it.
  const report = (message: string, attributes: Record<string, unknown>) => {
    const eventId = typeof attributes.eventId === 'string' ? attributes.eventId : undefined;
    reportToConsole(
      {
        kind: 'trigger-relay',
        message: relayLine(message, attributes).replace(/^\[trigger-relay\] /, ''),
        attributes,
      },
      eventId,
    );
    log(relayLine(message, attributes));
  };
  const relayLog: RelayLog = { info: report, warn: report, error: report };
  queue.relay = new TriggerRelayApp(
    {
      pacer: new Pacer(new MemoryPacingStore(), gcraParams(options.ratePerHour, options.burst), clock),
      idempotency: new MemoryIdempotencyStore(),
      urls,
      bodies: new FileBodySource(),
      poster: new LocalPoster(log, options.postTimeoutMs ?? 10_000),
      queue,
      log: relayLog,
      clock,
    },
    options.relaySettings,
  );
  const rules: LocalRule[] = options.triggers.map((trigger) => ({
    id: `TriggerRelay-${trigger.name}`,
    pattern: triggerEvents(trigger.name, trigger.filter),
    // Like the SQS target: the rule's job ends when the event is in the queue.
    target: (event: EventEnvelope) => queue.enqueue(JSON.stringify(event)),
  }));
  return {
    rules,
    deadLetters: queue.deadLetters,
    size: () => queue.size(),
    idle: () => queue.idle(),
    resume: () => queue.resume(),
    close: () => queue.close(),
  };
}
