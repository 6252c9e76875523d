import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { AnalyticsApp } from '../../lambda/analytics/app';
import type { RecordSink } from '../../lambda/analytics/ports';
import type { AnalyticsRecord } from '../../lambda/analytics/record';
import { ANALYTICS_PATTERN, LOCAL_RECORDS_PATH } from '../../lambda/analytics/rules';
import { SkipReporter } from '../../lambda/shared/skipped';
import { FileBodyReader, localBodyFolder } from '../adapters/files';
import type { LocalRule } from '../local-bus';
import { reportToConsole } from '../console/journal';

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

/** The records written, also shown in the local console. */
function reportedSink<R>(sink: RecordSink<R>): RecordSink<R> {
  return {
    put: async (records) => {
      await sink.put(records);
      if (records.length > 0) reportToConsole({ kind: 'analytics', records });
    },
  };
}

export interface LocalAnalyticsOptions {
  /**
   * Records go to `<dataDir>/analytics/records.jsonl` (`npm run report` reads them); oversized
   * bodies are read from where the local gateway stores them under it.
   */
  readonly dataDir: string;
  /** One line per skipped delivery. @default console.log */
  readonly log?: (line: string) => void;
}

/**
 * The analytics consumer on the local bus: the deployed pattern and the deployed app, with
 * records appended to a JSON-lines file instead of Firehose, oversized bodies read from the local
 * body folder instead of S3, and skipped deliveries printed (no metrics locally).
 */
export function analyticsLocalRules(options: LocalAnalyticsOptions): LocalRule[] {
  const print = options.log ?? ((text: string) => console.log(text));
  const app = new AnalyticsApp({
    sink: reportedSink(new JsonLinesRecordSink<AnalyticsRecord>(localRecordsFile(options.dataDir))),
    bodies: new FileBodyReader(localBodyFolder(options.dataDir)),
    skips: new SkipReporter({
      warn: (message, attributes) => {
        reportToConsole({ kind: 'skipped', consumer: 'analytics', message, attributes });
        print(`[analytics] ${message} ${JSON.stringify(attributes)}`);
      },
    }),
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
