import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { AnalyticsApp } from '../../lambda/analytics/app';
import type { RecordSink } from '../../lambda/analytics/firehose';
import type { AnalyticsRecord } from '../../lambda/analytics/record';
import { ANALYTICS_PATTERN, LOCAL_RECORDS_PATH } from '../../lambda/analytics/rules';
import type { LocalRule } from '../local-bus';

/** Where the local analytics consumer appends records under `dataDir`. */
export function localRecordsFile(dataDir: string): string {
  return path.join(dataDir, ...LOCAL_RECORDS_PATH);
}

/** Appends each record as one JSON line, the local stand-in for Firehose. */
export class JsonLinesRecordSink<R> implements RecordSink<R> {
  constructor(private readonly file: string) {}

  async put(records: readonly R[]): Promise<void> {
    if (records.length === 0) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    appendFileSync(this.file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}

export interface LocalAnalyticsOptions {
  /** Records go to `<dataDir>/analytics/records.jsonl`; `npm run report` reads them. */
  readonly dataDir: string;
}

/**
 * The analytics consumer on the local bus: the deployed pattern and the deployed `toRecord`, with
 * records appended to a JSON-lines file instead of Firehose (no metrics locally).
 */
export function analyticsLocalRules(options: LocalAnalyticsOptions): LocalRule[] {
  const app = new AnalyticsApp({
    sink: new JsonLinesRecordSink<AnalyticsRecord>(localRecordsFile(options.dataDir)),
  });
  return [
    {
      id: 'Analytics',
      pattern: ANALYTICS_PATTERN,
      target: async (event) => {
        await app.handle(event);
      },
    },
  ];
}
