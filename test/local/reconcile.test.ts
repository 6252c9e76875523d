import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BusEntry, EventEnvelope } from '../../lambda/shared/contract';
import { parseConfig } from '../../lib/config';
import { startBuildkiteStub, type BuildkiteStub } from '../../local/buildkite-stub';
import { LocalReconcileError, localReconciler } from '../../local/consumers/reconcile';
import { runLocal, StartError, type RunningLocal } from '../../local/start';

const NOW = new Date('2026-12-06T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const TOKEN = 'local-api-token';
const config = (context: Record<string, unknown> = {}) =>
  parseConfig({ webhookIps: ['127.0.0.1/32'], ...context });

let stub: BuildkiteStub;
beforeEach(async () => {
  stub = await startBuildkiteStub({ organization: 'acme', apiToken: TOKEN, port: 0 });
  stub.state.builds.push(
    { id: 'b-delivered', number: 1, state: 'passed', finished_at: minutesAgo(10), pipeline: { slug: 'api' } },
    { id: 'b-missed', number: 2, state: 'failed', finished_at: minutesAgo(12), pipeline: { slug: 'api' } },
  );
});
afterEach(async () => {
  await stub.close();
});

const envelope = (detail: Record<string, unknown>): EventEnvelope => ({
  version: '0',
  id: 'e-1',
  'detail-type': 'build.finished',
  source: 'buildkite',
  account: '000000000000',
  time: NOW.toISOString(),
  region: 'local',
  resources: [],
  detail,
});

describe('localReconciler', () => {
  it('indexes build.finished from the local bus and publishes only the build the bus never saw, once', async () => {
    const published: BusEntry[] = [];
    const reconciler = localReconciler({
      config: config({ buildkiteApi: { organization: 'acme' } }),
      env: { BUILDKITE_API_URL: stub.url, BUILDKITE_API_TOKEN: TOKEN },
      publish: async (entry) => {
        published.push(entry);
        return 'e';
      },
      log: () => undefined,
      now: () => NOW,
    })!;
    await reconciler.rules[0]!.target(
      envelope({
        build: { id: 'b-delivered', state: 'passed', finished_at: minutesAgo(10) },
        delivery: { dedupeKey: `build.finished:b-delivered:passed:${minutesAgo(10)}` },
      }),
    );

    const first = await reconciler.runOnce();
    const second = await reconciler.runOnce();

    expect(first.published).toEqual([`build.finished:b-missed:failed:${minutesAgo(12)}`]);
    expect(second.published).toEqual([]);
    expect(published).toHaveLength(1);
    expect(JSON.parse(published[0]!.detail)).toMatchObject({
      event: 'build.finished',
      build: { id: 'b-missed', number: 2 },
      delivery: { source: 'reconcile' },
    });
    expect(stub.state.requests[0]!.url).toMatch(/^\/v2\/organizations\/acme\/builds\?finished_from=/);
  });

  it('is off without BUILDKITE_API_URL, or with reconcile: false', () => {
    const options = { publish: async () => 'e', log: () => undefined };
    expect(localReconciler({ ...options, config: config(), env: {} })).toBeUndefined();
    expect(
      localReconciler({
        ...options,
        config: config({ reconcile: false }),
        env: { BUILDKITE_API_URL: stub.url, BUILDKITE_API_TOKEN: TOKEN },
      }),
    ).toBeUndefined();
  });

  it('asks for BUILDKITE_API_TOKEN when only the URL is set', () => {
    expect(() =>
      localReconciler({
        config: config(),
        env: { BUILDKITE_API_URL: stub.url },
        publish: async () => 'e',
        log: () => undefined,
      }),
    ).toThrow(LocalReconcileError);
  });
});

describe('npm start with BUILDKITE_API_URL', () => {
  let tmp: string;
  const running: RunningLocal[] = [];
  beforeEach(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-reconcile-'));
    writeFileSync(
      path.join(tmp, 'cdk.json'),
      JSON.stringify({
        app: 'x',
        context: { webhookIps: [], analytics: false, buildkiteApi: { organization: 'acme' } },
      }),
    );
  });
  afterEach(async () => {
    for (const local of running.splice(0)) await local.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs reconciliation at start: the build Buildkite never delivered reaches the bus', async () => {
    // The stub's builds finished minutes before the real clock: inside the window, past the grace period.
    stub.state.builds.splice(0);
    stub.state.builds.push({
      id: 'b-local',
      number: 7,
      state: 'failed',
      finished_at: new Date(Date.now() - 10 * 60_000).toISOString(),
      pipeline: { slug: 'deploy' },
    });
    const lines: string[] = [];
    let onBus: () => void = () => undefined;
    let onLogged: () => void = () => undefined;
    const reachedBus = new Promise<void>((resolve) => (onBus = resolve));
    const logged = new Promise<void>((resolve) => (onLogged = resolve));
    const local = await runLocal({
      argv: [],
      env: {
        PORT: '0',
        KITEBRIDGE_DATA_DIR: path.join(tmp, 'data'),
        BUILDKITE_API_URL: stub.url,
        BUILDKITE_API_TOKEN: TOKEN,
      },
      cdkJsonPath: path.join(tmp, 'cdk.json'),
      print: (line) => {
        lines.push(line);
        if (/^\[bus\] .* buildkite build\.finished pipeline=deploy build=#7 state=failed/.test(line)) onBus();
        if (
          /^\[reconcile\] Buildkite never delivered this build\.finished; published it .*build\.finished:b-local:failed/.test(
            line,
          )
        ) {
          onLogged();
        }
      },
    });
    running.push(local!);

    expect(local!.banner).toMatch(/reconcile\s+on\s+every 5 min against http:\/\/127\.0\.0\.1:\d+/);
    // Both must happen; Jest's timeout bounds the wait.
    await Promise.all([reachedBus, logged]);
    expect(lines.filter((l) => /^\[bus\] .* build\.finished .*build=#7/.test(l))).toHaveLength(1);
  });

  it('refuses to start with the URL but no token, naming the variable', async () => {
    const error = await runLocal({
      argv: [],
      env: { PORT: '0', KITEBRIDGE_DATA_DIR: path.join(tmp, 'data'), BUILDKITE_API_URL: stub.url },
      cdkJsonPath: path.join(tmp, 'cdk.json'),
      print: () => undefined,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartError);
    expect((error as Error).message).toMatch(/BUILDKITE_API_TOKEN is not/);
  });
});
