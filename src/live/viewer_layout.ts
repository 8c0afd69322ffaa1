/**
 * The viewer page's style sheet and markup (no script): a header with the driver,
 * halted / lag-limit badges and the connection state; height cards; the world map
 * beside the height chart; the journal feed beside the action form; hashes and
 * recent blocks. Every value element has a stable id (see `VIEWER_ELEMENT_IDS`).
 * @module
 */

/** The page's CSS (served inline, allowed by its hash). */
export const VIEWER_STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1d2330; --muted: #667085;
  --card: #fff; --line: #d9dee7; --accent: #1f6feb; --ok: #1a7f37; --warn: #9a6700;
  --bad: #cf222e; --map: #eef2f7; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1218; --fg: #e6e9ef;
  --muted: #8b94a7; --card: #171b23; --line: #2a303c; --accent: #58a6ff; --map: #10151d; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: .7rem; padding: .9rem 1.5rem;
  border-bottom: 1px solid var(--line); background: var(--card); flex-wrap: wrap; }
h1 { font-size: 1.15rem; margin: 0; flex: 1; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em;
  color: var(--muted); margin: 0 0 .6rem; }
main { max-width: 1240px; margin: 0 auto; padding: 1.25rem 1.5rem; display: grid; gap: 1rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 1rem 1.1rem; min-width: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 1rem; }
.split { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .8rem 1rem; }
.label { color: var(--muted); font-size: .8rem; }
.big { font-size: 1.9rem; font-weight: 600; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
.hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .85rem; overflow-wrap: anywhere; }
.pill { font-size: .8rem; padding: .15rem .6rem; border-radius: 999px;
  border: 1px solid currentColor; white-space: nowrap; }
.pill.live, .pill.ok { color: var(--ok); } .pill.polling { color: var(--warn); }
.pill.offline, .pill.bad { color: var(--bad); } .pill.driver { color: var(--accent); }
.pill.warn { color: var(--warn); }
.lagging { color: var(--warn); }
.note { color: var(--muted); font-size: .85rem; margin: .4rem 0 0; overflow-wrap: anywhere; }
.note.bad { color: var(--bad); }
svg { display: block; width: 100%; height: auto; }
#world-map { background: var(--map); border-radius: 6px; max-width: 430px; margin: 0 auto; }
#world-map text.message { fill: var(--muted); font-size: 40px; }
#world-map line.grid { stroke: var(--line); stroke-width: 2; }
#world-map circle { stroke: var(--card); stroke-width: 2; cursor: pointer; }
#world-map text { fill: var(--fg); font-size: 22px; }
#height-chart line.grid { stroke: var(--line); }
#height-chart text { fill: var(--muted); font-size: 11px; }
#height-chart .committed { stroke: var(--accent); fill: none; stroke-width: 2; }
#height-chart .executed { stroke: var(--ok); fill: none; stroke-width: 6; stroke-opacity: .45; }
#height-chart .committed-now { fill: var(--accent); }
#height-chart .executed-now { fill: var(--ok); }
.legend { display: flex; gap: 1rem; font-size: .8rem; color: var(--muted); }
.legend b { font-weight: 600; } .legend .c { color: var(--accent); } .legend .e { color: var(--ok); }
.world-facts { margin-top: .7rem; }
ol.feed { list-style: none; margin: 0; padding: 0; max-height: 340px; overflow: auto;
  font-size: .88rem; }
ol.feed li { padding: .25rem .2rem; border-bottom: 1px solid var(--line); }
ol.feed li .h { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: .5rem; }
ol.feed li.rejected { color: var(--bad); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 500; font-size: .8rem; }
ul { margin: 0; padding-left: 1.1rem; }
pre { margin: 0; white-space: pre-wrap; color: var(--bad); }
input, textarea, button { font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; padding: .35rem .5rem; width: 100%; }
textarea { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; }
button { width: auto; background: var(--accent); color: #fff; border: 0; cursor: pointer;
  padding: .4rem 1rem; margin-top: .5rem; }
.form { display: grid; gap: .4rem; }
ul.tracked { list-style: none; padding: 0; margin-top: .7rem; font-size: .88rem; }
ul.tracked li { padding: .25rem 0; border-bottom: 1px solid var(--line); }
ul.tracked li[data-state="rejected"] { color: var(--bad); }
ul.tracked li[data-state="included"] { color: var(--ok); }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding-bottom: 1rem; }
`;

const DASH = "\u2013";

/** The page's body markup (values start as dashes; the script fills them). */
export const VIEWER_BODY = `
<header>
  <h1>Agent World Runtime <span class="label">live viewer</span></h1>
  <span class="pill driver">driver <b id="driver-name">${DASH}</b></span>
  <span id="halted-badge" class="pill bad" hidden>halted</span>
  <span id="lag-limit-badge" class="pill warn" hidden>lag limit engaged</span>
  <span id="connection-state" class="pill" data-state="connecting">connecting\u2026</span>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="label">Committed height</div>
      <div class="big" id="committed-height">${DASH}</div></div>
    <div class="card"><div class="label">Execution height</div>
      <div class="big" id="execution-height">${DASH}</div></div>
    <div class="card"><div class="label">Execution lag</div>
      <div class="big" id="execution-lag">${DASH}</div></div>
    <div class="card"><div class="label">Mempool</div>
      <div class="big" id="mempool-size">${DASH}</div></div>
    <div class="card"><div class="label">Slot</div>
      <div class="big" id="consensus-slot">${DASH}</div></div>
    <div class="card"><div class="label">Epoch</div>
      <div class="big" id="consensus-epoch">${DASH}</div></div>
  </div>
  <div class="split">
    <section>
      <h2>World</h2>
      <svg id="world-map" viewBox="0 0 1024 1024" role="img" aria-label="agents by position"
        data-agents="0"></svg>
      <p class="note" id="world-status" data-state="loading">loading\u2026</p>
      <p class="note" id="agent-detail" data-state="none">click an agent for its details</p>
      <dl class="world-facts">
        <dt>Agents</dt><dd><span id="world-agents">${DASH}</span>
          <span class="label">(<span id="map-agent-count">0</span> on the map)</span></dd>
        <dt>Clock</dt><dd id="world-clock">${DASH}</dd>
        <dt>Journal events</dt><dd id="world-journal-len">${DASH}</dd>
        <dt>Energy total</dt><dd id="world-energy-total">${DASH}</dd>
        <dt>State chunks</dt><dd id="world-chunks">${DASH}</dd>
        <dt>Resources</dt><dd><ul id="world-resources"><li>none yet</li></ul></dd>
      </dl>
    </section>
    <div>
      <section>
        <h2>Heights over the last minutes</h2>
        <svg id="height-chart" viewBox="0 0 600 220" role="img"
          aria-label="committed and executed heights" data-points="0"></svg>
        <div class="legend"><span class="c"><b>\u2501</b> committed</span>
          <span class="e"><b>\u2501</b> executed (wide)</span>
          <span><span id="chart-points">0</span> samples</span></div>
      </section>
      <section>
        <h2>Node</h2>
        <dl>
          <dt>Node</dt><dd id="node-id">${DASH}</dd>
          <dt>World</dt><dd id="world-id">${DASH}</dd>
          <dt>Role</dt><dd id="node-role">${DASH}</dd>
          <dt>State</dt><dd id="node-running">${DASH}</dd>
          <dt>Halted</dt><dd id="node-halted">${DASH}</dd>
          <dt>Lag limit</dt><dd id="lag-limit">${DASH}</dd>
          <dt>Execution</dt><dd id="execution-mode">${DASH}</dd>
          <dt>Ticks</dt><dd id="tick-count">${DASH}</dd>
          <dt>Network height</dt><dd id="network-height">${DASH}</dd>
          <dt>Peers</dt><dd id="peer-heads">${DASH}</dd>
        </dl>
      </section>
    </div>
  </div>
  <div class="split">
    <section>
      <h2>Journal</h2>
      <ol class="feed" id="journal-feed"></ol>
      <p class="note" id="journal-status">loading\u2026</p>
    </section>
    <section>
      <h2>Post an action</h2>
      <div class="form">
        <label class="label" for="action-token">API token (kept in this page only)</label>
        <input id="action-token" type="password" autocomplete="off" spellcheck="false">
        <label class="label" for="action-body">Action JSON</label>
        <textarea id="action-body" rows="3" spellcheck="false">{"kind": "register", "agent": "viewer-1"}</textarea>
        <div><button id="action-submit" type="button">Post</button>
          <span class="label" id="action-result"></span></div>
      </div>
      <ul class="tracked" id="tracked-actions"></ul>
    </section>
  </div>
  <section>
    <h2>Latest hashes</h2>
    <dl>
      <dt>Block</dt><dd class="hash" id="latest-block-hash">${DASH}</dd>
      <dt>Execution block</dt><dd class="hash" id="latest-execution-block-hash">${DASH}</dd>
      <dt>State root</dt><dd class="hash" id="latest-execution-state-root">${DASH}</dd>
    </dl>
  </section>
  <section>
    <h2>Recent blocks</h2>
    <table>
      <thead><tr><th>Height</th><th>Hash</th><th>Actions</th><th>Executed</th></tr></thead>
      <tbody id="recent-blocks"></tbody>
    </table>
  </section>
  <section id="error-box" hidden>
    <h2>Last error</h2>
    <pre id="last-error"></pre>
  </section>
  <footer>updated <span id="updated-at">${DASH}</span></footer>
</main>
`;
