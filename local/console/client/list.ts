/** The deliveries list and its filters. */
import { byId, h } from './dom';
import { clockTime, familiesOf, filterDeliveries, statusClass } from './format';
import { state } from './state';

/** Redraws the list from {@link state}; a click on a row calls `onSelect` with its id. */
export function renderList(onSelect: (id: number) => void): void {
  const familySelect = byId('filter-family', HTMLSelectElement);
  const shown = filterDeliveries(state.deliveries, {
    family: familySelect.value,
    status: byId('filter-status', HTMLSelectElement).value,
    text: byId('filter-text', HTMLInputElement).value,
  });
  const known = new Set([...familySelect.options].map((o) => o.value));
  for (const f of familiesOf(state.deliveries)) {
    if (!known.has(f)) familySelect.append(h('option', { value: f }, f));
  }
  const body = byId('deliveries', HTMLTableElement).tBodies[0];
  body?.replaceChildren(
    ...shown.map((d) =>
      h(
        'tr',
        {
          'data-id': d.id,
          'data-testid': 'delivery-row',
          className: state.selected === d.id ? 'selected' : '',
          onclick: () => onSelect(d.id),
        },
        h('td', {}, String(d.id)),
        h('td', { className: 'nowrap' }, clockTime(d.time)),
        h('td', {}, d.route),
        h('td', {}, d.auth ?? '—'),
        h(
          'td',
          {},
          h('span', { className: `status ${statusClass(d.status)}` }, d.status ?? '…'),
          ' ',
          h('span', { className: 'muted' }, d.code ?? ''),
          d.duplicateOf ? h('span', { className: 'tag dup' }, `dedupe: same as #${d.duplicateOf}`) : null,
          d.sentBy?.kind === 'replay'
            ? h('span', { className: 'tag replay' }, `replay of #${d.sentBy.of ?? '?'}`)
            : null,
        ),
        h('td', {}, d.event ?? ''),
        h('td', { className: 'muted nowrap' }, `${d.size} B`),
      ),
    ),
  );
  byId('no-deliveries', HTMLElement).hidden = state.deliveries.length > 0;
}

/** Redraws the list whenever a filter changes. */
export function bindFilters(onSelect: (id: number) => void): void {
  for (const id of ['filter-family', 'filter-status', 'filter-text']) {
    byId(id, HTMLElement).addEventListener('input', () => renderList(onSelect));
  }
}
