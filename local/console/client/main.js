// The console page's script: bundled in memory by local/console/app.ts (esbuild), with Microsoft's
// adaptivecards renderer, so the page needs nothing from the network but its own server.
import * as AdaptiveCards from 'adaptivecards';
import { slackToHtml } from '../slack-html';

/** An element with attributes (`on*` functions become listeners) and children (strings are text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'className') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const value = await response.json();
  if (!response.ok) throw new Error(value.message ?? `${response.status}`);
  return value;
}

const json = (value) => h('pre', {}, JSON.stringify(value, null, 2));
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '');
const family = (event) => (event ? event.split('.')[0] : '');

const state = { deliveries: [], selected: undefined, rules: [], analytics: true };

// ---------------------------------------------------------------------------------------------
// Tabs

function showTab(name) {
  for (const button of document.querySelectorAll('header nav button')) {
    button.setAttribute('aria-selected', String(button.dataset.tab === name));
  }
  for (const section of document.querySelectorAll('.tab')) section.hidden = section.id !== `tab-${name}`;
  if (name === 'analytics') void drawAnalytics();
}
for (const button of document.querySelectorAll('header nav button')) {
  button.addEventListener('click', () => showTab(button.dataset.tab));
}

// ---------------------------------------------------------------------------------------------
// Deliveries

function statusClass(status) {
  return status === undefined ? '' : `s${String(status)[0]}`;
}

function renderList() {
  const fam = $('filter-family').value;
  const st = $('filter-status').value;
  const text = $('filter-text').value.trim().toLowerCase();
  const shown = state.deliveries.filter((d) => {
    if (fam && family(d.event) !== fam) return false;
    if (st === 'accepted' && !(d.status >= 200 && d.status < 300)) return false;
    if (st === 'rejected' && !(d.status >= 400)) return false;
    if (text) {
      const hay = [d.id, d.route, d.path, d.auth, d.status, d.code, d.event, d.error].join(' ').toLowerCase();
      if (!hay.includes(text)) return false;
    }
    return true;
  });
  const families = [...new Set(state.deliveries.map((d) => family(d.event)).filter(Boolean))].sort();
  const select = $('filter-family');
  const known = [...select.options].map((o) => o.value);
  for (const f of families) if (!known.includes(f)) select.append(h('option', { value: f }, f));

  const body = $('deliveries').tBodies[0];
  body.replaceChildren(
    ...shown.map((d) =>
      h(
        'tr',
        {
          'data-id': d.id,
          'data-testid': 'delivery-row',
          className: state.selected === d.id ? 'selected' : '',
          onclick: () => select_(d.id),
        },
        h('td', {}, String(d.id)),
        h('td', { className: 'nowrap' }, time(d.time)),
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
            ? h('span', { className: 'tag replay' }, `replay of #${d.sentBy.of}`)
            : null,
        ),
        h('td', {}, d.event ?? ''),
        h('td', { className: 'muted nowrap' }, `${d.size} B`),
      ),
    ),
  );
  $('no-deliveries').hidden = state.deliveries.length > 0;
}
for (const id of ['filter-family', 'filter-status', 'filter-text'])
  $(id).addEventListener('input', renderList);

// eslint-style name: `select` is the DOM's
async function select_(id) {
  state.selected = id;
  renderList();
  await renderDetail();
}

async function renderDetail() {
  if (state.selected === undefined) return;
  let d;
  try {
    d = await api(`/api/deliveries/${state.selected}`);
  } catch (error) {
    $('detail').replaceChildren(h('div', { className: 'error' }, error.message));
    return;
  }
  if (d.id !== state.selected) return;
  const replay = h(
    'button',
    {
      className: 'primary',
      'data-testid': 'replay',
      onclick: async () => {
        replay.disabled = true;
        try {
          const answer = await api(`/api/deliveries/${d.id}/replay`, {});
          replayNote.textContent = `replayed: ${answer.status} ${answer.body}`;
        } catch (error) {
          replayNote.textContent = error.message;
        } finally {
          replay.disabled = false;
        }
      },
    },
    'Replay (re-signed)',
  );
  const replayNote = h('span', { className: 'muted' });
  const accepted = d.status >= 200 && d.status < 300;
  $('detail').replaceChildren(
    h(
      'div',
      { 'data-testid': 'delivery-detail', 'data-id': d.id },
      h(
        'div',
        { className: 'row' },
        h('h2', {}, `#${d.id} ${d.event ?? d.route}`),
        d.route !== '(spool)' ? replay : null,
        replayNote,
      ),
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
          ? h('span', { className: 'tag replay' }, `replay of #${d.sentBy.of}`)
          : null,
      ),
      d.error ? h('p', { className: 'error', 'data-testid': 'detail-error' }, d.error) : null,
      h('h3', {}, 'Answer'),
      json(d.answer),
      ...d.events.map((e) => renderEvent(e)),
      !accepted || d.events.length > 0
        ? null
        : h('p', { className: 'muted' }, 'No event reached the bus yet.'),
      h('h3', {}, 'Request'),
      h(
        'table',
        { 'data-testid': 'headers' },
        h(
          'tbody',
          {},
          ...d.headers.map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, value))),
        ),
      ),
      h('details', { open: true }, h('summary', {}, 'raw body'), h('pre', {}, prettyBody(d))),
    ),
  );
}

function prettyBody(d) {
  if (d.bodyBase64) return `(not UTF-8; base64) ${d.body}`;
  try {
    return JSON.stringify(JSON.parse(d.body), null, 2);
  } catch {
    return d.body;
  }
}

function renderEvent(e) {
  const rules = h(
    'table',
    { 'data-testid': 'rules' },
    h('thead', {}, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'matched'), h('th', {}, 'why / target'))),
    h(
      'tbody',
      {},
      ...e.rules.map((r) =>
        h(
          'tr',
          { 'data-rule': r.ruleId, 'data-matched': String(r.matched) },
          h('td', {}, r.ruleId),
          h('td', { className: r.matched ? 'yes' : 'no' }, r.matched ? 'matched' : 'not matched'),
          h(
            'td',
            {},
            r.matched
              ? `${r.status ?? ''}${r.attempts > 1 ? ` after ${r.attempts} attempts` : ''}${r.error ? `: ${r.error}` : ''}`
              : h('span', { className: 'muted' }, `first failing field ${r.failed.path}: ${r.failed.reason}`),
          ),
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
    ...renderReports(e),
    h('details', {}, h('summary', {}, 'bus envelope'), json(e.envelope)),
  );
}

/** Chat alerts first (what people see), then the other consumers' outcomes. */
const REPORT_ORDER = ['chat-alert', 'chat-duplicate', 'trigger-relay', 'autoscaler', 'analytics', 'skipped'];

/** The fields of an analytics record worth a glance; the whole record is one click away. */
function recordLine(record) {
  return [
    'event',
    'pipeline',
    'branch',
    'build_state',
    'build_duration_s',
    'job_state',
    'queue',
    'queue_wait_s',
  ]
    .filter((key) => record[key] !== null && record[key] !== undefined)
    .map((key) => `${key} ${record[key]}`)
    .join(' · ');
}

function renderReports(e) {
  const out = [];
  const reports = [...e.reports].sort((a, b) => REPORT_ORDER.indexOf(a.kind) - REPORT_ORDER.indexOf(b.kind));
  for (const r of reports) {
    if (r.kind === 'chat-alert') {
      const rendered = r.service === 'teams' ? renderTeams(r.payload) : renderSlack(r.payload);
      out.push(
        h(
          'div',
          { className: 'consumer', 'data-testid': `chat-alert-${r.service}` },
          h('h4', {}, `Chat alert → ${r.destination} (${r.service})`),
          rendered,
          h('details', {}, h('summary', {}, 'raw JSON'), json(r.payload)),
        ),
      );
    } else if (r.kind === 'chat-duplicate') {
      out.push(
        h(
          'div',
          { className: 'consumer', 'data-testid': 'chat-duplicate' },
          h('h4', {}, 'Chat alert: duplicate'),
          h('span', { className: 'tag dup' }, 'alert already posted, not sent again'),
          json(r.attributes),
        ),
      );
    } else if (r.kind === 'analytics') {
      out.push(
        h(
          'div',
          { className: 'consumer', 'data-testid': 'analytics-record' },
          h('h4', {}, `Analytics: ${r.records.length} record(s)`),
          ...r.records.map((record) => h('div', { className: 'muted' }, recordLine(record))),
          h('details', {}, h('summary', {}, 'raw JSON'), json(r.records)),
        ),
      );
    } else if (r.kind === 'autoscaler' || r.kind === 'trigger-relay') {
      out.push(
        h(
          'div',
          { className: 'consumer', 'data-testid': r.kind },
          h('h4', {}, `${r.kind === 'autoscaler' ? 'Autoscaler' : 'Trigger relay'}: ${r.message}`),
          json(r.attributes),
        ),
      );
    } else if (r.kind === 'skipped') {
      out.push(
        h(
          'div',
          { className: 'consumer', 'data-testid': 'skipped' },
          h('h4', {}, `${r.consumer}: ${r.message}`),
          json(r.attributes),
        ),
      );
    }
  }
  for (const dead of e.deadLetters) {
    out.push(
      h(
        'div',
        { className: 'consumer', 'data-testid': 'dead-letter' },
        h('h4', { className: 'error' }, `Dead letter: ${dead.ruleId}`),
        h('p', {}, dead.reason),
      ),
    );
  }
  if (out.length === 0) out.push(h('p', { className: 'muted' }, 'No consumer reported on this event (yet).'));
  return out;
}

// Teams' markdown, as far as the cards kitebridge sends use it: escapes, **bold**, [text](url).
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  const escaped = text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
  result.outputHtml = escaped
    .replace(/\\(.)/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noreferrer">$1</a>')
    .replace(/\u200b/g, '')
    .replace(/\n/g, '<br>');
  result.didProcess = true;
};

function renderSlack(payload) {
  const el = h('div', { className: 'slack' });
  // slackToHtml escapes every piece of text; only http(s) links become anchors.
  el.innerHTML = slackToHtml(payload);
  return el;
}

function renderTeams(payload) {
  const content = payload?.attachments?.[0]?.content;
  const card = new AdaptiveCards.AdaptiveCard();
  try {
    card.parse(content);
    const el = card.render();
    return h('div', { className: 'teams' }, el ?? 'the card rendered to nothing');
  } catch (error) {
    return h('p', { className: 'error' }, `adaptivecards could not render it: ${error.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Send

async function loadFixture() {
  const fixture = $('send-fixture').value;
  const answer = await api(`/api/fixtures/${fixture}`);
  $('send-body').value = answer.body;
}
$('send-load').addEventListener('click', () => void loadFixture());
// A trigger body goes to a trigger's route, a Buildkite body to /buildkite: follow the fixture.
$('send-fixture').addEventListener('change', () => {
  const trigger = $('send-trigger');
  const isTrigger = $('send-fixture').value.startsWith('triggers/');
  if (isTrigger && trigger.value === '' && trigger.options.length > 1) trigger.selectedIndex = 1;
  if (!isTrigger) trigger.value = '';
});
$('send-go').addEventListener('click', async () => {
  const result = $('send-result');
  result.textContent = 'sending…';
  try {
    const answer = await api('/api/send', {
      fixture: $('send-fixture').value,
      body: $('send-body').value,
      mode: $('send-mode').value,
      trigger: $('send-trigger').value || undefined,
      wrongSecret: $('send-wrong').checked,
    });
    result.textContent = `${answer.status} ${answer.body}`;
    result.className = answer.status < 300 ? 's2' : 'error';
  } catch (error) {
    result.textContent = error.message;
    result.className = 'error';
  }
});

// ---------------------------------------------------------------------------------------------
// Pattern playground

$('pattern-go').addEventListener('click', async () => {
  const answer = await api('/api/pattern', { pattern: $('pattern').value });
  const results = $('pattern-results');
  if (!answer.valid) {
    $('pattern-error').textContent = answer.error;
    $('pattern-snippet').textContent = 'Fix the pattern to get its snippet.';
    results.replaceChildren();
    return;
  }
  $('pattern-error').textContent = '';
  $('pattern-snippet').textContent = answer.snippet;
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
        ...answer.events.map((e) =>
          h(
            'tr',
            { 'data-testid': 'pattern-event', 'data-matched': String(e.matched) },
            h('td', {}, `#${e.deliveryId}`),
            h('td', {}, e.detailType),
            h('td', { className: e.matched ? 'yes' : 'no' }, e.matched ? 'matches' : 'no match'),
            h('td', { className: 'muted' }, e.matched ? '' : `${e.failed.path}: ${e.failed.reason}`),
          ),
        ),
      ),
    ),
  );
});
$('pattern-copy').addEventListener('click', async () => {
  const text = $('pattern-snippet').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('pattern-copy').textContent = 'Copied';
  } catch {
    // No clipboard permission (an http page in some browsers): select it for Ctrl+C instead.
    const range = document.createRange();
    range.selectNodeContents($('pattern-snippet'));
    getSelection()?.removeAllRanges();
    getSelection()?.addRange(range);
    $('pattern-copy').textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => ($('pattern-copy').textContent = 'Copy'), 2000);
});

// ---------------------------------------------------------------------------------------------
// Analytics

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function barChart(chart) {
  const bars = chart.bars.slice(0, 12);
  if (bars.length === 0) {
    return h(
      'div',
      { className: 'panel chart' },
      h('h4', {}, chart.title),
      h('p', { className: 'muted' }, 'No data yet.'),
    );
  }
  const width = 420;
  const labelWidth = 150;
  const row = 22;
  const max = Math.max(...bars.map((b) => b.high ?? b.value), 1e-9);
  const scale = (v) => ((width - labelWidth - 110) * v) / max;
  const short = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  const graphic = svg('svg', {
    width,
    height: bars.length * row + 6,
    role: 'img',
    'aria-label': chart.title,
  });
  bars.forEach((b, i) => {
    const y = i * row + 3;
    graphic.append(
      svg('text', { x: 0, y: y + 14 }, b.label.length > 24 ? `${b.label.slice(0, 23)}…` : b.label),
    );
    if (b.high !== undefined) {
      graphic.append(
        svg('rect', { x: labelWidth, y, width: scale(b.high), height: row - 6, fill: '#a7dcc9' }),
      );
    }
    graphic.append(
      svg('rect', { x: labelWidth, y, width: scale(b.value), height: row - 6, fill: '#14866d' }),
    );
    const shown = b.high !== undefined ? `${short(b.value)} / ${short(b.high)}` : short(b.value);
    graphic.append(svg('text', { x: labelWidth + scale(b.high ?? b.value) + 4, y: y + 14 }, shown));
  });
  return h(
    'div',
    { className: 'panel chart', 'data-testid': 'chart' },
    h('h4', {}, `${chart.title} (${chart.unit})`),
    h('p', { className: 'muted' }, chart.description),
    graphic,
  );
}

async function drawAnalytics() {
  const answer = await api('/api/analytics');
  $('analytics-note').textContent = answer.enabled
    ? 'The charts of npm run report over the local records, redrawn as records arrive.'
    : 'Analytics is off in cdk.json ("analytics": false): no records are made.';
  $('charts').replaceChildren(...answer.charts.map(barChart));
}

// ---------------------------------------------------------------------------------------------
// Live updates

let pending;
function refreshSoon(change) {
  if (change.type === 'analytics' && !$('tab-analytics').hidden) void drawAnalytics();
  if (pending) return;
  pending = setTimeout(async () => {
    pending = undefined;
    state.deliveries = await api('/api/deliveries');
    renderList();
    if (state.selected !== undefined) await renderDetail();
  }, 60);
}

async function start() {
  const initial = await api('/api/state');
  state.deliveries = initial.deliveries;
  state.rules = initial.rules;
  const fixtures = $('send-fixture');
  fixtures.append(
    h(
      'optgroup',
      { label: 'Buildkite' },
      ...initial.fixtures.buildkite.map((f) => h('option', { value: `buildkite/${f}` }, f)),
    ),
    h(
      'optgroup',
      { label: 'Triggers' },
      ...initial.fixtures.triggers.map((f) => h('option', { value: `triggers/${f}` }, f)),
    ),
  );
  fixtures.value = 'buildkite/build.finished';
  for (const t of initial.triggers)
    $('send-trigger').append(h('option', { value: t.name }, `${t.name} (${t.kind})`));
  renderList();
  const events = new EventSource('/api/stream');
  events.addEventListener('open', () => {
    $('live').textContent = '● live';
    $('live').className = '';
    refreshSoon({ type: 'delivery' });
  });
  events.addEventListener('error', () => {
    $('live').textContent = 'reconnecting…';
    $('live').className = 'off';
  });
  events.addEventListener('change', (message) => refreshSoon(JSON.parse(message.data)));
}

void start();
