import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { toRecord } from '../../lambda/analytics/to-record';
import { analyticsLocalRules, localRecordsFile } from '../../local/consumers/analytics';
import { LocalBus } from '../../local/local-bus';

const fixture = (name: string) =>
  readFileSync(path.join(__dirname, '../../fixtures/buildkite', `${name}.json`), 'utf8');

describe('local analytics consumer', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(path.join(tmpdir(), 'analytics-local-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('appends the deployed toRecord output of every Buildkite event as JSON lines', async () => {
    const delivered: Parameters<typeof toRecord>[0][] = [];
    const bus = new LocalBus({
      rules: [
        ...analyticsLocalRules({ dataDir }),
        { id: 'Spy', pattern: { source: ['buildkite'] }, target: (e) => void delivered.push(e) },
      ],
    });
    for (const name of ['build.finished', 'job.started', 'agent.lost']) {
      const detail = {
        ...(JSON.parse(fixture(name)) as object),
        delivery: { receivedAt: new Date().toISOString(), dedupeKey: name },
      };
      await bus.publish({ source: 'buildkite', detailType: name, detail: JSON.stringify(detail) });
    }
    await bus.publish({ source: 'kitebridge.trigger', detailType: 'trigger.x', detail: '{"trigger":"x"}' });
    await bus.drain();
    const lines = readFileSync(localRecordsFile(dataDir), 'utf8').trim().split('\n');
    expect(localRecordsFile(dataDir)).toBe(path.join(dataDir, 'analytics', 'records.jsonl'));
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(
      expect.arrayContaining(delivered.map((event) => toRecord(event))),
    );
    expect(lines).toHaveLength(3);
  });
});
