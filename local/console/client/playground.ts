/** The pattern playground: a pattern run against every recorded event, and its CDK snippet. */
import type { WirePatternAnswer } from '../wire';
import { api } from './api';
import { byId, h } from './dom';
import { errorMessage } from './format';

export function initPlayground(): void {
  const pattern = byId('pattern', HTMLTextAreaElement);
  const error = byId('pattern-error', HTMLElement);
  const snippet = byId('pattern-snippet', HTMLElement);
  const results = byId('pattern-results', HTMLElement);
  const copy = byId('pattern-copy', HTMLButtonElement);

  byId('pattern-go', HTMLButtonElement).addEventListener('click', async () => {
    let answer: WirePatternAnswer;
    try {
      answer = await api<WirePatternAnswer>('/api/pattern', { pattern: pattern.value });
    } catch (failure) {
      error.textContent = errorMessage(failure);
      return;
    }
    if (!answer.valid) {
      error.textContent = answer.error;
      snippet.textContent = 'Fix the pattern to get its snippet.';
      results.replaceChildren();
      return;
    }
    error.textContent = '';
    snippet.textContent = answer.snippet;
    const matched = answer.events.filter((e) => e.matched).length;
    results.className = '';
    results.replaceChildren(
      h(
        'p',
        { 'data-testid': 'pattern-summary' },
        `${matched} of ${answer.events.length} recorded event(s) match.`,
      ),
      h(
        'table',
        {},
        h(
          'tbody',
          {},
          answer.events.map((e) =>
            h(
              'tr',
              { 'data-testid': 'pattern-event', 'data-matched': String(e.matched) },
              h('td', {}, `#${e.deliveryId}`),
              h('td', {}, e.detailType),
              h('td', { className: e.matched ? 'yes' : 'no' }, e.matched ? 'matches' : 'no match'),
              h('td', { className: 'muted' }, e.failed ? `${e.failed.path}: ${e.failed.reason}` : ''),
            ),
          ),
        ),
      ),
    );
  });

  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(snippet.textContent ?? '');
      copy.textContent = 'Copied';
    } catch {
      // No clipboard permission (an http page in some browsers): select it for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(snippet);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      copy.textContent = 'Selected: press Ctrl+C';
    }
    window.setTimeout(() => (copy.textContent = 'Copy'), 2000);
  });
}
