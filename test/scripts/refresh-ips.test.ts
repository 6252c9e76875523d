import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseWebhookIps, prettierFormatter, refreshIps, updateConfig } from '../../scripts/refresh-ips';

describe('normaliseWebhookIps', () => {
  const valid: Array<[string, unknown[], string[]]> = [
    ['bare IPv4 becomes /32', ['198.51.100.12'], ['198.51.100.12/32']],
    ['IPv4 CIDR kept', ['192.0.2.0/24'], ['192.0.2.0/24']],
    ['IPv4 host bits kept as given', ['192.0.2.7/24'], ['192.0.2.7/24']],
    ['IPv4 /0 and /32', ['0.0.0.0/0', '203.0.113.9/32'], ['0.0.0.0/0', '203.0.113.9/32']],
    ['bare IPv6 becomes /128, compact', ['2001:0db8:0000:0000:0000:0000:0000:0001'], ['2001:db8::1/128']],
    ['IPv6 CIDR lowercased and compacted', ['2001:DB8:0:0::/32'], ['2001:db8::/32']],
    ['IPv6 /0', ['::/0'], ['::/0']],
    ['bare and /32 forms are duplicates', ['192.0.2.1', '192.0.2.1/32'], ['192.0.2.1/32']],
    [
      'IPv6 spellings that are the same address are duplicates',
      ['2001:db8::1', '2001:DB8:0::1/128'],
      ['2001:db8::1/128'],
    ],
    ['exact duplicates removed', ['192.0.2.0/24', '192.0.2.0/24'], ['192.0.2.0/24']],
    [
      'same address, different prefixes both kept',
      ['192.0.2.0/24', '192.0.2.0/25'],
      ['192.0.2.0/24', '192.0.2.0/25'],
    ],
    [
      'IPv4 first, then IPv6, each sorted lexically',
      ['2001:db8::2', '203.0.113.0/24', '2001:db8::1', '192.0.2.0/24', '10.0.0.1'],
      ['10.0.0.1/32', '192.0.2.0/24', '203.0.113.0/24', '2001:db8::1/128', '2001:db8::2/128'],
    ],
  ];
  it.each(valid)('%s', (_name, input, expected) => {
    expect(normaliseWebhookIps({ webhook_ips: input })).toEqual(expected);
  });

  it('ignores other fields of the response', () => {
    expect(normaliseWebhookIps({ webhook_ips: ['192.0.2.1'], other: [1, 2] })).toEqual(['192.0.2.1/32']);
  });

  const invalidEntries: Array<[string, unknown[], RegExp]> = [
    ['not an address', ['192.0.2.0/24', 'example.com'], /entry 1 \("example\.com"\).*unrecognised address/],
    ['IPv4 octet out of range', ['256.1.1.1'], /entry 0 \("256\.1\.1\.1"\)/],
    ['IPv4 prefix too long', ['192.0.2.0/33'], /entry 0 \("192\.0\.2\.0\/33"\).*prefix length must be 0-32/],
    [
      'IPv6 prefix too long',
      ['2001:db8::/129'],
      /entry 0 \("2001:db8::\/129"\).*prefix length must be 0-128/,
    ],
    ['negative prefix', ['192.0.2.0/-1'], /entry 0 .*prefix length/],
    ['empty prefix', ['192.0.2.0/'], /entry 0 .*prefix length/],
    ['prefix with leading zero', ['192.0.2.0/024'], /entry 0 .*prefix length/],
    ['two slashes', ['192.0.2.0/24/8'], /entry 0 .*prefix length/],
    ['short legacy IPv4 form', ['10.1'], /entry 0 \("10\.1"\).*only dotted-quad/],
    ['octal-looking IPv4', ['010.0.0.1'], /entry 0 .*only dotted-quad/],
    ['IPv6 zone id', ['fe80::1%eth0'], /entry 0 .*zone id/],
    ['surrounding whitespace', [' 192.0.2.1'], /entry 0 \(" 192\.0\.2\.1"\)/],
    ['empty string', [''], /entry 0 \(""\)/],
    ['number entry', ['192.0.2.1', 42], /entry 1 \(42\) is a number, not a string/],
    ['null entry', [null], /entry 0 \(null\) is null, not a string/],
    ['object entry', [{ ip: '192.0.2.1' }], /entry 0 .* is a object, not a string/],
  ];
  it.each(invalidEntries)('rejects %s', (_name, input, message) => {
    expect(() => normaliseWebhookIps({ webhook_ips: input })).toThrow(message);
  });

  const wrongShapes: Array<[string, unknown, RegExp]> = [
    ['empty list', { webhook_ips: [] }, /"webhook_ips" is empty/],
    ['missing list', { ips: ['192.0.2.1'] }, /no "webhook_ips" field/],
    ['list is a string', { webhook_ips: '192.0.2.1' }, /"webhook_ips" is a string, expected an array/],
    ['list is null', { webhook_ips: null }, /"webhook_ips" is null, expected an array/],
    [
      'list is an object',
      { webhook_ips: { a: '192.0.2.1' } },
      /"webhook_ips" is a object, expected an array/,
    ],
    ['top level is an array', ['192.0.2.1'], /expected a JSON object .* got an array/],
    ['top level is null', null, /expected a JSON object .* got null/],
    ['top level is a string', 'webhook_ips', /expected a JSON object .* got a string/],
  ];
  it.each(wrongShapes)('rejects %s', (_name, input, message) => {
    expect(() => normaliseWebhookIps(input)).toThrow(message);
  });
});

/** The project's own layout (prettier with .prettierrc.json): objects open, short arrays on one line. */
const SAMPLE_CONFIG = `{
  "app": "npx tsx bin/kitebridge.ts",
  "watch": {
    "include": ["**"],
    "exclude": ["cdk.out"]
  },
  "context": {
    "@aws-cdk/core:stackRelativeExports": true,
    "webhookIps": ["192.0.2.0/24", "198.51.100.12/32"],
    "stage": "dev",
    "nested": { "b": 1, "a": [1, 2, { "z": null }] }
  },
  "zLast": "kept last"
}
`;

const ROOT = join(__dirname, '..', '..');
/** Lays JSON out as `prettier --check cdk.json` expects in this project. */
const projectPrettier = prettierFormatter(join(ROOT, 'cdk.json'));
const passesPrettier = (text: string) => projectPrettier(text) === text;

/** The lines of `after` that are not lines of `before` at the same place, and the reverse. */
function changedLines(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a.at(-1 - tail) === b.at(-1 - tail)) tail++;
  return { removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
}

describe('updateConfig', () => {
  it('changes only the webhookIps line and keeps every other byte; the result passes prettier', () => {
    expect(passesPrettier(SAMPLE_CONFIG)).toBe(true);
    const { text, added, removed } = updateConfig(
      SAMPLE_CONFIG,
      ['192.0.2.0/24', '203.0.113.0/24'],
      projectPrettier,
    );
    expect(added).toEqual(['203.0.113.0/24']);
    expect(removed).toEqual(['198.51.100.12/32']);
    expect(changedLines(SAMPLE_CONFIG, text)).toEqual({
      removed: ['    "webhookIps": ["192.0.2.0/24", "198.51.100.12/32"],'],
      added: ['    "webhookIps": ["192.0.2.0/24", "203.0.113.0/24"],'],
    });
    expect(passesPrettier(text)).toBe(true);
  });

  it('breaks a list too long for one line one entry per line, as prettier does', () => {
    const ips = Array.from({ length: 8 }, (_, i) => `203.0.113.${i}/32`);
    const { text } = updateConfig(SAMPLE_CONFIG, ips, projectPrettier);
    expect(changedLines(SAMPLE_CONFIG, text)).toEqual({
      removed: ['    "webhookIps": ["192.0.2.0/24", "198.51.100.12/32"],'],
      added: ['    "webhookIps": [', ...ips.map((ip, i) => `      "${ip}"${i < 7 ? ',' : ''}`), '    ],'],
    });
    expect(passesPrettier(text)).toBe(true);
  });

  it('edits the project cdk.json on its webhookIps line only, and it still passes prettier', () => {
    const cdkJson = readFileSync(join(ROOT, 'cdk.json'), 'utf8');
    const { text } = updateConfig(cdkJson, ['192.0.2.0/24', '2001:db8::/32'], projectPrettier);
    const { removed, added } = changedLines(cdkJson, text);
    expect(removed).toEqual([expect.stringMatching(/^ {4}"webhookIps": \[.*\],$/)]);
    expect(added).toEqual(['    "webhookIps": ["192.0.2.0/24", "2001:db8::/32"],']);
    expect(passesPrettier(text)).toBe(true);
  });

  it('returns the very input when the list is the same, without calling the formatter', () => {
    const format = jest.fn((text: string) => text);
    const result = updateConfig(SAMPLE_CONFIG, ['192.0.2.0/24', '198.51.100.12/32'], format);
    expect(result).toEqual({ text: SAMPLE_CONFIG, added: [], removed: [] });
    expect(format).not.toHaveBeenCalled();
  });

  it('keeps a config with unusual formatting (tabs, CRLF, odd spacing, no final newline)', () => {
    const odd =
      '{\r\n\t"context" : {\r\n\t\t"b":[1,2],   "webhookIps" : [ "192.0.2.1/32" ],\r\n' +
      '\t\t"c"   :  { "d" :true }\r\n\t},\r\n\t"app":"x"}';
    const { text } = updateConfig(odd, ['192.0.2.1/32', '198.51.100.0/24'], projectPrettier);
    expect(text).toBe(
      '{\r\n\t"context" : {\r\n\t\t"b":[1,2],   "webhookIps" : ["192.0.2.1/32", "198.51.100.0/24"],\r\n' +
        '\t\t"c"   :  { "d" :true }\r\n\t},\r\n\t"app":"x"}',
    );
  });

  it('re-indents a broken list to where it sits in a file indented otherwise', () => {
    const fourSpaces = '{\n    "context": {\n        "webhookIps": [],\n        "stage": "dev"\n    }\n}\n';
    const ips = Array.from({ length: 8 }, (_, i) => `198.51.100.${i}/32`);
    const { text } = updateConfig(fourSpaces, ips, projectPrettier);
    expect(text).toBe(
      `{\n    "context": {\n        "webhookIps": [\n${ips.map((ip) => `          "${ip}"`).join(',\n')}\n` +
        '        ],\n        "stage": "dev"\n    }\n}\n',
    );
  });

  it('adds a missing webhookIps last in a multi-line context, indented like the file', () => {
    const config = '{\n    "context": {\n        "stage": "dev"\n    },\n    "app": "x"\n}\n';
    const result = updateConfig(config, ['192.0.2.1/32'], projectPrettier);
    expect(result.text).toBe(
      '{\n    "context": {\n        "stage": "dev",\n        "webhookIps": ["192.0.2.1/32"]\n    },\n    "app": "x"\n}\n',
    );
    expect(result.added).toEqual(['192.0.2.1/32']);
    expect(result.removed).toEqual([]);
  });

  it('adds a missing webhookIps to a one-line context on that line', () => {
    const result = updateConfig('{"context":{"a":1}}', ['192.0.2.1/32'], projectPrettier);
    expect(result.text).toBe('{"context":{"a":1,"webhookIps": ["192.0.2.1/32"]}}');
  });

  it("takes only the formatter's layout of the list, nothing else it would change", () => {
    // A formatter that rewrites the whole document its own way (2-space JSON.stringify).
    const restyle = (text: string) => `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
    const config = '{\n  "context": {"webhookIps": ["192.0.2.1/32"],  "x":[1,2]}\n}\n';
    const { text } = updateConfig(config, ['192.0.2.1/32', '192.0.2.2/32'], restyle);
    expect(text).toBe(
      '{\n  "context": {"webhookIps": [\n    "192.0.2.1/32",\n    "192.0.2.2/32"\n  ],  "x":[1,2]}\n}\n',
    );
  });

  const badConfigs: Array<[string, string, RegExp]> = [
    ['invalid JSON', '{"context": {', /not valid JSON/],
    ['empty file', '', /not valid JSON/],
    ['a JSON array', '[]', /holds an array, not a JSON object/],
    ['no context', '{"app": "x"}', /no "context" object \(it is missing\)/],
    ['context is not an object', '{"context": []}', /no "context" object \(it is an array\)/],
    ['context is null', '{"context": null}', /no "context" object \(it is null\)/],
    [
      'webhookIps twice',
      '{"context": {"webhookIps": ["192.0.2.9/32"], "webhookIps": []}}',
      /"webhookIps" 2 times in "context"; keep one/,
    ],
    ['context twice', '{"context": {}, "context": {}}', /"context" 2 times at the top level; keep one/],
  ];
  it.each(badConfigs)('rejects %s', (_name, text, message) => {
    expect(() => updateConfig(text, ['192.0.2.1/32'], (t) => t)).toThrow(message);
  });
});

describe('refreshIps against a local HTTP server', () => {
  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  let server: Server | undefined;
  let dir: string;
  let configPath: string;

  async function serve(handler: Handler): Promise<string> {
    server = createServer(handler);
    const s = server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = s.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v2/meta`;
  }

  const json =
    (status: number, body: string): Handler =>
    (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refresh-ips-'));
    configPath = join(dir, 'cdk.json');
    writeFileSync(configPath, SAMPLE_CONFIG);
    // As in the project: the prettier config next to cdk.json decides the list's layout.
    copyFileSync(join(ROOT, '.prettierrc.json'), join(dir, '.prettierrc.json'));
  });

  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the normalised list and reports what changed', async () => {
    const requests: Array<{ method?: string; url?: string; accept?: string }> = [];
    const url = await serve((req, res) => {
      requests.push({ method: req.method, url: req.url, accept: req.headers.accept });
      json(
        200,
        JSON.stringify({ webhook_ips: ['2001:DB8::1', '203.0.113.0/24', '192.0.2.0/24', '192.0.2.0/24'] }),
      )(req, res);
    });

    const result = await refreshIps({ url, configPath });

    const expected = ['192.0.2.0/24', '203.0.113.0/24', '2001:db8::1/128'];
    expect(result).toEqual({
      ips: expected,
      added: ['203.0.113.0/24', '2001:db8::1/128'],
      removed: ['198.51.100.12/32'],
      changed: true,
    });
    expect(requests).toEqual([{ method: 'GET', url: '/v2/meta', accept: 'application/json' }]);
    const written = readFileSync(configPath, 'utf8');
    expect(JSON.parse(written).context.webhookIps).toEqual(expected);
    expect(changedLines(SAMPLE_CONFIG, written)).toEqual({
      removed: ['    "webhookIps": ["192.0.2.0/24", "198.51.100.12/32"],'],
      added: ['    "webhookIps": ["192.0.2.0/24", "203.0.113.0/24", "2001:db8::1/128"],'],
    });
    // `prettier --check` on the file where it is: what `npm run lint` does to cdk.json.
    expect(prettierFormatter(configPath)(written)).toBe(written);
    // No temporary files left behind.
    expect(readdirSync(dir).sort()).toEqual(['.prettierrc.json', 'cdk.json']);
  });

  it('does not touch the file (same bytes, inode and mtime) when the list is the same', async () => {
    // A modification time in the past: any write, even of the same bytes, would move it to now.
    const past = new Date('2001-02-03T04:05:06Z');
    utimesSync(configPath, past, past);
    const before = statSync(configPath);
    const url = await serve(json(200, JSON.stringify({ webhook_ips: ['198.51.100.12', '192.0.2.0/24'] })));
    const result = await refreshIps({ url, configPath });
    expect(result).toEqual({
      ips: ['192.0.2.0/24', '198.51.100.12/32'],
      added: [],
      removed: [],
      changed: false,
    });
    const after = statSync(configPath);
    expect(readFileSync(configPath, 'utf8')).toBe(SAMPLE_CONFIG);
    expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: past.getTime() });
  });

  it('keeps a cdk.json with unusual formatting, changing only the list', async () => {
    const odd = '{"app":"x",\n\n    "context" :{ "webhookIps":[\n"192.0.2.1/32"\n],\n  "n" : [ 1,2 ] } }';
    writeFileSync(configPath, odd);
    const url = await serve(json(200, JSON.stringify({ webhook_ips: ['192.0.2.1', '192.0.2.2'] })));
    await expect(refreshIps({ url, configPath })).resolves.toMatchObject({ changed: true });
    expect(readFileSync(configPath, 'utf8')).toBe(
      '{"app":"x",\n\n    "context" :{ "webhookIps":["192.0.2.1/32", "192.0.2.2/32"],\n  "n" : [ 1,2 ] } }',
    );
  });

  const failures: Array<[string, Handler, RegExp]> = [
    ['HTTP 500', json(500, '{"message":"boom"}'), /answered HTTP 500 Internal Server Error, expected 200/],
    ['HTTP 404', json(404, '{}'), /answered HTTP 404 Not Found, expected 200/],
    ['invalid JSON', json(200, '<html>not json</html>'), /did not return valid JSON/],
    ['an empty list', json(200, '{"webhook_ips": []}'), /unusable answer from .*: "webhook_ips" is empty/],
    ['no list', json(200, '{"ips": ["192.0.2.1"]}'), /no "webhook_ips" field/],
    [
      'an invalid entry',
      json(200, '{"webhook_ips": ["192.0.2.0/24", "not-an-ip"]}'),
      /webhook_ips entry 1 \("not-an-ip"\) is not a valid IP address or CIDR/,
    ],
  ];
  it.each(failures)('rejects %s and leaves the file byte-identical', async (_name, handler, message) => {
    const url = await serve(handler);
    await expect(refreshIps({ url, configPath })).rejects.toThrow(message);
    expect(readFileSync(configPath, 'utf8')).toBe(SAMPLE_CONFIG);
    expect(readdirSync(dir).sort()).toEqual(['.prettierrc.json', 'cdk.json']);
  });

  it('times out on a server that never answers and leaves the file byte-identical', async () => {
    const url = await serve(() => {
      // Never respond.
    });
    await expect(refreshIps({ url, configPath, timeoutMs: 200 })).rejects.toThrow(
      /timed out after 0\.2s waiting for http:\/\/127\.0\.0\.1:\d+\/v2\/meta/,
    );
    // No wall-clock bound: were the timeout ignored, the request would hang and jest's timeout fail the test.
    expect(readFileSync(configPath, 'utf8')).toBe(SAMPLE_CONFIG);
  });

  it('times out on a server that sends headers but never finishes the body', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"webhook_ips": [');
    });
    await expect(refreshIps({ url, configPath, timeoutMs: 200 })).rejects.toThrow(/timed out after 0\.2s/);
    expect(readFileSync(configPath, 'utf8')).toBe(SAMPLE_CONFIG);
  });

  it('reports a refused connection', async () => {
    const url = await serve(json(200, '{}'));
    const s = server as Server;
    server = undefined;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    await expect(refreshIps({ url, configPath })).rejects.toThrow(/could not fetch .*\(ECONNREFUSED\)/);
    expect(readFileSync(configPath, 'utf8')).toBe(SAMPLE_CONFIG);
  });

  it.each(['not a url', 'ftp://127.0.0.1/meta', ''])(
    'rejects the URL %j before doing anything',
    async (url) => {
      await expect(refreshIps({ url, configPath })).rejects.toThrow(
        /is not an http\(s\) URL; fix --url or BUILDKITE_META_URL/,
      );
      expect(readFileSync(configPath, 'utf8')).toBe(SAMPLE_CONFIG);
    },
  );

  it('fails on a missing config file without contacting the server', async () => {
    let hits = 0;
    const url = await serve((req, res) => {
      hits++;
      json(200, '{"webhook_ips": ["192.0.2.1"]}')(req, res);
    });
    const missing = join(dir, 'nope.json');
    await expect(refreshIps({ url, configPath: missing })).rejects.toThrow(
      /config file .*nope\.json not found; run from the project root or pass --config PATH/,
    );
    expect(hits).toBe(0);
  });

  it('fails on a config without a context object and leaves it byte-identical', async () => {
    const original = '{\n  "app": "x"\n}\n';
    writeFileSync(configPath, original);
    const url = await serve(json(200, '{"webhook_ips": ["192.0.2.1"]}'));
    await expect(refreshIps({ url, configPath })).rejects.toThrow(
      /config file .*cdk\.json: .*no "context" object/,
    );
    expect(readFileSync(configPath, 'utf8')).toBe(original);
  });

  it('uses the injected fetch implementation', async () => {
    const fetchImpl = jest.fn(
      async () =>
        new Response(JSON.stringify({ webhook_ips: ['198.51.100.12', '192.0.2.0/24'] }), { status: 200 }),
    );
    const result = await refreshIps({
      url: 'https://meta.invalid/v2/meta',
      configPath,
      fetchImpl: fetchImpl as unknown as typeof fetch,
    });
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    expect(result.changed).toBe(false);
  });
});
