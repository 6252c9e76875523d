import * as path from 'node:path';
import type { BusEntry, EventEnvelope } from '../lambda/shared/contract';
import { ROUTES, triggerPath } from '../lambda/shared/routes';
import { ConfigError, type KitebridgeConfig } from '../lib/config';
import { analyticsLocalRules, localRecordsFile } from './consumers/analytics';
import { localAutoscaler } from './consumers/autoscaler';
import { chatAlertsLocalRules } from './consumers/chat-alerts';
import { createLocalTriggerRelay, relayQueueFolder, triggerUrlEnvName } from './consumers/trigger-relay';
import { LocalReconcileError, localReconciler } from './consumers/reconcile';
import { loadLocalConfig } from './local-config';
import {
  devTokenFile,
  envPrefix,
  LocalEnvError,
  PROJECT_ROOT,
  readDataDir,
  readHost,
  readPort,
  readSecretCacheSeconds,
  shellQuote,
} from './local-env';
import { localSecretFile } from './adapters/local-secret-store';
import { DataDirInUseError, startLocal, type LocalKitebridge } from './server';
import { Journal } from './console/journal';

export const START_USAGE = `Usage: npm start [-- --help]

Runs kitebridge on this machine, no AWS account needed: a local gateway with the deployed API's
routes (POST /buildkite, /buildkite/<token>, /triggers/<name>) in front of the real verify
handler, and a local event bus feeding the consumers: chat alerts, analytics and, when cdk.json
configures them, the autoscaler (dry run) and the pipeline-trigger relay. Configuration comes from
the "context" of cdk.json, as for a deploy.

Environment:
  PORT                    port to listen on (default 8787; 0 picks a free one)
  HOST                    address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  KITEBRIDGE_TOKEN        the webhook token to accept, and locally every trigger's secret
                          (default: a new random token at each start); npm run rotate -- --local
                          rotates it as the deployed rotation does
  KITEBRIDGE_SECRET_CACHE_SECONDS
                          how long the verify handler caches the local webhook secret (default 10;
                          300 as deployed)
  KITEBRIDGE_DATA_DIR     the data folder: dev token, event log, spool, oversized bodies, queued
                          trigger requests (default .local-data in the project)
  KITEBRIDGE_CHAT_URL     post chat alerts to this webhook URL instead of printing them
  KITEBRIDGE_TRIGGER_URL_<NAME>
                          the Buildkite pipeline-trigger URL a trigger relays to (without it the
                          relay runs dry and logs what it would send)
  BUILDKITE_API_URL       a Buildkite REST API (npm run buildkite-stub): reconciliation then runs,
                          publishing the build.finished deliveries it never sent
  BUILDKITE_API_TOKEN     the token that API accepts (needed with BUILDKITE_API_URL)

Then, from another terminal: npm run send -- build.finished (npm run send -- --help for more).
Ctrl+C stops it; trigger requests still waiting to be relayed are kept in the data folder and
relayed after the next start.`;

/** A problem a person can fix (a port in use, a data folder in use, a bad argument): no stack trace. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

/** One terminal line per event that reaches the bus. */
function describeEvent(event: EventEnvelope): string {
  const d = event.detail as Record<string, Record<string, unknown> | undefined>;
  const parts = [
    d.pipeline?.slug && `pipeline=${String(d.pipeline.slug)}`,
    d.build?.number !== undefined && `build=#${String(d.build.number)}`,
    d.build?.state && `state=${String(d.build.state)}`,
    d.build?.branch && `branch=${String(d.build.branch)}`,
    d.job?.name && `job=${String(d.job.name)}`,
    d.agent?.name && `agent=${String(d.agent.name)}`,
  ].filter(Boolean);
  return `${event.time} ${event.source} ${event['detail-type']} ${parts.join(' ')}`.trimEnd();
}

/** A request body in fixtures/triggers/ that each trigger kind's example sends. */
const TRIGGER_EXAMPLES: Record<KitebridgeConfig['triggers'][number]['kind'], string> = {
  github: 'github-pull_request',
  linear: 'linear-issue',
  'standard-webhooks': 'standard-webhooks-deployment',
  token: 'pagerduty-incident',
  'hmac-sha256': 'pagerduty-incident',
};

/** What to say when the gateway could not listen, in the terms of `npm start`. */
export function describeListenError(
  error: NodeJS.ErrnoException,
  at: { host: string; port: number; env: NodeJS.ProcessEnv; dataDir: string },
): string | undefined {
  if (error.syscall !== 'listen' && error.syscall !== 'getaddrinfo') return undefined;
  const otherPort = at.port === 65535 ? 8787 : at.port + 1;
  const retry = `${envPrefix({ ...at.env, PORT: String(otherPort) }, { port: otherPort, dataDir: at.dataDir })}npm start`;
  switch (error.code) {
    case 'EADDRINUSE':
      return (
        `Port ${at.port} on ${at.host} is already in use: another kitebridge may be running on that port ` +
        `(stop it with Ctrl+C in its terminal), or another program is using it.\n` +
        `To run this one on another port: ${retry}`
      );
    case 'EACCES':
      return `Not allowed to listen on port ${at.port} (ports below 1024 need administrator rights). Choose another port: ${retry}`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return (
        `Cannot listen on HOST=${at.host}: it is not an address of this machine. ` +
        `Unset HOST for 127.0.0.1, or set HOST=0.0.0.0 for every interface.`
      );
    default:
      return undefined;
  }
}

/** Why another kitebridge's data folder is not ours to use, and what to do. */
function describeDataDirInUse(error: DataDirInUseError, env: NodeJS.ProcessEnv, port: number): string {
  // Its own folder, and a port of its own too (the other one may well listen on this one).
  const other = { port: port === 0 ? 0 : port + 1, dataDir: `${error.dataDir}-2` };
  const retry = `${envPrefix({ ...env, PORT: String(other.port), KITEBRIDGE_DATA_DIR: other.dataDir }, other)}npm start`;
  return (
    `Another kitebridge (pid ${error.owner.pid}, ${error.owner.url}) is running with the data folder ${error.dataDir}; ` +
    `it keeps its dev token there, so this one did not start.\n` +
    `Use that one, stop it with Ctrl+C in its terminal, or run this one with its own folder: ${retry}\n` +
    `(If no kitebridge is running, delete ${error.lockFile}.)`
  );
}

export interface RunLocalOptions {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** @default cdk.json in the project */
  readonly cdkJsonPath?: string;
  /** Terminal output. @default console.log */
  readonly print?: (line: string) => void;
}

export interface RunningLocal {
  readonly url: string;
  /** The local console's address. */
  readonly consoleUrl?: string;
  readonly token: string;
  readonly dataDir: string;
  /** The banner, as printed. */
  readonly banner: string;
  /**
   * A clean stop: no new requests; every accepted event reaches its consumers; trigger requests
   * being relayed finish and those still waiting are kept in the data folder.
   */
  readonly stop: () => Promise<void>;
}

/**
 * `npm start`: reads the environment and cdk.json, starts the local gateway, bus and consumers,
 * and prints the banner. Resolves to undefined after `--help`. Throws StartError, LocalEnvError or
 * ConfigError for a problem a person can fix; nothing is written to the data folder then.
 */
export async function runLocal(options: RunLocalOptions): Promise<RunningLocal | undefined> {
  const print = options.print ?? ((line: string) => console.log(line));
  const { env } = options;
  for (const arg of options.argv) {
    if (arg === '--help' || arg === '-h') {
      print(START_USAGE);
      return undefined;
    }
    throw new StartError(
      `npm start takes no arguments (got ${arg}); settings come from environment variables, e.g. PORT=9000 npm start.\n\n${START_USAGE}`,
    );
  }
  const port = readPort(env, 'npm start');
  const host = readHost(env);
  const dataDir = readDataDir(env);
  const secretCacheSeconds = readSecretCacheSeconds(env);
  const config = options.cdkJsonPath ? loadLocalConfig(options.cdkJsonPath) : loadLocalConfig();
  const chatUrl = env.KITEBRIDGE_CHAT_URL || undefined;

  // Bound to the local bus once it runs: the autoscaler's job.stuck events and the reconciler's
  // copies of missed deliveries go onto it, as deployed.
  let publishToBus = async (_entry: BusEntry): Promise<string> => {
    throw new Error('The local bus is not running yet.');
  };
  const autoscaler = config.autoscaler
    ? localAutoscaler({
        config: config.autoscaler,
        dataDir,
        env,
        log: print,
        publish: (entry) => publishToBus(entry),
      })
    : undefined;
  const triggerRelay = createLocalTriggerRelay({
    triggers: config.triggers,
    ratePerHour: config.triggerRatePerHour,
    burst: config.triggerBurst,
    dataDir,
    env,
    log: print,
  });
  let reconciler;
  try {
    reconciler = localReconciler({ config, env, publish: (entry) => publishToBus(entry), log: print });
  } catch (error) {
    if (error instanceof LocalReconcileError) throw new StartError(error.message);
    throw error;
  }
  // The local console (served at the root of the gateway) records what happens to each delivery.
  const journal = new Journal();
  const consoleSecrets = [
    ...(chatUrl ? [chatUrl] : []),
    ...config.triggers.map((t) => env[triggerUrlEnvName(t.name)] ?? '').filter((url) => url !== ''),
  ];
  let local: LocalKitebridge;
  try {
    local = await startLocal({
      config,
      dataDir,
      port,
      host,
      secretCacheSeconds,
      ...(env.KITEBRIDGE_TOKEN ? { token: env.KITEBRIDGE_TOKEN } : {}),
      rules: [
        {
          id: 'Terminal',
          pattern: { source: [{ exists: true }] },
          target: (event) => print(`[bus] ${describeEvent(event)}`),
        },
        ...chatAlertsLocalRules({
          dataDir,
          print,
          ...(config.chatAlerts ? { config: config.chatAlerts } : {}),
          ...(chatUrl ? { postUrl: chatUrl } : {}),
        }),
        ...(autoscaler?.rules ?? []),
        ...triggerRelay.rules,
        ...(config.analytics ? analyticsLocalRules({ dataDir, log: print }) : []),
        ...(reconciler?.rules ?? []),
      ],
      observe: (outcome) => {
        const status = outcome.answer.statusCode;
        print(
          `[gateway] ${status} ${outcome.code}${outcome.event ? ` ${outcome.event}` : ''}${outcome.auth ? ` (${outcome.auth})` : ''}`,
        );
        if (outcome.error)
          print(`[gateway] unexpected error: ${outcome.error.stack ?? outcome.error.message}`);
      },
      log: (line) => print(`[kitebridge] ${line}`),
      console: { journal, secrets: consoleSecrets },
      // After the bus drained: every accepted trigger request is in the relay's queue by then.
      beforeRelease: async () => {
        const kept = await triggerRelay.close();
        if (kept > 0) {
          print(
            `[trigger-relay] kept ${kept} request(s) still waiting to be relayed in ${relayQueueFolder(dataDir)}; the next start relays them`,
          );
        }
      },
    });
  } catch (error) {
    if (error instanceof DataDirInUseError) throw new StartError(describeDataDirInUse(error, env, port));
    const errno = error as NodeJS.ErrnoException;
    const listen = describeListenError(errno, { host, port, env, dataDir });
    if (listen) throw new StartError(listen);
    if (typeof errno.path === 'string' && errno.code) {
      throw new StartError(
        `Cannot write the data folder ${dataDir} (${errno.code} on ${errno.path}). ` +
          `Set KITEBRIDGE_DATA_DIR to a folder you can write.`,
      );
    }
    throw error;
  }

  const bannerText = banner({ config, local, dataDir, env, chatUrl: chatUrl !== undefined });
  print(bannerText);
  triggerRelay.resume();
  const stopAutoscaler = autoscaler?.startSchedule();
  publishToBus = (entry) => local.bus.publish(entry);
  const stopReconciler = reconciler?.startSchedule();
  return {
    url: local.url,
    ...(local.consoleUrl ? { consoleUrl: local.consoleUrl } : {}),
    token: local.token,
    dataDir,
    banner: bannerText,
    stop: async () => {
      stopAutoscaler?.();
      stopReconciler?.();
      await local.close();
    },
  };
}

/** Listening on every interface: 127.0.0.1 reaches it, which `npm run send` uses by default. */
const WILDCARD = /^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/;

/** The startup banner: where to send, what runs, and commands that work as printed from another terminal. */
export function banner(input: {
  config: KitebridgeConfig;
  local: Pick<LocalKitebridge, 'url' | 'token' | 'consoleUrl'>;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  chatUrl: boolean;
}): string {
  const { config, local, dataDir, env } = input;
  const port = Number(new URL(local.url).port);
  const send = `${envPrefix(env, { port, dataDir })}npm run send --`;
  const reachable = local.url.replace(WILDCARD, 'http://127.0.0.1');
  // Another address (HOST=::1, a LAN address) is not where `npm run send` posts by default.
  const urlFlag = (route: string) =>
    new URL(reachable).hostname === '127.0.0.1' ? '' : ` --url ${reachable}${route}`;
  const column = (label: string, value: string) => `  ${label.padEnd(17)}${value}`;
  const more = (value: string) => `${' '.repeat(19)}${value}`;

  const triggerLines = config.triggers.length
    ? config.triggers.flatMap((t, i) => {
        const urlEnv = triggerUrlEnvName(t.name);
        const relay = env[urlEnv] ? `relays to $${urlEnv}` : `dry run: set ${urlEnv} to relay`;
        const line = `${reachable}${triggerPath(encodeURIComponent(t.name))}   (${t.kind}; ${relay})`;
        return [i === 0 ? column('Trigger URLs', line) : more(line)];
      })
    : [column('Trigger URLs', 'none: add "triggers" to the context of cdk.json (README: Pipeline triggers)')];

  const consumer = (name: string, on: boolean, ...text: string[]) => [
    `  ${name.padEnd(15)}${on ? 'on ' : 'off'}  ${text[0]}`,
    ...text.slice(1).map((t) => more(`   ${t}`)),
  ];
  const consumers = [
    ...consumer(
      'chat alerts',
      true,
      input.chatUrl
        ? 'posted to the webhook in KITEBRIDGE_CHAT_URL'
        : 'printed here (set KITEBRIDGE_CHAT_URL to post them to a webhook)',
      config.chatAlerts
        ? `${config.chatAlerts.destinations.length} destination(s) from "chatAlerts" in cdk.json`
        : 'every pipeline, default alerts ("chatAlerts" in cdk.json is not set)',
    ),
    ...(config.analytics
      ? consumer(
          'analytics',
          true,
          `records in ${localRecordsFile(dataDir)} (${envPrefix(env, { dataDir })}npm run report)`,
        )
      : consumer('analytics', false, 'remove "analytics": false from cdk.json to record events')),
    ...(config.autoscaler
      ? consumer(
          'autoscaler',
          true,
          `dry run (decisions logged, nothing scaled) for ${config.autoscaler.queues.map((q) => q.queue).join(', ')}`,
        )
      : consumer('autoscaler', false, 'add "autoscaler" to the context of cdk.json to turn it on')),
    ...(config.triggers.length
      ? consumer(
          'trigger relay',
          true,
          `paced at ${config.triggerRatePerHour}/h (burst ${config.triggerBurst}); waiting requests survive a restart`,
        )
      : consumer('trigger relay', false, 'add "triggers" to the context of cdk.json to turn it on')),
    ...(env.BUILDKITE_API_URL && config.reconcile
      ? consumer(
          'reconcile',
          true,
          `every ${config.reconcile.everyMinutes} min against ${env.BUILDKITE_API_URL}: publishes the build.finished deliveries it never sent`,
        )
      : consumer(
          'reconcile',
          false,
          'set BUILDKITE_API_URL (npm run buildkite-stub) to find deliveries Buildkite never sent',
        )),
  ];

  const examples = [
    `${send} build.finished${urlFlag(ROUTES.buildkite)}`,
    `${send} job.finished --signature ${local.token}${urlFlag(ROUTES.buildkite)}`,
    ...config.triggers.map(
      (t) =>
        `${send} ${TRIGGER_EXAMPLES[t.kind]} --trigger ${shellQuote(t.name)}${urlFlag(triggerPath(encodeURIComponent(t.name)))}`,
    ),
  ];

  return [
    'kitebridge is running locally (no AWS needed).',
    '',
    ...(local.consoleUrl
      ? [column('Console', `${local.consoleUrl}   (open it in a browser on this machine)`), '']
      : []),
    column('Webhook URL', `${reachable}${ROUTES.buildkite}`),
    column('Path-token URL', `${reachable}/buildkite/<token>`),
    ...triggerLines,
    column('Dev token', local.token),
    more(
      `(in ${devTokenFile(dataDir)}; ${env.KITEBRIDGE_TOKEN ? 'from KITEBRIDGE_TOKEN' : 'new at each start; set KITEBRIDGE_TOKEN to choose your own'})`,
    ),
    column('Webhook secret', localSecretFile(dataDir)),
    more(`(rotate it as deployed: ${envPrefix(env, { port, dataDir })}npm run rotate -- --local)`),
    column('Event log', path.join(dataDir, 'events.jsonl')),
    '',
    'Consumers on the local bus:',
    ...consumers,
    '',
    `Send a signed delivery from another terminal, in ${shellQuote(PROJECT_ROOT)}:`,
    '',
    ...examples.map((example) => `  ${example}`),
    '',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let running: RunningLocal | undefined;
  try {
    running = await runLocal({ argv: process.argv.slice(2), env: process.env });
  } catch (error) {
    const known =
      error instanceof StartError || error instanceof LocalEnvError || error instanceof ConfigError;
    console.error(known ? error.message : error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
    return;
  }
  if (!running) return;
  const stopping = running;
  let stopped = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopped) {
      console.error(`${signal} again: stopping now. Queued trigger requests are in the data folder already.`);
      process.exit(130);
    }
    stopped = true;
    console.log(`\n${signal}: stopping (press Ctrl+C again to stop at once)…`);
    stopping.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error instanceof Error ? (error.stack ?? error.message) : error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) void main();
