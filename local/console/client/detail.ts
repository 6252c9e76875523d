/**
 * The detail panel: a delivery's request, answer, the rules' verdicts on its events and what each
 * consumer made of them, chat alerts drawn as Slack and Teams show them.
 */
import * as AdaptiveCards from 'adaptivecards';
import { slackToHtml } from '../slack-html';
import type { WireDelivery, WireEvent, WireSendAnswer } from '../wire';
import { api } from './api';
import { byId, h, jsonBlock } from './dom';
import {
  errorMessage,
  isAccepted,
  prettyBody,
  recordLine,
  sortReports,
  statusClass,
  teamsCard,
  verdictText,
} from './format';
import { teamsMarkdownToHtml } from './markdown';
import { state } from './state';

// Teams' markdown, escaped: the renderer puts what this returns in the page as HTML.
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = teamsMarkdownToHtml(text);
  result.didProcess = true;
};

/** Fetches the selected delivery and draws it (unless another was selected meanwhile). */
export async function renderDetail(): Promise<void> {
  const id = state.selected;
  if (id === undefined) return;
  const panel = byId('detail', HTMLElement);
  let d: WireDelivery;
  try {
    d = await api<WireDelivery>(`/api/deliveries/${id}`);
  } catch (error) {
    panel.replaceChildren(h('div', { className: 'error' }, errorMessage(error)));
    return;
  }
  if (d.id !== state.selected) return;
  panel.replaceChildren(deliveryView(d));
}

function replayButton(d: WireDelivery): HTMLElement[] {
  if (d.route === '(spool)') return [];
  const note = h('span', { className: 'muted' });
  const button = h(
    'button',
    {
      className: 'primary',
      'data-testid': 'replay',
      onclick: async () => {
        button.disabled = true;
        try {
          const answer = await api<WireSendAnswer>(`/api/deliveries/${d.id}/replay`, {});
          note.textContent = `replayed: ${answer.status} ${answer.body}`;
        } catch (error) {
          note.textContent = errorMessage(error);
        } finally {
          button.disabled = false;
        }
      },
    },
    'Replay (re-signed)',
  );
  return [button, note];
}

function deliveryView(d: WireDelivery): HTMLElement {
  return h(
    'div',
    { 'data-testid': 'delivery-detail', 'data-id': d.id },
    h('div', { className: 'row' }, h('h2', {}, `#${d.id} ${d.event ?? d.route}`), replayButton(d)),
    h(
      'div',
      {},
      h(
        'span',
        { className: `status ${statusClass(d.status)}`, 'data-testid': 'detail-status' },
        d.status ?? '…',
      ),
      ' ',
      h('span', { 'data-testid': 'detail-code' }, d.code ?? ''),
      ` · ${d.method} ${d.path} · auth ${d.auth ?? '—'} · ${d.size} bytes · ${new Date(d.time).toLocaleString()}`,
      d.duplicateOf
        ? h(
            'span',
            { className: 'tag dup', 'data-testid': 'dedupe-note' },
            `dedupe key seen before (#${d.duplicateOf})`,
          )
        : null,
      d.sentBy?.kind === 'replay'
        ? h('span', { className: 'tag replay' }, `replay of #${d.sentBy.of ?? '?'}`)
        : null,
    ),
    d.error ? h('p', { className: 'error', 'data-testid': 'detail-error' }, d.error) : null,
    h('h3', {}, 'Answer'),
    jsonBlock(d.answer),
    d.events.map(eventView),
    !isAccepted(d.status) || d.events.length > 0
      ? null
      : h('p', { className: 'muted' }, 'No event reached the bus yet.'),
    h('h3', {}, 'Request'),
    h(
      'table',
      { 'data-testid': 'headers' },
      h(
        'tbody',
        {},
        d.headers.map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, value))),
      ),
    ),
    h('details', { open: true }, h('summary', {}, 'raw body'), h('pre', {}, prettyBody(d))),
  );
}

function eventView(e: WireEvent): HTMLElement {
  const rules = h(
    'table',
    { 'data-testid': 'rules' },
    h('thead', {}, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'matched'), h('th', {}, 'why / target'))),
    h(
      'tbody',
      {},
      e.rules.map((r) =>
        h(
          'tr',
          { 'data-rule': r.ruleId, 'data-matched': String(r.matched) },
          h('td', {}, r.ruleId),
          h('td', { className: r.matched ? 'yes' : 'no' }, r.matched ? 'matched' : 'not matched'),
          h('td', {}, r.matched ? verdictText(r) : h('span', { className: 'muted' }, verdictText(r))),
        ),
      ),
    ),
  );
  return h(
    'div',
    { 'data-testid': 'bus-event' },
    h('h3', {}, `Bus event ${e.envelope['detail-type']}`),
    rules,
    h('h3', {}, 'Consumers'),
    reportViews(e),
    h('details', {}, h('summary', {}, 'bus envelope'), jsonBlock(e.envelope)),
  );
}

const consumer = (testId: string, ...children: (Node | string | null)[]) =>
  h('div', { className: 'consumer', 'data-testid': testId }, ...children);

function reportViews(e: WireEvent): HTMLElement[] {
  const out = sortReports(e.reports).map((r) => {
    switch (r.kind) {
      case 'chat-alert':
        return consumer(
          `chat-alert-${r.service}`,
          h('h4', {}, `Chat alert → ${r.destination} (${r.service})`),
          r.service === 'teams' ? teamsView(r.payload) : slackView(r.payload),
          h('details', {}, h('summary', {}, 'raw JSON'), jsonBlock(r.payload)),
        );
      case 'chat-duplicate':
        return consumer(
          'chat-duplicate',
          h('h4', {}, 'Chat alert: duplicate'),
          h('span', { className: 'tag dup' }, 'alert already posted, not sent again'),
          jsonBlock(r.attributes),
        );
      case 'analytics':
        return h(
          'div',
          { className: 'consumer', 'data-testid': 'analytics-record' },
          h('h4', {}, `Analytics: ${r.records.length} record(s)`),
          r.records.map((record) => h('div', { className: 'muted' }, recordLine(record))),
          h('details', {}, h('summary', {}, 'raw JSON'), jsonBlock(r.records)),
        );
      case 'autoscaler':
      case 'trigger-relay':
        return consumer(
          r.kind,
          h('h4', {}, `${r.kind === 'autoscaler' ? 'Autoscaler' : 'Trigger relay'}: ${r.message}`),
          jsonBlock(r.attributes),
        );
      case 'skipped':
        return consumer('skipped', h('h4', {}, `${r.consumer}: ${r.message}`), jsonBlock(r.attributes));
    }
  });
  for (const dead of e.deadLetters) {
    out.push(
      consumer(
        'dead-letter',
        h('h4', { className: 'error' }, `Dead letter: ${dead.ruleId}`),
        h('p', {}, dead.reason),
      ),
    );
  }
  if (out.length === 0) out.push(h('p', { className: 'muted' }, 'No consumer reported on this event (yet).'));
  return out;
}

function slackView(payload: unknown): HTMLElement {
  const el = h('div', { className: 'slack' });
  // slackToHtml escapes every piece of text; only http(s) links become anchors.
  // eslint-disable-next-line no-restricted-properties -- escaping renderer, unit-tested
  el.innerHTML = slackToHtml(payload);
  return el;
}

function teamsView(payload: unknown): HTMLElement {
  const card = new AdaptiveCards.AdaptiveCard();
  try {
    card.parse(teamsCard(payload));
    return h('div', { className: 'teams' }, card.render() ?? 'the card rendered to nothing');
  } catch (error) {
    return h('p', { className: 'error' }, `adaptivecards could not render it: ${errorMessage(error)}`);
  }
}
