import fc from 'fast-check';
import {
  acceptedAnswer,
  answerText,
  errorAnswer,
  ERRORS,
  type ErrorCode,
} from '../../../lambda/verify/answers';
import { pingAnswer } from '../../../lambda/verify/trigger-answers';

describe('answerText', () => {
  it('writes an accepted answer as JSON.stringify writes { id, status }, for any id', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom('published', 'spooled'), (id, status) => {
        const answer = acceptedAnswer(id, status as 'published' | 'spooled');
        expect(answerText(answer)).toBe(JSON.stringify({ id, status }));
        expect(answer.body).toEqual({ id, status });
      }),
      { numRuns: 500 },
    );
  });

  it('writes every other answer with JSON.stringify', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const answer = errorAnswer(code);
      expect(answerText(answer)).toBe(JSON.stringify(answer.body));
    }
    const ping = pingAnswer('req-1', 'published', "GitHub's ping");
    expect(answerText(ping)).toBe(JSON.stringify(ping.body));
  });
});
