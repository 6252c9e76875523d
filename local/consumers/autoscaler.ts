import type { AutoscalerConfig } from '../../lib/config/autoscaler';
import { systemClock } from '../../lambda/autoscaler/adapters';
import { AutoscalerApp } from '../../lambda/autoscaler/app';
import type { GroupScaler } from '../../lambda/autoscaler/auto-scaling';
import { AutoscalerController, type Clock, type Outcome } from '../../lambda/autoscaler/controller';
import { BuildkiteMetricsClient } from '../../lambda/autoscaler/metrics-api';
import { autoscalerEventPattern, RECONCILE_RATE_MINUTES } from '../../lambda/autoscaler/rules';
import { MemoryStateStore } from '../../lambda/autoscaler/state-store';
import { SkipReporter } from '../../lambda/shared/skipped';
import { FileBodyReader, localBodyFolder } from '../adapters/files';
import type { LocalRule } from '../local-bus';
import { reportToConsole } from '../console/journal';

export interface LocalAutoscalerOptions {
  readonly config: AutoscalerConfig;
  /** The local data folder: oversized bodies are read from where the local gateway stores them. */
  readonly dataDir: string;
  /**
   * Where the agent metrics API is: a local stub, say. @default env
   * `KITEBRIDGE_AUTOSCALER_METRICS_URL`, else `config.metricsApiUrl`
   */
  readonly metricsApiUrl?: string;
  /** @default env `BUILDKITE_AGENT_TOKEN`, else `local` */
  readonly agentToken?: string;
  /** One line per decision and warning. @default console.log */
  readonly log?: (line: string) => void;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
}

export interface LocalAutoscaler {
  /** The rule for the local bus: the deployed pattern, the deployed controller. */
  readonly rules: LocalRule[];
  /** What the one-minute schedule does when deployed. */
  readonly reconcile: () => Promise<Outcome>;
  /** Runs `reconcile` every minute; returns a function that stops it. */
  readonly startSchedule: () => () => void;
}

/** Auto Scaling is never called locally: every queue runs dry, so this is never reached. */
const noGroups: GroupScaler = {
  describe: async () => new Map(),
  setDesired: async (name) => {
    throw new Error(`Local mode never scales a group (asked to scale ${name}).`);
  },
};

function line(message: string, attributes: Record<string, unknown>): string {
  const fields = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `[autoscaler] ${message}${fields.length ? ` ${fields.join(' ')}` : ''}`;
}

/**
 * The autoscaler for `npm start`: the same pattern, event path, gate, decision and metrics client
 * as the deployed function, with state in memory, oversized bodies read from the local body
 * folder, and every queue in dry run (decisions and skipped deliveries are logged, no group is
 * touched). Point the metrics API at a stub with `KITEBRIDGE_AUTOSCALER_METRICS_URL`.
 */
export function localAutoscaler(options: LocalAutoscalerOptions): LocalAutoscaler {
  const env = options.env ?? process.env;
  const print = options.log ?? ((text: string) => console.log(text));
  const config: AutoscalerConfig = { ...options.config, dryRun: true };
  const token = options.agentToken ?? env.BUILDKITE_AGENT_TOKEN ?? 'local';
  const clock = options.clock ?? systemClock;
  // Decisions and warnings: a terminal line, and the local console's view of the event.
  const report = (message: string, attributes: Record<string, unknown>) => {
    reportToConsole({ kind: 'autoscaler', message, attributes });
    print(line(message, attributes));
  };
  const controller = new AutoscalerController({
    config,
    store: new MemoryStateStore(),
    metrics: new BuildkiteMetricsClient({
      baseUrl: options.metricsApiUrl ?? env.KITEBRIDGE_AUTOSCALER_METRICS_URL ?? config.metricsApiUrl,
      token: async () => token,
    }),
    groups: noGroups,
    counts: { publish: () => undefined },
    log: {
      info: (m, a) => report(m, a),
      warn: (m, a) => report(m, a),
      error: (m, a) => report(m, a),
    },
    clock,
  });
  const app = new AutoscalerApp({
    config,
    controller,
    bodies: new FileBodyReader(localBodyFolder(options.dataDir)),
    skips: new SkipReporter({
      warn: (m, a) => {
        reportToConsole({ kind: 'skipped', consumer: 'autoscaler', message: m, attributes: a });
        print(line(m, a));
      },
    }),
    log: { debug: () => undefined },
  });
  const reconcile = () => controller.handle({ kind: 'reconcile' });
  return {
    rules: [
      {
        id: 'Autoscaler',
        pattern: autoscalerEventPattern(config.queues.map((q) => q.queue)),
        target: async (event) => {
          await app.handle(event);
        },
      },
    ],
    reconcile,
    startSchedule: () => {
      const timer = setInterval(() => {
        reconcile().catch((error: unknown) => print(line('Reconcile failed', { error: String(error) })));
      }, RECONCILE_RATE_MINUTES * 60_000);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
