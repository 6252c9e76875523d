import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildFinishedDedupeKey } from '../../../lambda/shared/contract';

const fixture = JSON.parse(
  readFileSync(path.join(__dirname, '../../../fixtures/buildkite/build.finished.json'), 'utf8'),
) as { build: Record<string, unknown> };

describe('buildFinishedDedupeKey', () => {
  it('keys a build.finished by build id, state and finish time', () => {
    expect(buildFinishedDedupeKey(fixture.build)).toBe(
      'build.finished:83abf330-88fc-4348-ac97-6bdb812ae30d:failed:2026-06-03T04:16:03.000Z',
    );
  });

  it('keeps apart two finishes in the same state (a retried job fails the build again)', () => {
    const again = { ...fixture.build, finished_at: '2026-06-03T04:31:40.500Z' };
    expect(buildFinishedDedupeKey(again)).not.toBe(buildFinishedDedupeKey(fixture.build));
  });

  it('reads the finish time whatever its spelling, so the webhook and the API agree', () => {
    const spelled = { ...fixture.build, finished_at: '2026-06-03T04:16:03.015000Z' };
    expect(buildFinishedDedupeKey(spelled)).toBe(buildFinishedDedupeKey(fixture.build));
    const noMillis = { ...fixture.build, finished_at: '2026-06-03T04:16:03Z' };
    expect(buildFinishedDedupeKey(noMillis)).toBe(buildFinishedDedupeKey(fixture.build));
    // Webhooks may spell times `2018-07-01 20:14:38 UTC` (whole seconds) while the builds API
    // gives the same moment with its milliseconds: one key for both.
    const webhookSpelling = { ...fixture.build, finished_at: '2026-06-03 04:16:03 UTC' };
    expect(buildFinishedDedupeKey(webhookSpelling)).toBe(buildFinishedDedupeKey(fixture.build));
    const apiMillis = { ...fixture.build, finished_at: '2026-06-03T04:16:03.999Z' };
    expect(buildFinishedDedupeKey(apiMillis)).toBe(buildFinishedDedupeKey(webhookSpelling));
    const nextSecond = { ...fixture.build, finished_at: '2026-06-03T04:16:04.000Z' };
    expect(buildFinishedDedupeKey(nextSecond)).not.toBe(buildFinishedDedupeKey(fixture.build));
  });

  it('ends at the state when the body has no usable finish time', () => {
    expect(buildFinishedDedupeKey({ ...fixture.build, finished_at: null })).toBe(
      'build.finished:83abf330-88fc-4348-ac97-6bdb812ae30d:failed',
    );
    expect(buildFinishedDedupeKey({ ...fixture.build, finished_at: 'soon' })).toBe(
      'build.finished:83abf330-88fc-4348-ac97-6bdb812ae30d:failed',
    );
  });

  it('gives the same key for the webhook body and the API build object of the same build and state', () => {
    // The builds API returns more fields (jobs, pipeline) and may order them differently.
    const fromApi = { jobs: [], pipeline: { slug: 'deploy-api' }, ...fixture.build, number: 1042 };
    expect(buildFinishedDedupeKey(fromApi)).toBe(buildFinishedDedupeKey(fixture.build));
  });

  it('separates the states of one build (a job retried after a failure finishes the build again)', () => {
    expect(buildFinishedDedupeKey({ ...fixture.build, state: 'passed' })).not.toBe(
      buildFinishedDedupeKey(fixture.build),
    );
  });

  it('keys a blocked build as blocked: its state keeps its last value, so its later finish keeps a key of its own', () => {
    const blocked = buildFinishedDedupeKey({ ...fixture.build, state: 'passed', blocked: true });
    expect(blocked).toBe(
      'build.finished:83abf330-88fc-4348-ac97-6bdb812ae30d:blocked:2026-06-03T04:16:03.000Z',
    );
    expect(blocked).not.toBe(buildFinishedDedupeKey({ ...fixture.build, state: 'passed', blocked: false }));
  });

  it.each([
    [undefined],
    [null],
    ['a string'],
    [{}],
    [{ id: 'x' }],
    [{ state: 'passed' }],
    [{ id: '', state: 'passed' }],
    [{ id: 1, state: 'passed' }],
  ])('gives no key for %j (the body hash is used instead)', (build) => {
    expect(buildFinishedDedupeKey(build)).toBeUndefined();
  });
});
