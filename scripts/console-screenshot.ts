/**
 * `npm run console:screenshot`: the README's picture of the local console, taken by the browser
 * the console's tests use. Starts kitebridge locally (a temporary data folder, a Slack and a
 * Teams chat destination, one trigger), sends a few fixtures through the console's own API,
 * opens the failed build and writes docs/console.png.
 *
 * Needs Debian's chromium (sudo apt-get install -y chromium) or CHROMIUM_PATH.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { launchChromium } from '../local/console/chromium';
import { PROJECT_ROOT } from '../local/local-env';
import { runLocal, type RunningLocal } from '../local/start';
import { writeConsoleDemoConfig } from '../support/console-demo';

const OUTPUT = path.join(PROJECT_ROOT, 'docs', 'console.png');

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-console-shot-'));
  let local: RunningLocal | undefined;
  const browser = await launchChromium();
  try {
    const cdkJson = writeConsoleDemoConfig(tmp, ['build.failed', 'agent.lost']);
    local = await runLocal({
      argv: [],
      env: { PORT: '0', KITEBRIDGE_DATA_DIR: path.join(tmp, 'data') },
      cdkJsonPath: cdkJson,
      print: () => undefined,
    });
    if (!local?.consoleUrl) throw new Error('npm start did not serve the console.');
    const consoleUrl = local.consoleUrl;
    const api = async (route: string, body: unknown) => {
      const response = await fetch(`${consoleUrl}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${route}: ${response.status} ${await response.text()}`);
      return (await response.json()) as { status: number };
    };
    for (const fixture of ['build.scheduled', 'job.started', 'job.finished', 'agent.lost']) {
      await api('api/send', { fixture: `buildkite/${fixture}`, mode: 'signature' });
    }
    await api('api/send', { fixture: 'buildkite/build.finished', mode: 'token', wrongSecret: true });
    await api('api/send', { fixture: 'buildkite/build.finished', mode: 'signature' });

    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 }, deviceScaleFactor: 1 });
    await page.goto(consoleUrl);
    const failedBuild = page.locator('[data-testid=delivery-row]', { hasText: 'build.finished' }).first();
    await failedBuild.filter({ hasText: '202' }).waitFor({ timeout: 30_000 });
    await failedBuild.click();
    await page.locator('[data-testid=chat-alert-teams] .ac-adaptiveCard').waitFor({ timeout: 30_000 });
    await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: OUTPUT });
    console.log(`Wrote ${path.relative(process.cwd(), OUTPUT)}`);
  } finally {
    await browser.close();
    await local?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
