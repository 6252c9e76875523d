/**
 * The project the local console is shown and tested with: a Slack and a Teams chat destination
 * for every pipeline and branch, and one token trigger (`pagerduty`), so a delivery's page has a
 * chat alert of each kind and the trigger list is not empty.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Writes the demo project's `cdk.json` into `dir`, its chat destinations alerting on `events`;
 * returns its path (for `runLocal`'s `cdkJsonPath`).
 */
export function writeConsoleDemoConfig(dir: string, events: readonly string[]): string {
  const everywhere = { pipelines: ['*'], branches: ['*'], events };
  const cdkJson = path.join(dir, 'cdk.json');
  writeFileSync(
    cdkJson,
    JSON.stringify({
      app: 'x',
      context: {
        webhookIps: [],
        chatAlerts: {
          destinations: [
            { name: 'ops-slack', service: 'slack', ...everywhere },
            { name: 'ops-teams', service: 'teams', ...everywhere },
          ],
        },
        triggers: [{ name: 'pagerduty', kind: 'token', header: 'X-PD-Token' }],
      },
    }),
  );
  return cdkJson;
}
