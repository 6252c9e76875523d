import { BUILDKITE_SOURCE, type EventPatternJson } from '../shared/contract';

/** Every Buildkite event, all families: the analytics rule on the bus, deployed and local. */
export const ANALYTICS_PATTERN: EventPatternJson = { source: [BUILDKITE_SOURCE] };

/** Where the local consumer appends records, under the local data folder. */
export const LOCAL_RECORDS_PATH = ['analytics', 'records.jsonl'] as const;
