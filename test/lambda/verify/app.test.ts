import { createVerifyHandler } from '../../../lambda/verify/app';
import type { Outcome } from '../../../lambda/verify/types';
import { TokenSource } from '../../../lambda/verify/token-source';
import { apiEvent, PING, TOKEN } from '../../../support/api-event';
import { RecordingDeliverer } from '../../../support/fakes';

/** A token source with a defect: it throws an error that quotes what it was given. */
class BrokenTokenSource extends TokenSource {
  constructor() {
    super(async () => TOKEN);
  }
  override async tokens(): Promise<string[]> {
    throw new TypeError(`cannot compare "${TOKEN}" with undefined`);
  }
}

describe('createVerifyHandler: unexpected errors', () => {
  it('answer 503 internal_error, accept nothing, and reach the observer with name, message and stack, credentials redacted', async () => {
    const deliverer = new RecordingDeliverer();
    const observed: Outcome[] = [];
    const handler = createVerifyHandler(
      { tokens: new BrokenTokenSource(), deliverer },
      { replayWindowSeconds: 300, maxBodyBytes: 1_000_000 },
      (outcome) => observed.push(outcome),
    );

    const result = await handler(apiEvent({ body: PING, headers: { 'X-Buildkite-Token': TOKEN } }));

    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body)).toEqual({ error: 'internal_error', message: expect.any(String) });
    expect(result.body).not.toContain(TOKEN);
    expect(deliverer.delivered).toHaveLength(0);
    expect(observed).toHaveLength(1);
    const error = observed[0]?.error;
    expect(error).toEqual({
      name: 'TypeError',
      message: 'cannot compare "[redacted]" with undefined',
      stack: expect.stringContaining('BrokenTokenSource'),
    });
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });

  it('redact a path token too', async () => {
    const observed: Outcome[] = [];
    const handler = createVerifyHandler(
      { tokens: new BrokenTokenSource(), deliverer: new RecordingDeliverer() },
      { replayWindowSeconds: 300, maxBodyBytes: 1_000_000 },
      (outcome) => observed.push(outcome),
    );
    await handler(apiEvent({ body: PING, pathToken: TOKEN }));
    expect(observed[0]?.code).toBe('internal_error');
    expect(JSON.stringify(observed[0]?.error)).not.toContain(TOKEN);
  });

  it('leave user errors without an error object (they are not defects)', async () => {
    const observed: Outcome[] = [];
    const handler = createVerifyHandler(
      { tokens: new TokenSource(async () => TOKEN), deliverer: new RecordingDeliverer() },
      { replayWindowSeconds: 300, maxBodyBytes: 1_000_000 },
      (outcome) => observed.push(outcome),
    );
    await handler(apiEvent({ body: PING, headers: { 'X-Buildkite-Token': 'wrong' } }));
    expect(observed[0]).toMatchObject({ code: 'invalid_token' });
    expect(observed[0]?.error).toBeUndefined();
  });
});
