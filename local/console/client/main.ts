/**
 * The console page's script, bundled in memory by local/console/app.ts (esbuild) with Microsoft's
 * adaptivecards renderer, so the page needs nothing from the network but its own server. It fills
 * in the markup of page.ts: tabs, the deliveries list and detail, Send, the pattern playground and
 * the analytics charts, redrawn as the event stream says something changed.
 */
import type { WireChange, WireDeliverySummary, WireState } from '../wire';
import { api, watchChanges } from './api';
import { drawAnalytics } from './charts';
import { renderDetail } from './detail';
import { byId } from './dom';
import { errorMessage } from './format';
import { bindFilters, renderList } from './list';
import { initPlayground } from './playground';
import { initSend } from './send';
import { state } from './state';

async function select(id: number): Promise<void> {
  state.selected = id;
  renderList(onSelect);
  await renderDetail();
}
const onSelect = (id: number) => void select(id);

function showTab(name: string): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('header nav button')) {
    button.setAttribute('aria-selected', String(button.dataset.tab === name));
  }
  for (const section of document.querySelectorAll<HTMLElement>('.tab')) {
    section.hidden = section.id !== `tab-${name}`;
  }
  if (name === 'analytics') void drawAnalytics();
}

/** The live indicator: the stream's state, or what went wrong. */
function live(text: string, ok: boolean): void {
  const el = byId('live', HTMLElement);
  el.textContent = text;
  el.className = ok ? '' : 'off';
}

let pending: number | undefined;

/** Redraws after a change, at most once per 60 ms however many changes arrive. */
function refreshSoon(change: WireChange): void {
  if (change.type === 'analytics' && !byId('tab-analytics', HTMLElement).hidden) void drawAnalytics();
  if (pending !== undefined) return;
  pending = window.setTimeout(async () => {
    pending = undefined;
    try {
      state.deliveries = await api<WireDeliverySummary[]>('/api/deliveries');
      renderList(onSelect);
      if (state.selected !== undefined) await renderDetail();
    } catch (error) {
      live(`refresh failed: ${errorMessage(error)}`, false);
    }
  }, 60);
}

async function start(): Promise<void> {
  for (const button of document.querySelectorAll<HTMLButtonElement>('header nav button')) {
    button.addEventListener('click', () => showTab(button.dataset.tab ?? 'deliveries'));
  }
  bindFilters(onSelect);
  initPlayground();
  const initial = await api<WireState>('/api/state');
  state.deliveries = initial.deliveries;
  initSend(initial);
  renderList(onSelect);
  watchChanges({
    open: () => {
      live('● live', true);
      refreshSoon({ type: 'delivery' });
    },
    error: () => live('reconnecting…', false),
    change: refreshSoon,
  });
}

start().catch((error: unknown) => live(`the console could not start: ${errorMessage(error)}`, false));
