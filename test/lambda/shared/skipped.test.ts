import { NoSuchKey } from '@aws-sdk/client-s3';
import type { EventEnvelope } from '../../../lambda/shared/contract';
import type { BodyReader } from '../../../lambda/shared/oversized';
import { readFullEvent, SkipReporter } from '../../../lambda/shared/skipped';
import { publishedEvent } from '../../support/webhook-bodies';

describe('SkipReporter', () => {
  const skip = {
    reason: 'missing-job',
    eventId: 'evt-1',
    detailType: 'job.started',
    effect: 'ignored',
    details: { reason: 'not this one', messageId: 'm-1' },
  };

  it('writes one warning whose own fields win over details, and one Skipped point per Reason', () => {
    const lines: [string, Record<string, unknown>][] = [];
    const calls: string[] = [];
    new SkipReporter(
      { warn: (message, attributes) => void lines.push([message, attributes]) },
      {
        singleMetric: () => ({
          addDimension: (name, value) => void calls.push(`dimension ${name}=${value}`),
          addMetric: (name, unit, value) => void calls.push(`metric ${name} ${unit} ${value}`),
        }),
      },
    ).skipped(skip);
    expect(lines).toEqual([
      [
        'Delivery skipped',
        {
          reason: 'missing-job',
          eventId: 'evt-1',
          detailType: 'job.started',
          effect: 'ignored',
          messageId: 'm-1',
        },
      ],
    ]);
    expect(calls).toEqual(['dimension Reason=missing-job', 'metric Skipped Count 1']);
  });

  it('logs alone without a metrics instance (local mode)', () => {
    const warn = jest.fn();
    new SkipReporter({ warn }).skipped(skip);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe('readFullEvent', () => {
  const pointer = { bucket: 'b', key: 'oversized/k.json', bytes: 300_000 };
  const pointerEvent = publishedEvent({ event: 'job.started', job: { id: 'j' } }, 'evt-1', {
    oversized: pointer,
  });
  const failing = (error: unknown): BodyReader => ({ read: async () => Promise.reject(error) });

  it('returns an inline event as it is, without reading', async () => {
    const event = publishedEvent({ event: 'ping' });
    expect(await readFullEvent(event, failing(new Error('no')))).toEqual({ event });
  });

  it('returns the stored body with the pointer’s delivery', async () => {
    const full = await readFullEvent(pointerEvent, {
      read: async () =>
        JSON.stringify({ event: 'job.started', job: { id: 'j', agent_query_rules: ['queue=x'] } }),
    });
    expect(full.skip).toBeUndefined();
    expect(full.event.detail).toEqual({
      event: 'job.started',
      job: { id: 'j', agent_query_rules: ['queue=x'] },
      delivery: (pointerEvent as EventEnvelope).detail.delivery,
    });
  });

  it.each([
    ['S3 NoSuchKey', new NoSuchKey({ message: 'gone', $metadata: {} })],
    ['a missing local file', Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })],
  ])('gives the pointer back with a skip reason when the body is gone (%s)', async (_name, error) => {
    expect(await readFullEvent(pointerEvent, failing(error))).toEqual({
      event: pointerEvent,
      skip: 'oversized-body-missing',
    });
  });

  it('rethrows any other read failure (access denied), so the event is retried', async () => {
    const error = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    await expect(readFullEvent(pointerEvent, failing(error))).rejects.toBe(error);
  });

  it('rethrows when the stored body is not JSON', async () => {
    await expect(readFullEvent(pointerEvent, { read: async () => '{trunc' })).rejects.toThrow(SyntaxError);
  });
});
