import {
  PutEventsCommand,
  type EventBridgeClient,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { BusEntry } from './contract';

export interface PublisherOptions {
  /** Total PutEvents attempts, including the first. @default 3 */
  readonly attempts?: number;
  /** Delay before the second attempt; doubles each time, with full jitter. @default 50 ms */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class PublishError extends Error {
  constructor(
    message: string,
    readonly lastErrorCode: string | undefined,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

/** The second (`2026-12-06T18:02:52`) of the last time converted, and its milliseconds since the epoch. */
let lastSecondText = '';
let lastSecondMs = 0;

/** `0`–`9` at `i`, else NaN. */
function digit(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

/**
 * `new Date(text)`, faster for the canonical ISO time the verify function writes (`isoTime`:
 * `YYYY-MM-DDTHH:MM:SS.mmmZ`, ~380 ns parsed by `Date` on every PutEvents): the second is
 * converted once and cached, each time then only adds its milliseconds. Any other text, or a
 * field out of range, goes to `new Date(text)`.
 */
export function isoTimeToDate(text: string): Date {
  if (
    text.length === 24 &&
    text.charCodeAt(19) === 46 /* . */ &&
    text.charCodeAt(23) === 90 /* Z */ &&
    text.startsWith(lastSecondText) &&
    lastSecondText !== ''
  ) {
    const ms = digit(text, 20) * 100 + digit(text, 21) * 10 + digit(text, 22);
    if (ms === ms) return new Date(lastSecondMs + ms);
  }
  const date = new Date(text);
  const second = text.slice(0, 19);
  if (
    text.length === 24 &&
    text.charCodeAt(19) === 46 &&
    text.charCodeAt(23) === 90 &&
    !Number.isNaN(date.getTime())
  ) {
    const ms = digit(text, 20) * 100 + digit(text, 21) * 10 + digit(text, 22);
    // Only when the text is exactly what Date reads (no leap second or 24:00 normalised away).
    if (ms === ms && date.toISOString() === text) {
      lastSecondText = second;
      lastSecondMs = date.getTime() - ms;
    }
  }
  return date;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Puts entries on one bus. PutEvents can answer 200 and still drop an entry
 * (`FailedEntryCount`), so each entry's result is read, and failed entries (thrown errors,
 * throttling, internal failures) are retried with backoff a bounded number of times.
 */
export class EventBridgePublisher {
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    options: PublisherOptions = {},
  ) {
    this.attempts = options.attempts ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** Resolves with the event id; rejects with PublishError after the last attempt. */
  async publish(entry: BusEntry): Promise<string> {
    let lastCode: string | undefined;
    let lastMessage = 'no attempt made';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        // A literal, not a conditional spread: this runs on every request of the verify function.
        const put: PutEventsRequestEntry = {
          EventBusName: this.busName,
          Source: entry.source,
          DetailType: entry.detailType,
          Detail: entry.detail,
        };
        if (entry.time) put.Time = isoTimeToDate(entry.time);
        const result = await this.client.send(new PutEventsCommand({ Entries: [put] }));
        const first = result.Entries?.[0];
        if (!result.FailedEntryCount && first?.EventId) return first.EventId;
        lastCode = first?.ErrorCode ?? 'NoEventId';
        lastMessage = `entry rejected: ${lastCode}${first?.ErrorMessage ? ` (${first.ErrorMessage})` : ''}`;
      } catch (error) {
        lastCode = error instanceof Error ? error.name : 'Error';
        lastMessage = `PutEvents failed: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (attempt < this.attempts) {
        await this.sleep(Math.random() * this.baseDelayMs * 2 ** (attempt - 1));
      }
    }
    throw new PublishError(`Gave up after ${this.attempts} attempts; last: ${lastMessage}`, lastCode);
  }
}
