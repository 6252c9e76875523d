import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { triggerEvents, type EventEnvelope, type OversizedPointer } from '../../lambda/shared/contract';
import { gcraParams } from '../../lambda/trigger-relay/gcra';
import { checkTriggerUrl, FetchTriggerPoster } from '../../lambda/trigger-relay/http';
import { MemoryIdempotencyStore, MemoryPacingStore } from '../../lambda/trigger-relay/memory-stores';
import { Pacer } from '../../lambda/trigger-relay/pacer';
import type {
  OversizedBodySource,
  PostResult,
  RelayLog,
  RelayMessage,
  RelayQueue,
  TriggerPoster,
  TriggerUrlSource,
} from '../../lambda/trigger-relay/ports';
import { Relay, type RelaySettings } from '../../lambda/trigger-relay/relay';
import type { LocalRule } from '../local-bus';

export interface LocalTriggerRelayOptions {
  /** The same trigger list the stack gets: one rule per trigger, with its payload filter. */
  readonly triggers: readonly { readonly name: string; readonly filter?: Record<string, unknown> }[];
  readonly ratePerHour: number;
  readonly burst: number;
  /**
   * Where each trigger posts (http or https, e.g. a local stand-in for Buildkite). A trigger
   * without a URL logs what it would send instead. @default `KITEBRIDGE_TRIGGER_URL_<NAME>` from `env`
   */
  readonly urls?: Readonly<Record<string, string>>;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default console.log */
  readonly log?: (line: string) => void;
  /** @default 10000 */
  readonly postTimeoutMs?: number;
  /** Times a message may fail with an error before it is dead-lettered (SQS maxReceiveCount). @default 5 */
  readonly maxReceives?: number;
  readonly relaySettings?: Partial<RelaySettings>;
}

export interface LocalDeadLetter {
  /** The EventBridge event, as JSON text. */
  readonly body: string;
  readonly reason: string;
}

/** The relay, locally: rules for the local bus, and control over the in-memory queue behind them. */
export interface LocalTriggerRelay {
  readonly rules: LocalRule[];
  readonly deadLetters: readonly LocalDeadLetter[];
  /** Resolves once no message is being relayed or waiting in the queue. */
  idle(): Promise<void>;
  /** Drops waiting messages and their timers (shutdown). */
  close(): void;
}

/** `KITEBRIDGE_TRIGGER_URL_GITHUB_DEPLOY` for trigger `github-deploy`. */
export function triggerUrlEnvName(trigger: string): string {
  return `KITEBRIDGE_TRIGGER_URL_${trigger.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

const DRY_RUN = 'dry-run:';

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
    const text = body.toString();
    this.log(
      `[trigger-relay] no URL for trigger ${url.slice(DRY_RUN.length)} (set ${triggerUrlEnvName(url.slice(DRY_RUN.length))}); would POST ${Buffer.byteLength(text)} bytes: ${text.slice(0, 300)}`,
    );
    return { kind: 'response', status: 201, body: JSON.stringify({ id: `dry-run-${randomUUID()}` }) };
  }
}

/** Oversized bodies written by the local gateway's FileBodyStore: the "bucket" is its folder. */
class FileBodySource implements OversizedBodySource {
  get(pointer: OversizedPointer): Promise<Buffer> {
    return readFile(path.join(pointer.bucket, pointer.key));
  }
}

/** The relay queue in memory: delays are timers; a thrown error is retried like an SQS redelivery. */
class LocalRelayQueue implements RelayQueue {
  readonly deadLetters: LocalDeadLetter[] = [];
  relay: Relay | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly log: (line: string) => void,
    private readonly maxReceives: number,
  ) {}

  enqueue(body: string): void {
    this.later({ messageId: randomUUID(), body, attempt: 0 }, 0, 1);
  }

  async defer(message: RelayMessage, delaySeconds: number, next: { attempt: number; notBefore?: number }) {
    const resent: RelayMessage = {
      messageId: randomUUID(),
      body: message.body,
      attempt: next.attempt,
      ...(next.notBefore === undefined ? {} : { notBefore: next.notBefore }),
    };
    this.later(resent, delaySeconds * 1000, 1);
  }

  async deadLetter(message: RelayMessage, reason: string) {
    this.deadLetters.push({ body: message.body, reason });
    this.log(`[trigger-relay] dead letter: ${reason}`);
  }

  idle(): Promise<void> {
    if (this.running === 0 && this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.settle();
  }

  private later(message: RelayMessage, ms: number, receive: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.run(message, receive);
    }, ms);
    this.timers.add(timer);
  }

  private async run(message: RelayMessage, receive: number): Promise<void> {
    this.running++;
    try {
      await this.relay!.process(message);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (receive >= this.maxReceives) await this.deadLetter(message, `failed ${receive} times: ${reason}`);
      else {
        this.log(`[trigger-relay] error, retrying in ${receive} s: ${reason}`);
        this.later(message, receive * 1000, receive + 1);
      }
    } finally {
      this.running--;
      this.settle();
    }
  }

  private settle(): void {
    if (this.running > 0 || this.timers.size > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The pipeline-trigger relay for `npm start`: the deployed rules (same patterns, from the
 * contract) feed an in-memory queue drained by the deployed relay code, with in-memory pacing
 * and idempotency, posting to the URL configured per trigger or logging what it would send.
 */
export function createLocalTriggerRelay(options: LocalTriggerRelayOptions): LocalTriggerRelay {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = options.env ?? process.env;
  const queue = new LocalRelayQueue(log, options.maxReceives ?? 5);
  const urls: TriggerUrlSource = {
    url: async (trigger) => {
      const configured = options.urls?.[trigger] ?? env[triggerUrlEnvName(trigger)];
      return configured === undefined || configured === ''
        ? `${DRY_RUN}${trigger}`
        : checkTriggerUrl(trigger, configured, true);
    },
  };
  const relayLog: RelayLog = {
    info: (message, attributes) => log(`[trigger-relay] ${message} ${JSON.stringify(attributes)}`),
    warn: (message, attributes) => log(`[trigger-relay] ${message} ${JSON.stringify(attributes)}`),
    error: (message, attributes) => log(`[trigger-relay] ${message} ${JSON.stringify(attributes)}`),
  };
  queue.relay = new Relay(
    {
      pacer: new Pacer(new MemoryPacingStore(), gcraParams(options.ratePerHour, options.burst), Date.now),
      idempotency: new MemoryIdempotencyStore(),
      urls,
      bodies: new FileBodySource(),
      poster: new LocalPoster(log, options.postTimeoutMs ?? 10_000),
      queue,
      log: relayLog,
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
    idle: () => queue.idle(),
    close: () => queue.close(),
  };
}
