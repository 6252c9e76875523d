import * as path from 'node:path';
import { ChatAlertsApp } from '../../lambda/chat-alerts/app';
import { HttpPoster } from '../../lambda/chat-alerts/http-poster';
import { DEFAULT_ALERT_KINDS, type Destination } from '../../lambda/chat-alerts/model';
import type { Poster } from '../../lambda/chat-alerts/ports';
import { chatAlertsPattern } from '../../lambda/chat-alerts/rules';
import { renderText } from '../../lambda/chat-alerts/text';
import { SkipReporter } from '../../lambda/shared/skipped';
import { toDestination, type ChatAlertsConfig } from '../../lib/config/chat-alerts';
import { FileBodyReader, localBodyFolder } from '../adapters/files';
import { MemoryAlertStateStore } from '../adapters/memory-alert-state-store';
import type { LocalRule } from '../local-bus';
import { reportToConsole } from '../console/journal';

/** Used when cdk.json has no `chatAlerts`: one Slack-style destination with the default alerts. */
export const LOCAL_DEFAULT_CHAT_ALERTS: ChatAlertsConfig = {
  destinations: [
    { name: 'local', service: 'slack', pipelines: ['*'], branches: ['*'], events: [...DEFAULT_ALERT_KINDS] },
  ],
  jobsGraceSeconds: 2,
  stateTtlDays: 30,
};

export interface LocalChatAlertsOptions {
  /** The deployed config; @default LOCAL_DEFAULT_CHAT_ALERTS */
  readonly config?: ChatAlertsConfig;
  /**
   * State is kept in `<dataDir>/chat-alerts-state.json`, so streaks survive restarts; oversized
   * bodies are read from the local gateway's body folder under it.
   */
  readonly dataDir: string;
  /**
   * When set, every destination's rendered payload (Slack or Teams JSON) is POSTed here, e.g. a
   * test channel's webhook. Otherwise alerts are printed.
   */
  readonly postUrl?: string;
  /** Where printed alerts go. @default console.log */
  readonly print?: (text: string) => void;
  /** Overrides the config's grace period for failed jobs (tests use 0). */
  readonly jobsGraceMs?: number;
}

/** A poster that prints each alert readably, once per destination. */
export function terminalPoster(print: (text: string) => void): Poster {
  return {
    post: async (destination, alert) => {
      const text = renderText(alert.message)
        .split('\n')
        .map((line) => `  ${line}`)
        .join('\n');
      print(`[chat-alerts → ${destination.name} (${destination.service})]\n${text}`);
    },
  };
}

/**
 * The chat-alerts consumer on the local bus: the deployed rule pattern and the deployed domain
 * code, with a file state store and alerts printed (or posted to `postUrl`). Oversized deliveries
 * are read back from the files the local gateway stored them in; skipped deliveries are printed.
 */
export function chatAlertsLocalRules(options: LocalChatAlertsOptions): LocalRule[] {
  const config = options.config ?? LOCAL_DEFAULT_CHAT_ALERTS;
  const print = options.print ?? ((text: string) => console.log(text));
  const destinations: Destination[] = config.destinations.map(toDestination);
  const postUrl = options.postUrl;
  const poster: Poster = postUrl
    ? new HttpPoster({
        resolveUrl: async () => postUrl,
        // Every answer of the chat webhook is printed with its status, retries and refusals too.
        fetch: async (url, init) => {
          const response = await fetch(url, init);
          print(
            `[chat-alerts] POST to KITEBRIDGE_CHAT_URL: ${response.status} ${response.statusText}`.trimEnd(),
          );
          return response;
        },
      })
    : terminalPoster(print);
  const app = new ChatAlertsApp({
    store: new MemoryAlertStateStore({ file: path.join(options.dataDir, 'chat-alerts-state.json') }),
    // The local console shows each alert as its service renders it.
    poster: {
      post: async (destination, alert) => {
        await poster.post(destination, alert);
        reportToConsole({
          kind: 'chat-alert',
          destination: destination.name,
          service: destination.service,
          payload: alert.payload,
        });
      },
    },
    destinations,
    bodies: new FileBodyReader(localBodyFolder(options.dataDir)),
    jobsGraceMs: options.jobsGraceMs ?? config.jobsGraceSeconds * 1000,
    // Say when dedupe holds back an alert already posted (a re-sent delivery), and, when posting,
    // which alert the webhook took (its status is printed by the fetch above).
    log: {
      info: (message, attributes) => {
        if (message === 'Alert already posted') {
          reportToConsole({ kind: 'chat-duplicate', attributes: attributes ?? {} });
          print(
            `[chat-alerts] Duplicate: alert already posted, not sent again ${JSON.stringify(attributes)}`,
          );
        } else if (postUrl && message === 'Alert posted') {
          print(`[chat-alerts] Posted to the chat webhook ${JSON.stringify(attributes)}`);
        }
      },
      warn: (message, attributes) => print(`[chat-alerts] ${message} ${JSON.stringify(attributes ?? {})}`),
    },
    skips: new SkipReporter({
      warn: (message, attributes) => {
        reportToConsole({ kind: 'skipped', consumer: 'chat alerts', message, attributes });
        print(`[chat-alerts] ${message} ${JSON.stringify(attributes)}`);
      },
    }),
  });
  return [
    {
      id: 'ChatAlerts',
      pattern: chatAlertsPattern([...new Set(config.destinations.flatMap((d) => d.events))]),
      target: (event) => app.handle(event),
    },
  ];
}
