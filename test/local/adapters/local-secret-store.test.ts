import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseSecretTokens } from '../../../lambda/verify/tokens';
import { STAGE } from '../../../lambda/webhook-rotation/ports';
import {
  LocalSecretError,
  LocalSecretStore,
  localSecretFile,
} from '../../../local/adapters/local-secret-store';

const T0 = Date.parse('2026-12-06T12:00:00Z');
let dataDir: string;
let time: number;
const now = () => time;

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kitebridge-secret-'));
  time = T0;
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const devToken = () => readFileSync(path.join(dataDir, 'dev-token'), 'utf8').trim();

describe('LocalSecretStore', () => {
  it('reset writes one current version holding the token, the cache period and the dev token, for the owner only', async () => {
    const store = new LocalSecretStore(dataDir, { now });
    store.reset('start-token', 10);

    expect(store.currentValue()).toBe('{"token":"start-token"}');
    expect(store.currentToken()).toBe('start-token');
    expect(store.verifyCacheMs()).toBe(10_000);
    expect(Object.values((await store.describe()).versions)).toEqual([[STAGE.current]]);
    expect(devToken()).toBe('start-token');
    expect(statSync(localSecretFile(dataDir)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, 'dev-token')).mode & 0o777).toBe(0o600);
  });

  it("moves stages as Secrets Manager does, and the dev token follows AWSCURRENT; another process's store sees it all", async () => {
    const store = new LocalSecretStore(dataDir, { now });
    store.reset('old', 10);
    const other = new LocalSecretStore(dataDir, { now });
    const [first] = Object.keys((await store.describe()).versions);

    store.startRotation('v1');
    expect(other.pendingVersion()).toBe('v1');
    expect(await other.read({ versionId: 'v1' })).toBeUndefined(); // no value before createSecret

    time = T0 + 1000;
    await store.put('v1', '{"token":"new","previousToken":"old"}', [STAGE.pending]);
    expect(devToken()).toBe('old');
    await store.put('v2', '{"token":"new","previousToken":"old"}', [STAGE.current]);
    expect(await other.describe()).toEqual({
      rotationEnabled: true,
      versions: { [first as string]: [STAGE.previous], v1: [STAGE.pending], v2: [STAGE.current] },
    });
    expect(await other.read({ stage: STAGE.current })).toEqual({
      versionId: 'v2',
      value: '{"token":"new","previousToken":"old"}',
      createdAt: T0 + 1000,
    });
    expect(devToken()).toBe('new');

    // The same version again is a no-op; another value under its id is refused.
    await store.put('v2', '{"token":"new","previousToken":"old"}', [STAGE.current]);
    await expect(store.put('v2', '{"token":"other"}', [STAGE.current])).rejects.toThrow(
      /v2 .* exists with another value/,
    );

    await store.removeStage(STAGE.pending, 'v1');
    expect(other.pendingVersion()).toBeUndefined();
    expect(other.lastRotatedAt()).toBe(new Date(T0 + 1000).toISOString());
  });

  it('the fetcher serves a value for its cache period, and a fresh read always reads the file', async () => {
    const store = new LocalSecretStore(dataDir, { now });
    store.reset('old', 10);
    const fetch = store.fetcher(300_000);
    expect(parseSecretTokens(await fetch(false))).toEqual(['old']);

    await store.put('v2', '{"token":"new","previousToken":"old"}', [STAGE.current]);
    time = T0 + 299_999;
    expect(parseSecretTokens(await fetch(false))).toEqual(['old']);
    expect(parseSecretTokens(await fetch(true))).toEqual(['new', 'old']);

    await store.put('v3', '{"token":"newer"}', [STAGE.current]);
    time = T0 + 299_999 + 299_999;
    expect(parseSecretTokens(await fetch(false))).toEqual(['new', 'old']);
    time += 1;
    expect(parseSecretTokens(await fetch(false))).toEqual(['newer']);
  });

  it('a missing or unreadable file is an error naming the fix', async () => {
    const store = new LocalSecretStore(dataDir, { now });
    expect(() => store.currentToken()).toThrow(LocalSecretError);
    expect(() => store.currentToken()).toThrow(/npm start .*same KITEBRIDGE_DATA_DIR/);
    writeFileSync(localSecretFile(dataDir), 'not json');
    await expect(store.describe()).rejects.toThrow(/delete it and restart npm start/);
  });
});
