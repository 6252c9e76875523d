import { apiEvent } from '../../../support/api-event';
import { headerValues, toInboundRequest } from '../../../lambda/verify/request';

describe('toInboundRequest', () => {
  it('keeps every distinct value of a header, from multiValueHeaders and headers alike, by lower-case name', () => {
    const event = {
      ...apiEvent({ body: '{}' }),
      headers: { 'X-Buildkite-Token': 'b', 'Content-Type': 'application/json', 'X-Only-Single': 's' },
      multiValueHeaders: {
        'X-Buildkite-Token': ['a', 'b'],
        'x-buildkite-token': ['a'],
        'Content-Type': ['application/json'],
      },
    };
    const request = toInboundRequest(event);

    expect(headerValues(request, 'x-buildkite-token')).toEqual(['a', 'b']);
    expect(headerValues(request, 'content-type')).toEqual(['application/json']);
    expect(headerValues(request, 'x-only-single')).toEqual(['s']);
  });

  it('adds a value that only headers holds, even when multiValueHeaders has the name', () => {
    const event = {
      ...apiEvent({ body: '{}' }),
      headers: { 'X-Buildkite-Token': 'c' },
      multiValueHeaders: { 'X-Buildkite-Token': ['a'] },
    };
    expect(headerValues(toInboundRequest(event), 'X-Buildkite-Token')).toEqual(['a', 'c']);
  });

  it.each([
    ['a plain body', { body: '{"event":"ping","name":"é ✓"}' }, '{"event":"ping","name":"é ✓"}'],
    [
      'a base64 body',
      { body: Buffer.from('{"event":"ping"}').toString('base64'), isBase64Encoded: true },
      undefined,
    ],
    ['a body with a lone surrogate', { body: '{"event":"\ud800"}' }, undefined],
  ])('keeps the text of %s only when it round-trips to the bytes', (_name, options, text) => {
    const request = toInboundRequest(apiEvent(options));

    expect(request.text).toBe(text);
    if (request.text !== undefined) expect(Buffer.from(request.text).equals(request.rawBody)).toBe(true);
    else expect(request.rawBody.length).toBeGreaterThan(0);
  });
});
