import * as fc from 'fast-check';
import { matchesPattern, type EventPattern } from '../../../lambda/shared/event-pattern';
import { explainMatch, type FailedField } from '../../../lambda/shared/pattern-explain';

/** A Buildkite job.finished event as the bus delivers it. */
const EVENT = {
  version: '0',
  id: 'e-1',
  'detail-type': 'job.finished',
  source: 'buildkite',
  account: '000000000000',
  time: '2026-12-06T10:00:00Z',
  region: 'local',
  resources: [],
  detail: {
    build: { number: 42, state: 'failed', branch: 'release/1.2', message: 'Bump deps' },
    pipeline: { slug: 'kitebridge' },
    job: {
      name: ':jest: Unit tests',
      exit_status: 1,
      agent_query_rules: ['queue=linux', 'os=ubuntu'],
      retried: false,
      pull_request: null,
    },
    agent: { ip_address: '10.0.3.7', hostname: 'CI-Runner-7' },
    steps: [
      { key: 'lint', state: 'passed' },
      { key: 'unit', state: 'failed' },
    ],
    delivery: { dedupeKey: 'k' },
  },
};

/** The failure of a pattern that must not match, checked against the engine's own verdict. */
function failure(pattern: EventPattern, event: Record<string, unknown> = EVENT): FailedField {
  expect(matchesPattern(pattern, event)).toBe(false);
  const explained = explainMatch(pattern, event);
  if (explained.matched) throw new Error('expected no match');
  return explained.failed;
}

describe('explainMatch', () => {
  it('says matched when the engine matches', () => {
    expect(explainMatch({ source: ['buildkite'], detail: { build: { state: ['failed'] } } }, EVENT)).toEqual({
      matched: true,
    });
  });

  it('names the first failing field in pattern order, with what the event holds', () => {
    const failed = failure({
      source: ['buildkite'],
      'detail-type': ['build.finished'],
      detail: { build: { state: ['passed'] } },
    });
    expect(failed).toMatchObject({
      path: 'detail-type',
      expected: ['build.finished'],
      found: ['job.finished'],
    });
    expect(failed.reason).toBe('detail-type is "job.finished"; the pattern wants ["build.finished"]');
  });

  it('descends into nested detail objects', () => {
    const failed = failure({ detail: { build: { number: [42], state: ['passed'] } } });
    expect(failed).toMatchObject({ path: 'detail.build.state', found: ['failed'] });
  });

  it('says a field is missing', () => {
    const failed = failure({ detail: { build: { author: ['me'] } } });
    expect(failed.path).toBe('detail.build.author');
    expect(failed.found).toEqual([]);
    expect(failed.reason).toMatch(/^detail\.build\.author is missing; the pattern wants \["me"\]$/);
  });

  it.each<[string, unknown[], unknown[]]>([
    ['prefix', [{ prefix: 'main' }], ['release/1.2']],
    ['suffix', [{ suffix: '/main' }], ['release/1.2']],
    ['anything-but', [{ 'anything-but': ['release/1.2', 'main'] }], ['release/1.2']],
    ['anything-but prefix', [{ 'anything-but': { prefix: 'release/' } }], ['release/1.2']],
    ['equals-ignore-case', [{ 'equals-ignore-case': 'MAIN' }], ['release/1.2']],
    ['wildcard', [{ wildcard: 'feature/*' }], ['release/1.2']],
  ])('explains a failing %s operator on the field', (_name, expected, found) => {
    const failed = failure({ detail: { build: { branch: expected } } });
    expect(failed).toMatchObject({ path: 'detail.build.branch', expected, found });
    expect(failed.reason).toContain(JSON.stringify(expected));
  });

  it('explains numeric comparisons', () => {
    const failed = failure({ detail: { job: { exit_status: [{ numeric: ['>', 1, '<=', 5] }] } } });
    expect(failed).toMatchObject({ path: 'detail.job.exit_status', found: [1] });
    expect(failure({ detail: { build: { number: [{ numeric: ['=', 41] }] } } }).found).toEqual([42]);
  });

  it('explains exists true and false', () => {
    expect(failure({ detail: { build: { author: [{ exists: true }] } } })).toMatchObject({
      path: 'detail.build.author',
      found: [],
    });
    expect(failure({ detail: { build: { state: [{ exists: false }] } } })).toMatchObject({
      path: 'detail.build.state',
      found: ['failed'],
    });
  });

  it('explains cidr', () => {
    const failed = failure({ detail: { agent: { ip_address: [{ cidr: '10.0.2.0/24' }] } } });
    expect(failed).toMatchObject({ path: 'detail.agent.ip_address', found: ['10.0.3.7'] });
  });

  it('shows every value of an array field (arrays are crushed, as the engine sees them)', () => {
    const failed = failure({ detail: { job: { agent_query_rules: ['queue=mac'] } } });
    expect(failed.found).toEqual(['queue=linux', 'os=ubuntu']);
    expect(failed.reason).toBe(
      'detail.job.agent_query_rules is one of ["queue=linux","os=ubuntu"]; the pattern wants ["queue=mac"]',
    );
  });

  it('explains an array of objects through its first element', () => {
    const failed = failure({ detail: { steps: { key: ['unit'], state: ['canceled'] } } });
    expect(failed.path).toMatch(/^detail\.steps\./);
  });

  it('matches null and false exactly, and says what is there instead', () => {
    expect(explainMatch({ detail: { job: { pull_request: [null], retried: [false] } } }, EVENT)).toEqual({
      matched: true,
    });
    expect(failure({ detail: { job: { retried: [true] } } })).toMatchObject({ found: [false] });
  });

  it('explains $or with the reason of every branch', () => {
    const failed = failure({
      source: ['buildkite'],
      detail: {
        $or: [{ build: { state: ['passed'] } }, { pipeline: { slug: ['deploy-api'] } }],
      },
    });
    expect(failed.path).toBe('detail.$or');
    expect(failed.branches?.map((b) => b.path)).toEqual(['detail.build.state', 'detail.pipeline.slug']);
    expect(failed.reason).toContain('no branch of detail.$or matches');
  });

  it('passes over a $or that holds and reports the next field', () => {
    const failed = failure({
      detail: {
        $or: [{ build: { state: ['failed'] } }, { pipeline: { slug: ['deploy-api'] } }],
        job: { name: [{ prefix: ':docker:' }] },
      },
    });
    expect(failed.path).toBe('detail.job.name');
  });

  it('says a scalar where an object is wanted holds no value to compare', () => {
    const failed = failure({ detail: { build: { number: { value: [42] } } } });
    expect(failed.path).toBe('detail.build.number.value');
  });

  it('throws the engine error for an invalid pattern', () => {
    expect(() => explainMatch({ detail: { build: { state: [{ prefix: 5 }] } } }, EVENT)).toThrow(
      'Invalid event pattern at detail.build.state[0]: prefix match pattern must be a string',
    );
  });

  it('never disagrees with the engine (property)', () => {
    const leaf = fc.oneof(
      fc.constantFrom('failed', 'passed', 'main', 'release/1.2'),
      fc.integer({ min: 0, max: 50 }),
    );
    const condition = fc.oneof(
      leaf,
      leaf.map((v) => (typeof v === 'string' ? { prefix: v.slice(0, 3) } : { numeric: ['>=', v] })),
      fc.boolean().map((b) => ({ exists: b })),
    );
    const field = fc.array(condition, { minLength: 1, maxLength: 3 });
    const pattern = fc.record({
      detail: fc.record(
        {
          build: fc.record({ state: field, number: field, branch: field }, { requiredKeys: [] }),
          job: fc.record({ exit_status: field, missing: field }, { requiredKeys: ['exit_status'] }),
        },
        { requiredKeys: ['build'] },
      ),
    });
    fc.assert(
      fc.property(pattern, (p) => {
        const built = p as unknown as EventPattern;
        const detail = (built.detail as Record<string, Record<string, unknown>>).build;
        if (!detail || Object.keys(detail).length === 0) return;
        const explained = explainMatch(built, EVENT);
        expect(explained.matched).toBe(matchesPattern(built, EVENT));
        if (!explained.matched) expect(explained.failed.path).toMatch(/^detail\./);
      }),
    );
  });
});
