/**
 * Delivery reconciliation in local mode: when `BUILDKITE_API_URL` points at a Buildkite API (the
 * stub from `npm run buildkite-stub`, say), the deployed reconciler runs on the local bus: an index
 * rule records every `build.finished`, and a run on the deployed schedule lists the builds that
 * finished lately and publishes those the bus never saw. The index is in memory.
 */
import { ReconcileApp, recordDelivered, type RunSummary } from '../../lambda/reconcile/app';
import { ApiBuildSource } from '../../lambda/reconcile/buildkite-builds';
import { BuildkiteRestClient } from '../../lambda/shared/buildkite-rest';
import { buildkiteEvents, type BusEntry } from '../../lambda/shared/contract';
import type { KitebridgeConfig } from '../../lib/config';
import { MemoryDeliveryIndex } from '../adapters/memory-delivery-index';
import type { LocalRule } from '../local-bus';

/** The same defaults the deployed construct uses when `reconcile` gives none. */
const DEFAULTS = { everyMinutes: 5, lookbackMinutes: 60, graceMinutes: 3, maxPages: 20 };

export interface LocalReconcilerOptions {
  readonly config: Pick<KitebridgeConfig, 'reconcile' | 'buildkiteApi'>;
  readonly env: NodeJS.ProcessEnv;
  /** Puts a recovered `build.finished` on the local bus (bound once the bus exists). */
  readonly publish: (entry: BusEntry) => Promise<string>;
  readonly log: (line: string) => void;
  readonly now?: () => Date;
}

export interface LocalReconciler {
  /** The index rule: every `build.finished` on the bus, as deployed. */
  readonly rules: LocalRule[];
  /** One run, as the schedule makes it. */
  readonly runOnce: () => Promise<RunSummary>;
  /** Runs now and then every `everyMinutes`; returns a function that stops it. */
  readonly startSchedule: () => () => void;
  readonly everyMinutes: number;
  readonly organization: string;
  readonly index: MemoryDeliveryIndex;
}

/** Why local reconciliation cannot start: the message names the variable to set. */
export class LocalReconcileError extends Error {}

/**
 * The local reconciler, or undefined when `BUILDKITE_API_URL` is not set (or `reconcile` is
 * false). The token is `BUILDKITE_API_TOKEN` (what `npm run buildkite-stub` prints); the
 * organization is `buildkiteApi.organization`, else `BUILDKITE_ORGANIZATION`, else `local`.
 */
export function localReconciler(options: LocalReconcilerOptions): LocalReconciler | undefined {
  const { env, config } = options;
  const baseUrl = env.BUILDKITE_API_URL;
  if (!baseUrl || config.reconcile === undefined) return undefined;
  const token = env.BUILDKITE_API_TOKEN;
  if (!token) {
    throw new LocalReconcileError(
      'BUILDKITE_API_URL is set, so reconciliation runs, but BUILDKITE_API_TOKEN is not: set it to the API token ' +
        'the Buildkite API at that URL accepts (npm run buildkite-stub prints both), or unset BUILDKITE_API_URL.',
    );
  }
  const settings = { ...DEFAULTS, ...config.reconcile };
  const organization = config.buildkiteApi?.organization ?? env.BUILDKITE_ORGANIZATION ?? 'local';
  const now = options.now ?? (() => new Date());
  const index = new MemoryDeliveryIndex();
  const line = (message: string, fields: Record<string, unknown>) =>
    options.log(`[reconcile] ${message}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}`);
  const log = { info: line, warn: line };
  const client = new BuildkiteRestClient({ token, baseUrl });
  let runs = 0;
  const runOnce = () =>
    new ReconcileApp(
      {
        builds: new ApiBuildSource(client, organization, {
          maxPages: settings.maxPages,
          // Locally a run never waits for a rate-limit reset: it stops and the next run goes on.
          remainingMs: () => 0,
        }),
        index,
        publisher: { publish: options.publish },
        metrics: { missed() {}, apiCalls() {}, flush() {} },
        log,
        now,
      },
      settings,
    ).reconcile(`local-run-${++runs}`);
  return {
    rules: [
      {
        id: 'ReconcileIndex',
        pattern: buildkiteEvents('build.finished'),
        target: async (event) => {
          await recordDelivered(event, { index, log, now });
        },
      },
    ],
    runOnce,
    startSchedule: () => {
      const run = () => {
        runOnce().catch((error: unknown) => line('Run failed', { error: (error as Error).message }));
      };
      run();
      const timer = setInterval(run, settings.everyMinutes * 60_000);
      timer.unref();
      return () => clearInterval(timer);
    },
    everyMinutes: settings.everyMinutes,
    organization,
    index,
  };
}
