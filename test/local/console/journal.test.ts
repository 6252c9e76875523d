import type { EventEnvelope } from '../../../lambda/shared/contract';
import type { Outcome } from '../../../lambda/verify/types';
import { maskRequest, Journal, reportToConsole, CONSOLE_HEADER } from '../../../local/console/journal';
import { LocalBus, type LocalRule } from '../../../local/local-bus';
import { apiEvent, BUILD_FINISHED, signatureHeader, TOKEN } from '../../../support/api-event';

const accepted = (dedupeKey: string): Outcome => ({
  answer: { statusCode: 202, body: { id: 'e', status: 'published' } } as unknown as Outcome['answer'],
  code: 'published',
  event: 'build.finished',
  auth: 'signature',
  bytes: BUILD_FINISHED.length,
  dedupeKey,
});

/** A journal over a real local bus: rules run in their event's context, as in local mode. */
function setup(rules: LocalRule[]) {
  const journal = new Journal({ now: () => new Date('2026-12-06T10:00:00Z') });
  const observed = rules.map((r) => journal.observeRule(r));
  journal.setRules(observed);
  const bus = new LocalBus({
    rules: observed,
    attempts: 2,
    onPublish: (event) => journal.published(event),
    onDeadLetter: (dead) => journal.deadLetter(dead),
  });
  /** A request whose handler publishes the body, as the verify handler does. */
  const deliver = (body = BUILD_FINISHED, headers: Record<string, string> = {}) =>
    journal.wrapHandler(async () => {
      journal.outcome(accepted(`key-${body.length}`));
      await bus.publish({ source: 'buildkite', detailType: 'build.finished', detail: body });
      return { statusCode: 202, body: '{"status":"published"}' };
    })(apiEvent({ body, headers: { 'X-Buildkite-Signature': signatureHeader(body), ...headers } }));
  return { journal, bus, deliver };
}

describe('maskRequest', () => {
  it('masks credential headers and the path token as logs do, and keeps the rest', () => {
    const masked = maskRequest(
      apiEvent({
        body: '{}',
        pathToken: TOKEN,
        headers: { 'X-Buildkite-Token': TOKEN, 'X-PD-Token': 'pd-secret', 'X-Buildkite-Event': 'ping' },
      }),
    );
    expect(masked.path).toBe('/buildkite/[redacted]');
    expect(masked.headers).toEqual(
      expect.arrayContaining([
        ['X-Buildkite-Token', '[redacted]'],
        ['X-PD-Token', '[redacted]'],
        ['X-Buildkite-Event', 'ping'],
      ]),
    );
    expect(JSON.stringify(masked)).not.toContain(TOKEN);
  });
});

describe('Journal', () => {
  it('records a delivery, its answer, its event, every rule verdict and what consumers reported', async () => {
    const { journal, bus, deliver } = setup([
      {
        id: 'Alerts',
        pattern: { 'detail-type': ['build.finished'] },
        target: async () => {
          await Promise.resolve();
          reportToConsole({
            kind: 'chat-alert',
            destination: 'ops',
            service: 'slack',
            payload: { text: 'x' },
          });
        },
      },
      { id: 'Agents', pattern: { 'detail-type': ['agent.lost'] }, target: () => undefined },
    ]);
    await deliver();
    await bus.drain();
    const [summary] = journal.list();
    expect(summary).toMatchObject({ id: 1, status: 202, code: 'published', auth: 'signature', alerts: 1 });
    const delivery = journal.get(1)!;
    expect(delivery.headers).toContainEqual(['X-Buildkite-Signature', '[redacted]']);
    expect(delivery.body).toBe(BUILD_FINISHED);
    const [event] = delivery.events;
    expect(event?.envelope['detail-type']).toBe('build.finished');
    expect(event?.rules).toEqual([
      { ruleId: 'Alerts', matched: true, status: 'delivered', attempts: 1 },
      {
        ruleId: 'Agents',
        matched: false,
        failed: expect.objectContaining({ path: 'detail-type', found: ['build.finished'] }),
      },
    ]);
    expect(event?.reports).toEqual([
      expect.objectContaining({ kind: 'chat-alert', ruleId: 'Alerts', destination: 'ops' }),
    ]);
  });

  it('notes a delivery whose dedupe key was seen before, and one the console replayed', async () => {
    const { journal, bus, deliver } = setup([]);
    await deliver();
    await deliver(BUILD_FINISHED, { [CONSOLE_HEADER]: 'replay:1' });
    await bus.drain();
    expect(journal.get(2)).toMatchObject({ duplicateOf: 1, sentBy: { kind: 'replay', of: 1 } });
    expect(journal.get(1)?.duplicateOf).toBeUndefined();
  });

  it('marks a target that keeps failing as a dead letter with its reason', async () => {
    const { journal, bus, deliver } = setup([
      {
        id: 'Broken',
        pattern: { source: ['buildkite'] },
        target: () => {
          throw new Error('chat webhook answered 500');
        },
      },
    ]);
    await deliver();
    await bus.drain();
    const [event] = journal.get(1)!.events;
    expect(event?.rules[0]).toMatchObject({
      status: 'dead-letter',
      attempts: 2,
      error: 'chat webhook answered 500',
    });
    expect(event?.deadLetters).toEqual([{ ruleId: 'Broken', reason: 'chat webhook answered 500' }]);
  });

  it('attaches a report made outside the event to the event it names', async () => {
    let later: (() => void) | undefined;
    const { journal, bus, deliver } = setup([
      {
        id: 'Queue',
        pattern: { source: ['buildkite'] },
        target: (event: EventEnvelope) => {
          later = () =>
            reportToConsole({ kind: 'trigger-relay', message: 'relayed', attributes: {} }, event.id);
        },
      },
    ]);
    await deliver();
    await bus.drain();
    journal.run(() => later!());
    expect(journal.get(1)!.events[0]?.reports).toEqual([expect.objectContaining({ kind: 'trigger-relay' })]);
  });

  it('does nothing when no console runs', () => {
    expect(() => reportToConsole({ kind: 'analytics', records: [] })).not.toThrow();
  });

  it('records a request the gateway refused itself', () => {
    const journal = new Journal();
    journal.refused(apiEvent({ headers: { 'X-Buildkite-Token': TOKEN } }), {
      status: 403,
      body: '{"error":"forbidden_source_ip","message":"This address may not call the API."}',
      bytes: 0,
    });
    expect(journal.list()[0]).toMatchObject({
      status: 403,
      code: 'forbidden_source_ip',
      error: 'refused by the gateway: This address may not call the API.',
    });
    expect(JSON.stringify(journal.get(1))).not.toContain(TOKEN);
  });

  it('forgets the dedupe key of a delivery it drops: a later copy is not called a duplicate of a missing entry', async () => {
    const journal = new Journal({ capacity: 2 });
    const handlerFor = (key: string) =>
      journal.wrapHandler(async () => {
        journal.outcome(accepted(key));
        return { statusCode: 202, body: '{}' };
      });
    await handlerFor('key-a')(apiEvent({ body: BUILD_FINISHED }));
    await handlerFor('key-a')(apiEvent({ body: BUILD_FINISHED }));
    expect(journal.get(2)?.duplicateOf).toBe(1);
    await handlerFor('key-b')(apiEvent({ body: BUILD_FINISHED }));
    await handlerFor('key-c')(apiEvent({ body: BUILD_FINISHED }));
    // #1 and #2 are gone; key-a is new again.
    await handlerFor('key-a')(apiEvent({ body: BUILD_FINISHED }));
    expect(journal.get(1)).toBeUndefined();
    expect(journal.get(5)?.duplicateOf).toBeUndefined();
    await handlerFor('key-a')(apiEvent({ body: BUILD_FINISHED }));
    expect(journal.get(6)?.duplicateOf).toBe(5);
  });

  it('keeps the latest deliveries within its count and body budget, and tells listeners of changes', async () => {
    const journal = new Journal({ capacity: 3, maxBodyBytes: 2 * BUILD_FINISHED.length });
    const changes: unknown[] = [];
    journal.subscribe((change) => changes.push(change));
    const handler = journal.wrapHandler(async () => ({ statusCode: 202, body: '{}' }));
    for (let i = 0; i < 4; i++) await handler(apiEvent({ body: BUILD_FINISHED }));
    expect(journal.list().map((d) => d.id)).toEqual([4, 3]);
    expect(changes).toContainEqual({ type: 'delivery', id: 4 });
  });
});
