/**
 * The live viewer (`GET /`): one self-contained HTML page — inline CSS and JS, no
 * external resources — that follows `/v1/events` and polls `/v1/status` and
 * `/v1/world` every 2 s, so it keeps working when the event stream drops.
 *
 * Every value sits in an element with a stable id (`committed-height`,
 * `execution-height`, `execution-lag`, `latest-block-hash`,
 * `latest-execution-block-hash`, `latest-execution-state-root`, `node-id`,
 * `world-id`, `world-agents`, `world-clock`, …) for people and browser tests alike.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { sha256 } from "npm:@noble/hashes@2.4.0/sha2.js";

/**
 * Ids of the page's value elements: a contract for browser tests and scrapers.
 *
 * @example
 * ```ts
 * import { VIEWER_ELEMENT_IDS } from "./viewer_page.ts";
 * VIEWER_ELEMENT_IDS.includes("committed-height"); // true
 * ```
 */
export const VIEWER_ELEMENT_IDS: readonly string[] = [
  "connection-state",
  "node-id",
  "world-id",
  "node-role",
  "node-running",
  "execution-mode",
  "tick-count",
  "committed-height",
  "execution-height",
  "execution-lag",
  "mempool-size",
  "latest-block-hash",
  "latest-execution-block-hash",
  "latest-execution-state-root",
  "world-agents",
  "world-clock",
  "world-journal-len",
  "world-energy-total",
  "world-chunks",
  "world-resources",
  "recent-blocks",
  "last-error",
  "updated-at",
];

const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1d2330; --muted: #667085;
  --card: #fff; --line: #d9dee7; --accent: #1f6feb; --ok: #1a7f37; --warn: #9a6700;
  --bad: #cf222e; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1218; --fg: #e6e9ef;
  --muted: #8b94a7; --card: #171b23; --line: #2a303c; --accent: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 1rem; padding: 1rem 1.5rem;
  border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 1.15rem; margin: 0; flex: 1; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em;
  color: var(--muted); margin: 0 0 .6rem; }
main { max-width: 1100px; margin: 0 auto; padding: 1.25rem 1.5rem; display: grid; gap: 1rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 1rem 1.1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 1rem;
  background: none; border: 0; padding: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .9rem 1.1rem; }
.label { color: var(--muted); font-size: .8rem; }
.big { font-size: 2rem; font-weight: 600; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.2rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
.hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .85rem; overflow-wrap: anywhere; }
.pill { font-size: .8rem; padding: .15rem .6rem; border-radius: 999px;
  border: 1px solid currentColor; }
.pill.live { color: var(--ok); } .pill.polling { color: var(--warn); }
.pill.offline { color: var(--bad); }
.lagging { color: var(--warn); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 500; font-size: .8rem; }
ul { margin: 0; padding-left: 1.1rem; }
pre { margin: 0; white-space: pre-wrap; color: var(--bad); }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding-bottom: 1rem; }
`;

const SCRIPT = `
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const pick = (o, ...keys) => {
    for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
    return null;
  };
  const show = (id, v) => {
    const text = v === null || v === undefined || v === "" ? "\\u2013" : String(v);
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  };
  const view = { committed: 0, blockHash: null, executed: 0, execHash: null, root: null };
  const recent = [];

  function noteCommitted(height, hash) {
    if (height === null || height < view.committed) return;
    view.committed = height;
    if (hash) view.blockHash = hash;
  }
  function noteExecuted(height, hash, root) {
    if (height === null || height < view.executed) return;
    view.executed = height;
    if (hash) view.execHash = hash;
    if (root) view.root = root;
    for (const b of recent) if (b.height <= height) b.executed = true;
  }
  function render() {
    show("committed-height", view.committed);
    show("execution-height", view.executed);
    const lag = Math.max(0, view.committed - view.executed);
    show("execution-lag", lag);
    $("execution-lag").classList.toggle("lagging", lag > 1);
    show("latest-block-hash", view.blockHash);
    show("latest-execution-block-hash", view.execHash);
    show("latest-execution-state-root", view.root);
    const rows = recent.map((b) => {
      const tr = document.createElement("tr");
      for (const v of [b.height, b.hash.slice(0, 16) + "\\u2026", b.actions, b.executed ? "yes" : "\\u2013"]) {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.append(td);
      }
      return tr;
    });
    $("recent-blocks").replaceChildren(...rows);
    show("updated-at", new Date().toLocaleTimeString());
  }
  function applyStatus(s) {
    const c = s.consensus || {};
    show("node-id", s.node_id);
    show("world-id", s.world_id);
    show("node-role", s.role);
    show("node-running", s.running === undefined ? null : s.running ? "running" : "stopped");
    show("tick-count", num(s.tick_count));
    show("mempool-size", num(pick(s, "mempool_size")));
    show("execution-mode", pick(s, "execution_mode"));
    noteCommitted(num(c.committed_height), c.last_block_hash);
    noteExecuted(num(c.last_execution_height), c.last_execution_block_hash,
      c.last_execution_state_root);
    $("error-box").hidden = !s.last_error;
    show("last-error", s.last_error);
    render();
  }
  function applyWorld(w) {
    show("world-agents", num(pick(w, "agent_count", "agentCount")));
    show("world-clock", num(pick(w, "clock")));
    show("world-journal-len", num(pick(w, "journal_len", "journalLen")));
    show("world-energy-total", num(pick(w, "energy_total", "energyTotal")));
    show("world-chunks", num(pick(w, "chunk_count", "chunkCount")));
    const totals = pick(w, "resource_totals", "resourceTotals") || {};
    const items = Object.keys(totals).sort().map((k) => {
      const li = document.createElement("li");
      li.textContent = k + ": " + totals[k];
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.textContent = "none yet";
      items.push(li);
    }
    $("world-resources").replaceChildren(...items);
  }
  function setConnection(state, text) {
    const el = $("connection-state");
    el.className = "pill " + state;
    el.dataset.state = state;
    el.textContent = text;
  }
  async function getJson(path) {
    const res = await fetch(path, { cache: "no-store", headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(path + ": HTTP " + res.status);
    return res.json();
  }
  let source = null;
  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      applyStatus(await getJson("/v1/status"));
      applyWorld(await getJson("/v1/world"));
      if (!source || source.readyState !== EventSource.OPEN) {
        setConnection("polling", "polling every 2 s");
      }
    } catch (_) {
      setConnection("offline", "node unreachable");
    } finally {
      polling = false;
    }
  }
  function connect() {
    source = new EventSource("/v1/events");
    source.onopen = () => setConnection("live", "live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 5000);
      }
      setConnection("polling", "polling every 2 s");
    };
    source.addEventListener("commit", (ev) => {
      const d = JSON.parse(ev.data);
      noteCommitted(d.height, d.hash);
      recent.unshift({ height: d.height, hash: d.hash, actions: d.action_count, executed: false });
      recent.length = Math.min(recent.length, 10);
      render();
    });
    source.addEventListener("execution", (ev) => {
      const d = JSON.parse(ev.data);
      noteExecuted(d.execution_height, d.execution_block_hash, d.execution_state_root);
      render();
    });
    source.addEventListener("node-error", (ev) => {
      const d = JSON.parse(ev.data);
      $("error-box").hidden = false;
      show("last-error", d.source + " error at height " + d.height + ": " + d.message);
    });
  }
  connect();
  poll();
  setInterval(poll, 2000);
})();
`;

const BODY = `
<header>
  <h1>Agent World Runtime <span class="label">live viewer</span></h1>
  <span id="connection-state" class="pill" data-state="connecting">connecting\u2026</span>
</header>
<main>
  <section>
    <h2>Node</h2>
    <dl>
      <dt>Node</dt><dd id="node-id">\u2013</dd>
      <dt>World</dt><dd id="world-id">\u2013</dd>
      <dt>Role</dt><dd id="node-role">\u2013</dd>
      <dt>State</dt><dd id="node-running">\u2013</dd>
      <dt>Execution</dt><dd id="execution-mode">\u2013</dd>
      <dt>Ticks</dt><dd id="tick-count">\u2013</dd>
    </dl>
  </section>
  <div class="cards">
    <div class="card"><div class="label">Committed height</div>
      <div class="big" id="committed-height">\u2013</div></div>
    <div class="card"><div class="label">Execution height</div>
      <div class="big" id="execution-height">\u2013</div></div>
    <div class="card"><div class="label">Execution lag</div>
      <div class="big" id="execution-lag">\u2013</div></div>
    <div class="card"><div class="label">Mempool</div>
      <div class="big" id="mempool-size">\u2013</div></div>
  </div>
  <section>
    <h2>Latest hashes</h2>
    <dl>
      <dt>Block</dt><dd class="hash" id="latest-block-hash">\u2013</dd>
      <dt>Execution block</dt><dd class="hash" id="latest-execution-block-hash">\u2013</dd>
      <dt>State root</dt><dd class="hash" id="latest-execution-state-root">\u2013</dd>
    </dl>
  </section>
  <section>
    <h2>World</h2>
    <dl>
      <dt>Agents</dt><dd id="world-agents">\u2013</dd>
      <dt>Clock</dt><dd id="world-clock">\u2013</dd>
      <dt>Journal events</dt><dd id="world-journal-len">\u2013</dd>
      <dt>Energy total</dt><dd id="world-energy-total">\u2013</dd>
      <dt>State chunks</dt><dd id="world-chunks">\u2013</dd>
      <dt>Resources</dt><dd><ul id="world-resources"><li>none yet</li></ul></dd>
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
  <footer>updated <span id="updated-at">\u2013</span></footer>
</main>
`;

function cspHash(text: string): string {
  const digest = sha256(new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}

let cached: { html: string; csp: string } | null = null;

function build(): { html: string; csp: string } {
  cached ??= {
    html: `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>awr live</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`,
    // Only this page's own script and style run; it talks only to its own origin.
    csp: [
      "default-src 'none'",
      `script-src ${cspHash(SCRIPT)}`,
      `style-src ${cspHash(STYLE)}`,
      "connect-src 'self'",
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  };
  return cached;
}

/**
 * The viewer page's HTML.
 *
 * @example
 * ```ts
 * import { viewerPageHtml } from "./viewer_page.ts";
 * viewerPageHtml().includes('id="committed-height"'); // true
 * ```
 */
export function viewerPageHtml(): string {
  return build().html;
}

/**
 * The `content-security-policy` to serve the page with: it allows exactly the
 * page's inline script and style (by hash) and requests to its own origin.
 *
 * @example
 * ```ts
 * import { viewerPageCsp } from "./viewer_page.ts";
 * viewerPageCsp().startsWith("default-src 'none'"); // true
 * ```
 */
export function viewerPageCsp(): string {
  return build().csp;
}
