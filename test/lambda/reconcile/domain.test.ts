import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  candidates,
  parseApiTime,
  reconciledEntry,
  reconcileWindow,
  webhookBody,
} from '../../../lambda/reconcile/domain';
import type { ApiBuild } from '../../../lambda/reconcile/ports';
import { buildFinishedDedupeKey, entrySize, INLINE_ENTRY_LIMIT_BYTES } from '../../../lambda/shared/contract';

const webhook = JSON.parse(
  readFileSync(path.join(__dirname, '../../../fixtures/buildkite/build.finished.json'), 'utf8'),
) as { event: string; build: Record<string, unknown>; pipeline: Record<string, unknown> };
/** The builds API's object for the fixture's build: the webhook build plus its jobs and pipeline. */
const apiBuild = {
  ...webhook.build,
  jobs: [{ id: 'j1', type: 'script' }],
  pipeline: webhook.pipeline,
} as unknown as ApiBuild;
const NOW = new Date('2026-06-03T04:30:00.000Z');

describe('reconcileWindow', () => {
  it('spans the look-back, less the grace period', () => {
    expect(reconcileWindow(NOW, { lookbackMinutes: 60, graceMinutes: 3 })).toEqual({
      from: new Date('2026-06-03T03:30:00.000Z'),
      until: new Date('2026-06-03T04:27:00.000Z'),
    });
  });
});

describe('parseApiTime', () => {
  it.each([
    ['2026-06-03T04:16:03.015Z', '2026-06-03T04:16:03.015Z'],
    ['2018-07-01 20:14:38 UTC', '2018-07-01T20:14:38.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseApiTime(text)?.toISOString()).toBe(iso);
  });
  it.each([[null], [undefined], [''], ['soon'], [42]])('gives nothing for %j', (value) => {
    expect(parseApiTime(value)).toBeUndefined();
  });
});

describe('candidates', () => {
  const window = reconcileWindow(NOW, { lookbackMinutes: 60, graceMinutes: 3 });
  it('keys a finished build in the window exactly as the verify function keys its delivery', () => {
    expect(candidates([apiBuild], window)).toEqual([
      { build: apiBuild, key: buildFinishedDedupeKey(webhook.build) },
    ]);
  });
  it.each([
    ['blocked', { blocked: true }],
    ['not finished', { state: 'running' }],
    ['skipped (build.skipped, not build.finished)', { state: 'skipped' }],
    ['finished after the grace cut-off', { finished_at: '2026-06-03T04:28:00Z' }],
    ['finished before the window', { finished_at: '2026-06-03T03:00:00Z' }],
    ['without finished_at', { finished_at: null }],
  ])('leaves out a build %s', (_what, change) => {
    expect(candidates([{ ...apiBuild, ...change } as ApiBuild], window)).toEqual([]);
  });
});

describe('the published event', () => {
  it('is the webhook body Buildkite would have sent, less the sender it cannot know', () => {
    const expected: Record<string, unknown> = { ...webhook };
    delete expected.sender;
    expect(webhookBody(apiBuild)).toEqual(expected);
  });

  it('is a buildkite build.finished with reconcile delivery metadata and the delivery key', () => {
    const key = buildFinishedDedupeKey(apiBuild)!;
    const entry = reconciledEntry(apiBuild, key, { now: NOW, runId: 'run-1' });
    expect(entry.source).toBe('buildkite');
    expect(entry.detailType).toBe('build.finished');
    expect(entry.time).toBeUndefined();
    expect(JSON.parse(entry.detail).delivery).toEqual({
      receivedAt: NOW.toISOString(),
      requestId: 'run-1',
      dedupeKey: key,
      auth: 'api',
      source: 'reconcile',
    });
  });

  it('fits EventBridge: a huge pipeline is cut to its identifying fields, then the build to its essentials', () => {
    const huge = 'x'.repeat(300 * 1024);
    const big = { ...apiBuild, pipeline: { ...webhook.pipeline, configuration: huge } } as ApiBuild;
    const entry = reconciledEntry(big, 'k', { now: NOW, runId: 'r' });
    expect(entrySize(entry)).toBeLessThanOrEqual(INLINE_ENTRY_LIMIT_BYTES);
    expect(JSON.parse(entry.detail).pipeline).toEqual({
      id: webhook.pipeline.id,
      graphql_id: webhook.pipeline.graphql_id,
      url: webhook.pipeline.url,
      web_url: webhook.pipeline.web_url,
      name: webhook.pipeline.name,
      slug: webhook.pipeline.slug,
      repository: webhook.pipeline.repository,
      default_branch: webhook.pipeline.default_branch,
    });

    const bigBuild = { ...apiBuild, env: { BLOB: huge }, message: huge } as ApiBuild;
    const slim = JSON.parse(reconciledEntry(bigBuild, 'k', { now: NOW, runId: 'r' }).detail);
    expect(slim.build.env).toBeUndefined();
    expect(slim.build.message).toHaveLength(1000);
    expect(slim.build.id).toBe(webhook.build.id);
  });
});
