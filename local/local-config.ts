import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONFIG_KEYS, parseConfig, type KitebridgeConfig } from '../lib/config';

export const PROJECT_ROOT = path.join(__dirname, '..');

/**
 * The deployed app's configuration, read from cdk.json's context exactly as `cdk synth` reads
 * it. Locally, loopback is always allowed, so an allowlist not yet refreshed from Buildkite
 * (empty) is not an error here.
 */
export function loadLocalConfig(cdkJsonPath = path.join(PROJECT_ROOT, 'cdk.json')): KitebridgeConfig {
  const context =
    (JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  const raw = Object.fromEntries(CONFIG_KEYS.map((key) => [key, context[key]]));
  const ips = Array.isArray(raw.webhookIps) ? raw.webhookIps : [];
  return parseConfig({ ...raw, webhookIps: [...ips, '127.0.0.1/32'] });
}
