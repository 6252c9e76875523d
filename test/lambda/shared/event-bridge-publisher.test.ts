import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { EventBridgePublisher, isoTimeToDate } from '../../../lambda/shared/event-bridge-publisher';
import { nearbyDates } from '../../support/nearby-dates';

describe('isoTimeToDate', () => {
  it('equals new Date(text) for runs of ISO times a few seconds apart (its per-second cache)', () => {
    fc.assert(
      fc.property(nearbyDates(-500, 11000), (dates) => {
        for (const date of dates) {
          const text = date.toISOString();
          expect(isoTimeToDate(text).getTime()).toBe(new Date(text).getTime());
        }
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    '2026-12-06T18:02:52.1a5Z',
    '2026-12-06T18:02:52.155+01:00',
    '2026-12-06T18:02:52Z',
    '2026-12-06T24:00:00.000Z',
    '2026-02-30T10:00:00.000Z',
    '2026-12-06T18:02:60.000Z',
    'not a time at all, 24 ch',
    '',
  ])('equals new Date(%p) for other text, cached second or not', (text) => {
    isoTimeToDate('2026-12-06T18:02:52.000Z');
    const expected = new Date(text).getTime();
    expect(isoTimeToDate(text).getTime()).toBe(expected);
    expect(isoTimeToDate(text).getTime()).toBe(expected);
  });
});

describe('EventBridgePublisher', () => {
  const eventBridge = mockClient(EventBridgeClient);
  beforeEach(() => eventBridge.reset());

  it('puts the entry with its time as a Date, and without Time when it has none', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const publisher = new EventBridgePublisher(new EventBridgeClient({}), 'bus');
    const time = '2026-12-06T18:02:52.155Z';
    expect(await publisher.publish({ source: 's', detailType: 'd', detail: '{}', time })).toBe('e-1');
    expect(await publisher.publish({ source: 's', detailType: 'd', detail: '{}' })).toBe('e-1');
    const [first, second] = eventBridge
      .commandCalls(PutEventsCommand)
      .map((call) => call.args[0].input.Entries?.[0]);
    expect(first).toEqual({
      EventBusName: 'bus',
      Source: 's',
      DetailType: 'd',
      Detail: '{}',
      Time: new Date(time),
    });
    expect(second).toEqual({ EventBusName: 'bus', Source: 's', DetailType: 'd', Detail: '{}' });
  });
});
