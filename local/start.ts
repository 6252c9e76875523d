import * as path from 'node:path';
import type { EventEnvelope } from '../lambda/shared/contract';
import { analyticsLocalRules } from './consumers/analytics';
import { localAutoscaler } from './consumers/autoscaler';
import { chatAlertsLocalRules } from './consumers/chat-alerts';
import { createLocalTriggerRelay } from './consumers/trigger-relay';
import { loadLocalConfig, PROJECT_ROOT } from './local-config';
import { startLocal } from './server';

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

async function main(): Promise<void> {
  const config = loadLocalConfig();
  const dataDir = process.env.KITEBRIDGE_DATA_DIR ?? path.join(PROJECT_ROOT, '.local-data');
  const port = Number(process.env.PORT ?? 8787);
  const autoscaler = config.autoscaler ? localAutoscaler({ config: config.autoscaler, dataDir }) : undefined;
  const triggerRelay = createLocalTriggerRelay({
    triggers: config.triggers,
    ratePerHour: config.triggerRatePerHour,
    burst: config.triggerBurst,
  });
  const local = await startLocal({
    config,
    dataDir,
    port,
    host: process.env.HOST ?? '127.0.0.1',
    ...(process.env.KITEBRIDGE_TOKEN ? { token: process.env.KITEBRIDGE_TOKEN } : {}),
    rules: [
      {
        id: 'Terminal',
        pattern: { source: [{ exists: true }] },
        target: (event) => console.log(`[bus] ${describeEvent(event)}`),
      },
      ...chatAlertsLocalRules({
        dataDir,
        ...(config.chatAlerts ? { config: config.chatAlerts } : {}),
        ...(process.env.KITEBRIDGE_CHAT_URL ? { postUrl: process.env.KITEBRIDGE_CHAT_URL } : {}),
      }),
      ...(autoscaler?.rules ?? []),
      ...triggerRelay.rules,
      ...analyticsLocalRules({ dataDir }),
    ],
    observe: (outcome) => {
      const status = outcome.answer.statusCode;
      console.log(
        `[gateway] ${status} ${outcome.code}${outcome.event ? ` ${outcome.event}` : ''}${outcome.auth ? ` (${outcome.auth})` : ''}`,
      );
      if (outcome.error)
        console.error(`[gateway] unexpected error: ${outcome.error.stack ?? outcome.error.message}`);
    },
    log: (line) => console.log(`[kitebridge] ${line}`),
  });

  console.log(`kitebridge is running locally (no AWS needed).

  Webhook URL      ${local.url}/buildkite
  Path-token URL   ${local.url}/buildkite/<token>
  Dev token        ${local.token}
                   (also in ${path.relative(process.cwd(), path.join(dataDir, 'dev-token')) || 'dev-token'}; set KITEBRIDGE_TOKEN to choose your own)
  Event log        ${path.join(dataDir, 'events.jsonl')}

Send a signed delivery from another terminal:

  npm run send -- build.finished
  npm run send -- job.finished --signature ${local.token}

Press Ctrl+C to stop.
`);

  const stopAutoscaler = autoscaler?.startSchedule();
  const stop = () => {
    stopAutoscaler?.();
    triggerRelay.close();
    void local.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
