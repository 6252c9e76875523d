/** The console's page: markup and styles only; the script of local/console/client fills it in. */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kitebridge console</title>
<style>
  :root { --bg: #f6f7f9; --panel: #fff; --line: #dde1e6; --text: #1d2329; --muted: #5f6b77;
    --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --accent: #14866d; --code: #f1f3f5; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); background: var(--bg); }
  header { display: flex; align-items: center; gap: 18px; padding: 10px 18px; background: #10302a; color: #fff; }
  header h1 { font-size: 16px; margin: 0; font-weight: 600; letter-spacing: .2px; }
  header nav { display: flex; gap: 4px; }
  header nav button { background: transparent; color: #cfe; border: 0; padding: 6px 12px; border-radius: 6px; cursor: pointer; font: inherit; }
  header nav button[aria-selected="true"] { background: #1f5a4d; color: #fff; }
  #live { margin-left: auto; font-size: 12px; color: #9fd; }
  #live.off { color: #f99; }
  main { padding: 14px 18px; }
  .tab[hidden] { display: none; }
  .split { display: grid; grid-template-columns: minmax(380px, 40%) 1fr; gap: 14px; align-items: start; }
  .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; }
  .filters { display: flex; gap: 6px; margin-bottom: 8px; flex-wrap: wrap; }
  .filters input { flex: 1; min-width: 120px; }
  input, select, textarea, button { font: inherit; }
  input, select, textarea { border: 1px solid var(--line); border-radius: 6px; padding: 5px 7px; background: #fff; }
  textarea { width: 100%; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
  button.primary, button.secondary { border-radius: 6px; padding: 6px 12px; cursor: pointer; border: 1px solid var(--accent); }
  button.primary { background: var(--accent); color: #fff; }
  button.secondary { background: #fff; color: var(--accent); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 12px; color: var(--muted); font-weight: 600; }
  #deliveries tbody tr { cursor: pointer; }
  #deliveries tbody tr:hover { background: #eef6f3; }
  #deliveries tbody tr.selected { background: #dff1ea; }
  .status { font-weight: 600; font-variant-numeric: tabular-nums; }
  .s2 { color: var(--ok); } .s4, .s5 { color: var(--bad); }
  .muted { color: var(--muted); }
  .nowrap { white-space: nowrap; }
  .tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 9px; background: #e8ecef; color: #333; margin-left: 4px; }
  .tag.dup { background: #fff3cd; color: var(--warn); }
  .tag.replay { background: #e0ecff; color: #1d4ed8; }
  .yes { color: var(--ok); font-weight: 600; } .no { color: var(--muted); }
  pre { background: var(--code); padding: 8px; border-radius: 6px; overflow: auto; max-height: 320px; font-size: 12px; margin: 6px 0; white-space: pre-wrap; word-break: break-word; }
  h2 { font-size: 15px; margin: 0 0 8px; } h3 { font-size: 13px; margin: 14px 0 6px; color: #24524a; text-transform: uppercase; letter-spacing: .4px; }
  details > summary { cursor: pointer; color: var(--muted); font-size: 12px; }
  .error { color: var(--bad); font-weight: 600; }
  .consumer { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
  .consumer h4 { margin: 0 0 6px; font-size: 13px; }
  .slack { border-left: 4px solid #611f69; padding: 6px 10px; background: #fff; font-family: Lato, system-ui, sans-serif; }
  .slack .sk-header { font-size: 16px; font-weight: 700; margin: 2px 0 6px; }
  .slack .sk-section { margin: 4px 0; }
  .slack .sk-fields { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 12px; margin: 4px 0; }
  .slack .sk-context { font-size: 12px; color: #616061; margin: 4px 0; }
  .slack .sk-actions a { display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 2px 10px; margin: 4px 6px 0 0; color: #1d1c1d; text-decoration: none; font-weight: 600; font-size: 13px; }
  .slack code { background: #f4f4f4; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px; }
  .teams { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; max-width: 560px; }
  .row { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin: 6px 0; }
  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
  .chart svg text { font-size: 11px; fill: #333; }
  .empty { color: var(--muted); padding: 18px 0; text-align: center; }
</style>
</head>
<body>
<header>
  <h1>kitebridge console</h1>
  <nav role="tablist">
    <button role="tab" data-tab="deliveries" aria-selected="true">Deliveries</button>
    <button role="tab" data-tab="send" aria-selected="false">Send</button>
    <button role="tab" data-tab="playground" aria-selected="false">Pattern playground</button>
    <button role="tab" data-tab="analytics" aria-selected="false">Analytics</button>
  </nav>
  <span id="live" class="off">connecting…</span>
</header>
<main>
  <section class="tab" id="tab-deliveries">
    <div class="split">
      <div class="panel">
        <div class="filters">
          <select id="filter-family" aria-label="Event family"><option value="">all events</option></select>
          <select id="filter-status" aria-label="Status">
            <option value="">any status</option><option value="accepted">accepted (2xx)</option><option value="rejected">rejected (4xx, 5xx)</option>
          </select>
          <input id="filter-text" type="search" placeholder="filter: event, route, code…" aria-label="Filter text">
        </div>
        <table id="deliveries">
          <thead><tr><th>#</th><th>time</th><th>route</th><th>auth</th><th>answer</th><th>event</th><th>size</th></tr></thead>
          <tbody></tbody>
        </table>
        <div class="empty" id="no-deliveries">No deliveries yet: send one from the Send tab or with npm run send.</div>
      </div>
      <div class="panel" id="detail"><div class="empty">Pick a delivery to see where it went.</div></div>
    </div>
  </section>
  <section class="tab" id="tab-send" hidden>
    <div class="panel">
      <h2>Send a delivery through the local gateway</h2>
      <div class="row">
        <label>Fixture <select id="send-fixture"></select></label>
        <label>Trigger <select id="send-trigger"><option value="">none (Buildkite webhook)</option></select></label>
        <label>Mode <select id="send-mode">
          <option value="signature">signature</option><option value="token">token</option><option value="path-token">path token</option>
        </select></label>
        <label><input type="checkbox" id="send-wrong"> sign with a wrong secret</label>
      </div>
      <textarea id="send-body" rows="14" placeholder="Leave empty to send the fixture as is, or paste a body here (Load fixture copies it)."></textarea>
      <div class="row">
        <button class="secondary" id="send-load">Load fixture</button>
        <button class="primary" id="send-go">Send</button>
        <span id="send-result" class="muted"></span>
      </div>
    </div>
  </section>
  <section class="tab" id="tab-playground" hidden>
    <div class="split">
      <div class="panel">
        <h2>Pattern playground</h2>
        <p class="muted">An EventBridge pattern in its JSON form; it is run against every event the console recorded, with the same engine as the local bus.</p>
        <textarea id="pattern" rows="14">{
  "source": ["buildkite"],
  "detail-type": ["build.finished"],
  "detail": { "build": { "state": ["failed"] } }
}</textarea>
        <div class="row"><button class="primary" id="pattern-go">Run</button><span id="pattern-error" class="error"></span></div>
        <h3>CDK snippet <button class="secondary" id="pattern-copy">Copy</button></h3>
        <pre id="pattern-snippet" class="muted">Run a valid pattern to get the snippet that adds it as a consumer (README: Add a consumer).</pre>
      </div>
      <div class="panel"><h2>Recorded events</h2><div id="pattern-results" class="empty">Run a pattern.</div></div>
    </div>
  </section>
  <section class="tab" id="tab-analytics" hidden>
    <div class="panel"><h2>Analytics</h2><p class="muted" id="analytics-note">The charts of npm run report, redrawn as records arrive.</p><div class="charts" id="charts"></div></div>
  </section>
</main>
<script src="/console.js"></script>
</body>
</html>
`;
