import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildFinishedDedupeKey } from '../../../lambda/shared/contract';

const fixture = JSON.parse(
  readFileSync(path.join(__dirname, '../../../fixtures/buildkite/build.finished.json'), 'utf8'),
) as { build: Record<string, unknown> };

describe('buildFinishedDedupeKey', () => {
  it('keys a build.finished by build id and state', () => {
    expect(buildFinishedDedupeKey(fixture.build)).toBe(
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
    expect(blocked).toBe('build.finished:83abf330-88fc-4348-ac97-6bdb812ae30d:blocked');
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
