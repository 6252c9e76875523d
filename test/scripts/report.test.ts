import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { toRecord } from '../../lambda/analytics/to-record';
import { horizontalBars, renderReport, runNamedQueries, verticalBars } from '../../scripts/report';

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../fixtures/buildkite', `${name}.json`), 'utf8'),
  ) as Record<string, unknown>;

function recordOf(name: string, n: number) {
  return toRecord({
    version: '0',
    id: `id-${name}-${n}`,
    'detail-type': name,
    source: 'buildkite',
    account: '1',
    time: new Date().toISOString(),
    region: 'local',
    resources: [],
    detail: {
      ...fixture(name),
      delivery: { receivedAt: new Date().toISOString(), dedupeKey: `${name}-${n}` },
    },
  });
}

describe('report', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'analytics-report-'));
    mkdirSync(path.join(dataDir, 'analytics'));
    const records = ['build.finished', 'job.started', 'job.finished', 'agent.lost', 'ping'].map(recordOf);
    writeFileSync(
      path.join(dataDir, 'analytics', 'records.jsonl'),
      records.map((r) => JSON.stringify(r)).join('\n') + '\n',
    );
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('renders a self-contained page with a chart per query, showing the recorded pipeline and queue', async () => {
    const results = await runNamedQueries(path.join(dataDir, 'analytics', 'records.jsonl'));
    const html = renderReport(results, {
      generatedAt: new Date(0),
      recordsFile: 'records.jsonl',
      recordCount: 5,
    });
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html.match(/<svg /g)?.length).toBe(4); // flaky jobs: none in the fixtures
    expect(html).toContain('deploy-api (1 builds)');
    expect(html).toContain('deploy-api · main (1/1)');
    expect(html).toContain('linux-arm64');
    expect(html).toContain('No data yet.');
  });

  it('escapes labels and scales bars to the largest value', () => {
    const svg = horizontalBars(
      [
        { label: '<b>', values: [1] },
        { label: 'x', values: [2] },
      ],
      [{ name: 's', color: '#000' }],
      String,
    );
    expect(svg).toContain('&#60;b&#62;');
    expect(svg).toMatch(/width="230\.0"[^>]*>.*width="460\.0"/);
    expect(verticalBars([], [], String)).toContain('No data yet.');
  });

  it('`npm run report` writes <dataDir>/report.html', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '../../scripts/report.ts')],
      {
        env: { ...process.env, KITEBRIDGE_DATA_DIR: dataDir },
        encoding: 'utf8',
      },
    );
    expect(out).toContain('Report written to');
    expect(existsSync(path.join(dataDir, 'report.html'))).toBe(true);
    expect(readFileSync(path.join(dataDir, 'report.html'), 'utf8')).toContain('5 records');
  });

  it('runs every query over Test Engine monitor records and records written before their columns existed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'analytics-report-te-'));
    try {
      const now = new Date().toISOString();
      const monitor = toRecord({
        version: '0',
        id: 'te-1',
        'detail-type': 'workflow.passed_on_retry',
        source: 'buildkite',
        account: '1',
        time: now,
        region: 'local',
        resources: [],
        detail: { type: 'passed_on_retry', timestamp: now, delivery: { receivedAt: now, dedupeKey: 'te-1' } },
      });
      // A version-1 record from before monitor_type, test_id and test_url were added.
      const older: Record<string, unknown> = { ...recordOf('build.finished', 9) };
      for (const column of ['monitor_type', 'test_id', 'test_url']) delete older[column];
      const file = path.join(dir, 'records.jsonl');
      writeFileSync(file, [monitor, older].map((r) => JSON.stringify(r)).join('\n') + '\n');
      const results = await runNamedQueries(file);
      expect(results.buildTime).toEqual([expect.objectContaining({ pipeline: 'deploy-api', builds: 1 })]);
      const html = renderReport(results, { generatedAt: new Date(0), recordsFile: file, recordCount: 2 });
      expect(html).toContain('deploy-api (1 builds)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
