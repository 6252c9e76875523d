import {
  familiesOf,
  filterDeliveries,
  prettyBody,
  recordLine,
  sortReports,
  statusClass,
  teamsCard,
  verdictText,
} from '../../../local/console/client/format';
import type { WireConsumerReport, WireDeliverySummary } from '../../../local/console/wire';

const delivery = (id: number, fields: Partial<WireDeliverySummary>): WireDeliverySummary => ({
  id,
  time: '2026-12-06T18:00:00.000Z',
  route: '/buildkite',
  path: '/buildkite',
  size: 100,
  ...fields,
});

const LIST = [
  delivery(4, { status: 202, code: 'accepted', event: 'build.finished', auth: 'signature' }),
  delivery(3, { status: 401, code: 'invalid_signature', error: 'The signature does not match' }),
  delivery(2, { status: 202, code: 'accepted', event: 'job.finished', auth: 'token' }),
  delivery(1, { status: 500, code: 'internal_error', event: 'build.running' }),
];

describe('the page’s list filter', () => {
  it('keeps the family, status and text asked for', () => {
    const ids = (filter: { family?: string; status?: string; text?: string }) =>
      filterDeliveries(LIST, { family: '', status: '', text: '', ...filter }).map((d) => d.id);
    expect(ids({})).toEqual([4, 3, 2, 1]);
    expect(ids({ family: 'build' })).toEqual([4, 1]);
    expect(ids({ status: 'accepted' })).toEqual([4, 2]);
    expect(ids({ status: 'rejected' })).toEqual([3, 1]);
    expect(ids({ text: '  SIGNATURE ' })).toEqual([4, 3]);
    expect(ids({ family: 'build', status: 'accepted', text: 'finished' })).toEqual([4]);
  });

  it('lists the event families once, sorted', () => {
    expect(familiesOf(LIST)).toEqual(['build', 'job']);
    expect(statusClass(202)).toBe('s2');
    expect(statusClass(undefined)).toBe('');
  });
});

describe('the detail’s texts', () => {
  it('says a rule’s verdict: its target’s state, or the first failing field', () => {
    expect(verdictText({ ruleId: 'ChatAlerts', matched: true, status: 'delivered', attempts: 1 })).toBe(
      'delivered',
    );
    expect(
      verdictText({ ruleId: 'Relay', matched: true, status: 'dead-letter', attempts: 3, error: 'HTTP 500' }),
    ).toBe('dead-letter after 3 attempts: HTTP 500');
    expect(
      verdictText({
        ruleId: 'TriggerRelay',
        matched: false,
        failed: { path: 'source', reason: 'source is "buildkite"; the pattern wants ["trigger"]' },
      }),
    ).toBe('first failing field source: source is "buildkite"; the pattern wants ["trigger"]');
  });

  it('puts chat alerts first', () => {
    const reports: WireConsumerReport[] = [
      { kind: 'analytics', records: [] },
      { kind: 'skipped', consumer: 'x', message: 'm', attributes: {} },
      { kind: 'chat-alert', destination: 'ops', service: 'slack', payload: {} },
    ];
    expect(sortReports(reports).map((r) => r.kind)).toEqual(['chat-alert', 'analytics', 'skipped']);
  });

  it('shows an analytics record’s main fields, a body indented, and finds a Teams card', () => {
    expect(
      recordLine({ event: 'build.finished', pipeline: 'api', branch: null, build_duration_s: 42, other: 1 }),
    ).toBe('event build.finished · pipeline api · build_duration_s 42');
    expect(prettyBody({ body: '{"a":1}', bodyBase64: false })).toBe('{\n  "a": 1\n}');
    expect(prettyBody({ body: '<img src=x>', bodyBase64: false })).toBe('<img src=x>');
    expect(prettyBody({ body: 'AAE=', bodyBase64: true })).toBe('(not UTF-8; base64) AAE=');
    expect(teamsCard({ attachments: [{ content: { type: 'AdaptiveCard' } }] })).toEqual({
      type: 'AdaptiveCard',
    });
    expect(teamsCard({ text: 'no card' })).toBeUndefined();
    expect(teamsCard(null)).toBeUndefined();
  });
});
