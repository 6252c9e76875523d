import * as path from 'node:path';
import {
  DEFAULT_PORT,
  devTokenFile,
  envPrefix,
  LocalEnvError,
  PROJECT_ROOT,
  readDataDir,
  readHost,
  readPort,
  readSecretCacheSeconds,
  shellQuote,
} from '../../local/local-env';
import { thrownBy } from '../support/thrown';

const envError = (fn: () => unknown) => thrownBy(LocalEnvError, fn);

describe('readPort', () => {
  it.each([
    [undefined, DEFAULT_PORT],
    ['9000', 9000],
    ['0', 0],
    ['65535', 65535],
  ])('PORT=%s → %s', (value, port) => {
    expect(readPort(value === undefined ? {} : { PORT: value }, 'npm start')).toBe(port);
  });

  it.each([
    ['', /^PORT is set but empty\. .*PORT=8787 npm start$/],
    ['  ', /^PORT is set but empty\./],
    ['abc', /^PORT=abc is not a port number: use a whole number from 1 to 65535 .*PORT=8787 npm start$/],
    ['70000', /^PORT=70000 is not a port number/],
    ['-1', /^PORT=-1 is not a port number/],
    ['80.5', /^PORT=80\.5 is not a port number/],
    ['0x50', /^PORT=0x50 is not a port number/],
  ])('PORT=%j is an error that says what to do', (value, message) => {
    expect(envError(() => readPort({ PORT: value }, 'npm start')).message).toMatch(message);
  });

  it('names the command to run again', () => {
    expect(envError(() => readPort({ PORT: 'x' }, 'npm run send -- …')).message).toMatch(
      /PORT=8787 npm run send -- …$/,
    );
  });
});

describe('readHost', () => {
  it('defaults to 127.0.0.1 and refuses an empty HOST', () => {
    expect(readHost({})).toBe('127.0.0.1');
    expect(readHost({ HOST: '0.0.0.0' })).toBe('0.0.0.0');
    expect(envError(() => readHost({ HOST: '' })).message).toMatch(/HOST is set but empty/);
  });
});

describe('readSecretCacheSeconds', () => {
  it('defaults to 10 s and takes 0 to 3600; anything else names the deployed value', () => {
    expect(readSecretCacheSeconds({})).toBe(10);
    expect(readSecretCacheSeconds({ KITEBRIDGE_SECRET_CACHE_SECONDS: '0' })).toBe(0);
    expect(readSecretCacheSeconds({ KITEBRIDGE_SECRET_CACHE_SECONDS: '300' })).toBe(300);
    for (const bad of ['', '-1', '3601', '5m', '1.5']) {
      expect(
        envError(() => readSecretCacheSeconds({ KITEBRIDGE_SECRET_CACHE_SECONDS: bad })).message,
      ).toMatch(/from 0 to 3600 \(300 is the deployed verify function's\)/);
    }
  });
});

describe('readDataDir', () => {
  it('is .local-data in the project by default', () => {
    expect(readDataDir({})).toBe(path.join(PROJECT_ROOT, '.local-data'));
    expect(readDataDir({}, { projectRoot: '/p' })).toBe('/p/.local-data');
  });

  it('resolves a relative KITEBRIDGE_DATA_DIR from where the command was typed (INIT_CWD)', () => {
    expect(readDataDir({ KITEBRIDGE_DATA_DIR: 'data', INIT_CWD: '/home/me/work' })).toBe(
      '/home/me/work/data',
    );
    expect(readDataDir({ KITEBRIDGE_DATA_DIR: '/abs/data', INIT_CWD: '/elsewhere' })).toBe('/abs/data');
    expect(readDataDir({ KITEBRIDGE_DATA_DIR: 'data' }, { cwd: '/c' })).toBe('/c/data');
  });

  it('refuses an empty KITEBRIDGE_DATA_DIR', () => {
    expect(envError(() => readDataDir({ KITEBRIDGE_DATA_DIR: '' })).message).toMatch(
      /KITEBRIDGE_DATA_DIR is set but empty/,
    );
  });

  it('keeps the dev token in the data folder', () => {
    expect(devTokenFile('/d')).toBe('/d/dev-token');
  });
});

describe('envPrefix', () => {
  it.each([
    [{}, { port: 8787, dataDir: '/x' }, ''],
    [{ PORT: '0' }, { port: 41234, dataDir: '/x' }, 'PORT=41234 '],
    [{ KITEBRIDGE_DATA_DIR: 'rel' }, { port: 8787, dataDir: '/abs/rel' }, 'KITEBRIDGE_DATA_DIR=/abs/rel '],
    [
      { PORT: '9000', KITEBRIDGE_DATA_DIR: 'x' },
      { port: 9000, dataDir: "/tmp/it's here" },
      `PORT=9000 KITEBRIDGE_DATA_DIR='/tmp/it'\\''s here' `,
    ],
    [{ PORT: '9000', KITEBRIDGE_DATA_DIR: '/d' }, { dataDir: '/d' }, 'KITEBRIDGE_DATA_DIR=/d '],
  ])('env %j, values %j → %j', (env, values, prefix) => {
    expect(envPrefix(env, values)).toBe(prefix);
  });

  it('quotes only what the shell would split or expand', () => {
    expect(shellQuote('/tmp/kb-data_1.2')).toBe('/tmp/kb-data_1.2');
    expect(shellQuote('/tmp/a b')).toBe("'/tmp/a b'");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
  });
});
