/**
 * Acceptance: on a generated history where a random 10% of build.finished deliveries are dropped,
 * every dropped build is published exactly once and no delivered build is published again.
 */
import fc from 'fast-check';
import { simulateReconciliation, type SimBuild } from '../../../support/reconcile-simulation';

const START = Date.parse('2026-12-01T00:00:00Z');
const SETTINGS = { lookbackMinutes: 60, graceMinutes: 3 };
const SCHEDULE_MINUTES = 5;

const history = fc
  .array(
    fc.record({
      finishedOffsetMs: fc.integer({ min: 0, max: 3 * 3_600_000 }),
      state: fc.constantFrom('passed' as const, 'failed' as const, 'canceled' as const),
      // A random 10%: each delivery is dropped when this draw is 0.
      dropDraw: fc.integer({ min: 0, max: 9 }),
      // Delivered webhooks arrive within the grace period (Buildkite usually delivers in seconds).
      deliveryDelayMs: fc.integer({ min: 0, max: SETTINGS.graceMinutes * 60_000 - 1 }),
      pipeline: fc.constantFrom('api', 'web', 'deploy'),
    }),
    { minLength: 1, maxLength: 400, size: 'max' },
  )
  .map((rows): SimBuild[] =>
    rows.map((row, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      number: i + 1,
      state: row.state,
      finishedAt: START + row.finishedOffsetMs,
      delivered: row.dropDraw !== 0,
      deliveryDelayMs: row.deliveryDelayMs,
      pipeline: row.pipeline,
    })),
  );

describe('reconciliation on a generated history with dropped deliveries', () => {
  it('publishes every dropped build exactly once and no delivered build', async () => {
    let droppedSeen = 0;
    let pagedRuns = 0;
    await fc.assert(
      fc.asyncProperty(history, async (builds) => {
        const result = await simulateReconciliation({
          builds,
          settings: SETTINGS,
          scheduleMinutes: SCHEDULE_MINUTES,
          startMs: START,
        });
        droppedSeen += result.dropped.size;
        if (result.apiCalls > result.runs) pagedRuns++;
        const keys = result.published.map((p) => p.key);
        expect(new Set(keys).size).toBe(keys.length); // exactly once
        expect(new Set(keys)).toEqual(result.dropped); // every dropped build, and only those
        for (const key of keys) expect(result.delivered.has(key)).toBe(false);
        // Found within one schedule interval after the grace period.
        for (const delay of result.detectionDelaysMs) {
          expect(delay).toBeGreaterThanOrEqual(SETTINGS.graceMinutes * 60_000);
          expect(delay).toBeLessThanOrEqual((SETTINGS.graceMinutes + SCHEDULE_MINUTES) * 60_000);
        }
      }),
      { numRuns: 40 },
    );
    // The property was exercised: drops happened, and some runs read more than one page.
    expect(droppedSeen).toBeGreaterThan(0);
    expect(pagedRuns).toBeGreaterThan(0);
  });

  it('publishes events shaped like the webhook body, marked as reconciled, with the key the delivery would carry', async () => {
    const build: SimBuild = {
      id: '00000000-0000-4000-8000-000000000001',
      number: 7,
      state: 'failed',
      finishedAt: START + 60_000,
      delivered: false,
      deliveryDelayMs: 0,
      pipeline: 'deploy',
    };
    const result = await simulateReconciliation({
      builds: [build],
      settings: SETTINGS,
      scheduleMinutes: 5,
      startMs: START,
    });

    expect(result.published).toHaveLength(1);
    const { entry } = result.published[0]!;
    expect(entry.source).toBe('buildkite');
    expect(entry.detailType).toBe('build.finished');
    const detail = JSON.parse(entry.detail) as Record<string, unknown>;
    expect(detail).toMatchObject({
      event: 'build.finished',
      build: {
        id: build.id,
        number: 7,
        state: 'failed',
        finished_at: new Date(build.finishedAt).toISOString(),
      },
      pipeline: { slug: 'deploy' },
      delivery: {
        dedupeKey: `build.finished:${build.id}:failed:${new Date(build.finishedAt).toISOString()}`,
        source: 'reconcile',
        auth: 'api',
        requestId: expect.stringMatching(/^run-/),
      },
    });
    // A webhook build carries no jobs and no pipeline inside it.
    expect(detail.build).not.toHaveProperty('jobs');
    expect(detail.build).not.toHaveProperty('pipeline');
  });
});
