import type { AutoscalerConfig } from '../../lib/config/autoscaler';
import { BuildkiteAgentChecker } from '../../lambda/autoscaler/agent-checks';
import { BuildkiteJobChecker } from '../../lambda/autoscaler/job-checks';
import { AutoscalerApp } from '../../lambda/autoscaler/app';
import { AutoscalerController, type EvaluationOutcome } from '../../lambda/autoscaler/controller';
import { FleetActions } from '../../lambda/autoscaler/fleet-actions';
import { BuildkiteMetricsClient } from '../../lambda/autoscaler/metrics-api';
import type { Clock, GroupScaler } from '../../lambda/autoscaler/ports';
import { autoscalerEventPattern, RECONCILE_RATE_MINUTES } from '../../lambda/autoscaler/rules';
import { systemClock } from '../../lambda/shared/clock';
import { BuildkiteRestClient } from '../../lambda/shared/buildkite-rest';
import { HEALTH_EVENTS, HEALTH_SOURCE, type BusEntry } from '../../lambda/shared/contract';
import { SkipReporter } from '../../lambda/shared/skipped';
import { FileBodyReader, localBodyFolder } from '../adapters/files';
import { MemoryAutoscalerStateStore, MemoryFleetStore } from '../adapters/memory-autoscaler-stores';
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
  /**
   * A Buildkite REST API token: with one, a dry-run scale-in re-checks idle agents (at
   * `BUILDKITE_API_URL`, a stub say) and logs which instances it would terminate; without, it
   * logs that scale-in is held. @default env `BUILDKITE_API_TOKEN`
   */
  readonly apiToken?: string;
  /** Puts derived events (`job.stuck`) on the local bus. @default they are only logged */
  readonly publish?: (entry: BusEntry) => Promise<unknown>;
  /** One line per decision and warning. @default console.log */
  readonly log?: (line: string) => void;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
}

export interface LocalAutoscaler {
  /** The rule for the local bus: the deployed pattern, the deployed controller. */
  readonly rules: LocalRule[];
  /** What the one-minute schedule does when deployed. */
  readonly reconcile: () => Promise<EvaluationOutcome>;
  /** The in-memory fleet: which instance runs which agent, and the waiting jobs. */
  readonly fleet: MemoryFleetStore;
  /** Runs `reconcile` every minute; returns a function that stops it. */
  readonly startSchedule: () => () => void;
}

/** Auto Scaling is never called locally: every queue runs dry, so none of this is reached. */
const neverCalled = (what: string) => async (): Promise<never> => {
  throw new Error(`Local mode never changes a group (asked to ${what}).`);
};
const noGroups: GroupScaler = {
  describe: async () => new Map(),
  setDesired: neverCalled('set a desired capacity'),
  terminateInstance: neverCalled('terminate an instance'),
  setScaleInProtection: neverCalled('protect an instance'),
  markUnhealthy: neverCalled('mark an instance unhealthy'),
};

function line(message: string, attributes: Record<string, unknown>): string {
  const fields = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `[autoscaler] ${message}${fields.length ? ` ${fields.join(' ')}` : ''}`;
}

/**
 * The autoscaler for `npm start`: the same pattern, event path, gate, decision, fleet tracking
 * and metrics client as the deployed function, with state and the fleet in memory, oversized
 * bodies read from the local body folder, and every queue in dry run: decisions and the actions
 * they would take (protect, terminate, heal, job.stuck) are logged, no group is touched. Point the metrics API at a stub with `KITEBRIDGE_AUTOSCALER_METRICS_URL`.
 */
export function localAutoscaler(options: LocalAutoscalerOptions): LocalAutoscaler {
  const env = options.env ?? process.env;
  const print = options.log ?? ((text: string) => console.log(text));
  const config: AutoscalerConfig = { ...options.config, dryRun: true };
  const token = options.agentToken ?? env.BUILDKITE_AGENT_TOKEN ?? 'local';
  const clock = options.clock ?? systemClock;
  const apiToken = options.apiToken ?? env.BUILDKITE_API_TOKEN;
  // Decisions, actions and warnings: a terminal line, and the local console's view of the event.
  const report = (message: string, attributes: Record<string, unknown>) => {
    reportToConsole({ kind: 'autoscaler', message, attributes });
    print(line(message, attributes));
  };
  const log = { info: report, warn: report, error: report };
  const fleetStore = new MemoryFleetStore();
  // With an API token (and BUILDKITE_API_URL at a stub), the scale-in re-check and the stuck-job
  // check ask Buildkite as deployed.
  const restClient = apiToken
    ? new BuildkiteRestClient({
        token: apiToken,
        ...(env.BUILDKITE_API_URL ? { baseUrl: env.BUILDKITE_API_URL } : {}),
      })
    : undefined;
  const fleet = new FleetActions({
    config,
    fleet: fleetStore,
    groups: noGroups,
    ...(restClient
      ? {
          checker: new BuildkiteAgentChecker(restClient, config.org),
          jobChecker: new BuildkiteJobChecker(restClient, config.org),
        }
      : {}),
    metrics: {
      jobWaited: (_org, queue, seconds) => print(line('JobWaitTime', { queue, seconds })),
      queueWaits: () => undefined,
      action: () => undefined,
    },
    health: {
      jobStuck: async (detail) => {
        await options.publish?.({
          source: HEALTH_SOURCE,
          detailType: HEALTH_EVENTS.jobStuck,
          detail: JSON.stringify(detail),
        });
      },
    },
    log,
    clock,
  });
  const controller = new AutoscalerController({
    config,
    store: new MemoryAutoscalerStateStore(),
    metrics: new BuildkiteMetricsClient({
      baseUrl: options.metricsApiUrl ?? env.KITEBRIDGE_AUTOSCALER_METRICS_URL ?? config.metricsApiUrl,
      token: async () => token,
    }),
    groups: noGroups,
    counts: { publish: () => undefined },
    fleet,
    log,
    clock,
  });
  const app = new AutoscalerApp({
    config,
    controller,
    fleet,
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
    fleet: fleetStore,
    startSchedule: () => {
      const timer = setInterval(() => {
        reconcile().catch((error: unknown) => print(line('Reconcile failed', { error: String(error) })));
      }, RECONCILE_RATE_MINUTES * 60_000);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
