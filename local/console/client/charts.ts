/** The Analytics tab: the charts of `npm run report` as SVG bar charts. */
import type { WireAnalytics } from '../wire';
import { api } from './api';
import { byId, h, svg } from './dom';
import { errorMessage } from './format';

type Chart = WireAnalytics['charts'][number];

const WIDTH = 420;
const LABEL_WIDTH = 150;
const ROW = 22;

const short = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

function barChart(chart: Chart): HTMLElement {
  const bars = chart.bars.slice(0, 12);
  if (bars.length === 0) {
    return h(
      'div',
      { className: 'panel chart' },
      h('h4', {}, chart.title),
      h('p', { className: 'muted' }, 'No data yet.'),
    );
  }
  const max = Math.max(...bars.map((b) => b.high ?? b.value), 1e-9);
  const scale = (v: number) => ((WIDTH - LABEL_WIDTH - 110) * v) / max;
  const graphic = svg('svg', {
    width: WIDTH,
    height: bars.length * ROW + 6,
    role: 'img',
    'aria-label': chart.title,
  });
  bars.forEach((b, i) => {
    const y = i * ROW + 3;
    graphic.append(
      svg('text', { x: 0, y: y + 14 }, b.label.length > 24 ? `${b.label.slice(0, 23)}…` : b.label),
    );
    if (b.high !== undefined) {
      graphic.append(
        svg('rect', { x: LABEL_WIDTH, y, width: scale(b.high), height: ROW - 6, fill: '#a7dcc9' }),
      );
    }
    graphic.append(
      svg('rect', { x: LABEL_WIDTH, y, width: scale(b.value), height: ROW - 6, fill: '#14866d' }),
    );
    const shown = b.high !== undefined ? `${short(b.value)} / ${short(b.high)}` : short(b.value);
    graphic.append(svg('text', { x: LABEL_WIDTH + scale(b.high ?? b.value) + 4, y: y + 14 }, shown));
  });
  return h(
    'div',
    { className: 'panel chart', 'data-testid': 'chart' },
    h('h4', {}, `${chart.title} (${chart.unit})`),
    h('p', { className: 'muted' }, chart.description),
    graphic,
  );
}

/** Fetches the charts and redraws them. */
export async function drawAnalytics(): Promise<void> {
  const note = byId('analytics-note', HTMLElement);
  let answer: WireAnalytics;
  try {
    answer = await api<WireAnalytics>('/api/analytics');
  } catch (error) {
    note.textContent = errorMessage(error);
    return;
  }
  note.textContent = answer.enabled
    ? 'The charts of npm run report over the local records, redrawn as records arrive.'
    : 'Analytics is off in cdk.json ("analytics": false): no records are made.';
  byId('charts', HTMLElement).replaceChildren(...answer.charts.map(barChart));
}
