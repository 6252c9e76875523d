/** The Send tab: a fixture or a pasted body, signed and sent through the local gateway. */
import type { WireFixture, WireSendAnswer, WireState } from '../wire';
import { api } from './api';
import { byId, h } from './dom';
import { errorMessage } from './format';

/** Fills the fixture and trigger pickers from the page's starting state and wires the buttons. */
export function initSend(initial: WireState): void {
  const fixture = byId('send-fixture', HTMLSelectElement);
  const trigger = byId('send-trigger', HTMLSelectElement);
  const body = byId('send-body', HTMLTextAreaElement);
  const result = byId('send-result', HTMLElement);
  fixture.append(
    h(
      'optgroup',
      { label: 'Buildkite' },
      initial.fixtures.buildkite.map((f) => h('option', { value: `buildkite/${f}` }, f)),
    ),
    h(
      'optgroup',
      { label: 'Triggers' },
      initial.fixtures.triggers.map((f) => h('option', { value: `triggers/${f}` }, f)),
    ),
  );
  fixture.value = 'buildkite/build.finished';
  for (const t of initial.triggers) trigger.append(h('option', { value: t.name }, `${t.name} (${t.kind})`));

  byId('send-load', HTMLButtonElement).addEventListener('click', async () => {
    try {
      body.value = (await api<WireFixture>(`/api/fixtures/${fixture.value}`)).body;
    } catch (error) {
      result.textContent = errorMessage(error);
      result.className = 'error';
    }
  });
  // A trigger body goes to a trigger's route, a Buildkite body to /buildkite: follow the fixture.
  fixture.addEventListener('change', () => {
    const isTrigger = fixture.value.startsWith('triggers/');
    if (isTrigger && trigger.value === '' && trigger.options.length > 1) trigger.selectedIndex = 1;
    if (!isTrigger) trigger.value = '';
  });
  byId('send-go', HTMLButtonElement).addEventListener('click', async () => {
    result.textContent = 'sending…';
    result.className = 'muted';
    try {
      const answer = await api<WireSendAnswer>('/api/send', {
        fixture: fixture.value,
        body: body.value,
        mode: byId('send-mode', HTMLSelectElement).value,
        trigger: trigger.value || undefined,
        wrongSecret: byId('send-wrong', HTMLInputElement).checked,
      });
      result.textContent = `${answer.status} ${answer.body}`;
      result.className = answer.status < 300 ? 's2' : 'error';
    } catch (error) {
      result.textContent = errorMessage(error);
      result.className = 'error';
    }
  });
}
