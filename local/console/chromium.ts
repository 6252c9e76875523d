/**
 * The headless browser the console's browser tests and screenshot script drive: Debian's
 * `chromium` through playwright-core (which cannot download a browser of its own here).
 */
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** How to get a browser, said when none is found. */
export const CHROMIUM_MISSING =
  'No chromium found: the local console is checked in a real headless Chromium. Install it ' +
  '(Debian/Ubuntu: sudo apt-get install -y chromium; .ci/run does this in CI), or set CHROMIUM_PATH ' +
  'to a Chromium or Chrome executable.';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `CHROMIUM_PATH`, else `chromium` (or `chromium-browser`) on PATH; throws {@link CHROMIUM_MISSING}. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROMIUM_PATH) {
    if (executable(env.CHROMIUM_PATH)) return env.CHROMIUM_PATH;
    throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file. ${CHROMIUM_MISSING}`);
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const file = path.join(dir, name);
      if (executable(file)) return file;
    }
  }
  throw new Error(CHROMIUM_MISSING);
}

/**
 * The headless browser, launched from {@link chromiumPath} (rejects with
 * {@link CHROMIUM_MISSING} when there is none). No sandbox: CI containers run as root, where
 * Chromium's sandbox refuses to start.
 */
export async function launchChromium(env: NodeJS.ProcessEnv = process.env): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(env), args: ['--no-sandbox'] });
}
