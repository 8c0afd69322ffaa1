/**
 * The viewer's behaviour (browser JavaScript, as a string): it follows
 * `/v1/events` and polls every 2 s `/v1/status` (the only call whose failure
 * means "node unreachable"), `/v1/world` (a 501 `NOT_PROVIDED_BY_DRIVER` becomes
 * "not provided by driver X"), `/v1/journal?from=&limit=` and the tracked actions'
 * `/v1/actions/:id`. Everything it keeps is bounded ({@link VIEWER_LIMITS}); the API
 * token typed into the form lives in the input only, never in storage.
 * @module
 */

/**
 * Bounds of what the page keeps (documented in the README).
 *
 * @example
 * ```ts
 * import { VIEWER_LIMITS } from "./viewer_script.ts";
 * VIEWER_LIMITS.chartSamples; // 300
 * ```
 */
export const VIEWER_LIMITS = {
  /** Height samples kept for the chart (one per second at most: 5 minutes). */
  chartSamples: 300,
  /** Oldest sample age, ms. */
  chartMs: 300_000,
  /** Journal lines in the feed. */
  feed: 100,
  /** Events asked per `/v1/journal` request. */
  journalPage: 50,
  /** Agents drawn on the map (from `/v1/world`'s `agents` or seen in the journal). */
  mapAgents: 500,
  /** Posted actions followed at once. */
  tracked: 10,
} as const;

/** Browser JavaScript of the page's state, polling, events and action form. */
export const VIEWER_MAIN_SCRIPT = `
  const LIMITS = ${JSON.stringify(VIEWER_LIMITS)};
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
  const note = (id, state, text) => {
    const el = $(id);
    el.dataset.state = state;
    el.classList.toggle("bad", state === "error");
    if (el.textContent !== text) el.textContent = text;
  };
  const view = { committed: 0, blockHash: null, executed: 0, execHash: null, root: null };
  const recent = [];
  const samples = [];
  const feed = [];
  const journalAgents = new Map();
  const tracked = [];
  let driver = null;
  let worldAgents = null;
  let worldSize = 1024;
  let journalLen = null;
  let journalNext = null;
  let journalSkip = 0;

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
  function sample() {
    const t = Date.now();
    const last = samples[samples.length - 1];
    if (last && t - last.t < 1000) {
      last.c = view.committed;
      last.e = view.executed;
    } else {
      samples.push({ t, c: view.committed, e: view.executed });
    }
    while (samples.length > LIMITS.chartSamples ||
      (samples.length > 1 && t - samples[0].t > LIMITS.chartMs)) samples.shift();
    drawChart($("height-chart"), samples);
    show("chart-points", samples.length);
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
    sample();
    show("updated-at", new Date().toLocaleTimeString());
  }
  function applyStatus(s) {
    const c = s.consensus || {};
    driver = pick(s, "driver") || driver;
    show("driver-name", driver);
    show("node-id", s.node_id);
    show("world-id", s.world_id);
    show("node-role", s.role);
    show("node-running", s.running === undefined ? null : s.running ? "running" : "stopped");
    show("tick-count", num(s.tick_count));
    show("mempool-size", num(pick(s, "mempool_size")));
    show("execution-mode", pick(s, "execution_mode"));
    show("consensus-slot", num(c.slot));
    show("consensus-epoch", num(c.epoch));
    const h = s.halted;
    show("node-halted", h === undefined ? null : h ? "halted: " + (h.reason || h.code) : "no");
    $("halted-badge").hidden = !h;
    if (h) $("halted-badge").textContent = "halted (" + (h.code || "?") + ")";
    const engaged = s.lag_limit_engaged;
    const max = num(s.max_execution_lag);
    show("lag-limit", engaged === undefined ? null
      : (engaged ? "engaged" : "not engaged") + (max === null ? "" : " (max lag " + max + ")"));
    $("lag-limit-badge").hidden = engaged !== true;
    noteCommitted(num(c.committed_height), c.last_block_hash);
    noteExecuted(num(c.last_execution_height), c.last_execution_block_hash,
      c.last_execution_state_root);
    $("error-box").hidden = !s.last_error;
    show("last-error", s.last_error);
    render();
  }
  function notProvided(res) {
    return res.body && res.body.code === "NOT_PROVIDED_BY_DRIVER"
      ? (res.body.driver || driver || "?") : null;
  }
  function failure(res) {
    return "HTTP " + res.status + (res.body && res.body.error ? ": " + res.body.error : "");
  }
  function drawAgents() {
    const list = worldAgents || [...journalAgents.values()];
    show("map-agent-count", drawMap($("world-map"), list.slice(0, LIMITS.mapAgents), worldSize));
    return list.length;
  }
  function applyWorld(res) {
    const w = res.status === 200 && res.body && typeof res.body === "object" ? res.body : null;
    const absent = notProvided(res);
    show("world-agents", w ? num(pick(w, "agent_count", "agentCount")) : null);
    show("world-clock", w ? num(pick(w, "clock")) : null);
    journalLen = w ? num(pick(w, "journal_len", "journalLen")) : null;
    show("world-journal-len", journalLen);
    show("world-energy-total", w ? num(pick(w, "energy_total", "energyTotal")) : null);
    show("world-chunks", w ? num(pick(w, "chunk_count", "chunkCount", "bucket_count")) : null);
    const totals = (w && pick(w, "resource_totals", "resourceTotals")) || {};
    const items = Object.keys(totals).sort().map((k) => {
      const li = document.createElement("li");
      li.textContent = k + ": " + totals[k];
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.textContent = w ? "none yet" : "\\u2013";
      items.push(li);
    }
    $("world-resources").replaceChildren(...items);
    worldAgents = w && Array.isArray(w.agents) ? w.agents.slice(0, LIMITS.mapAgents) : null;
    if (w) worldSize = num(pick(w, "size", "world_size")) || worldSize;
    const drawn = drawAgents();
    if (absent) {
      note("world-status", "not-provided", "World view not provided by driver " + absent);
    } else if (!w) {
      note("world-status", "error", "world unavailable: " + failure(res));
    } else if (worldAgents) {
      const total = num(pick(w, "agent_count", "agentCount"));
      note("world-status", "ok", (total !== null && total > drawn ? "first " + drawn + " of " + total
        : drawn) + " agents by position \\u00b7 size: energy \\u00b7 colour: resources held");
    } else {
      note("world-status", "ok", drawn > 0
        ? drawn + " agents placed from the journal (this node's /v1/world lists none)"
        : "this node's /v1/world lists no agent positions");
    }
  }
  function noteJournalAgent(e) {
    if (typeof e.agent !== "string") return;
    const known = journalAgents.get(e.agent);
    if (!known && e.kind !== "registered") return;
    const a = known || { id: e.agent, x: 0, y: 0, energy: 0, resources: {} };
    if (num(e.x) !== null && num(e.y) !== null) { a.x = e.x; a.y = e.y; }
    if (num(e.energy) !== null) a.energy = e.energy;
    if (e.kind === "granted") a.resources[e.resource] = (a.resources[e.resource] || 0) + e.amount;
    journalAgents.delete(e.agent);
    journalAgents.set(e.agent, a);
    while (journalAgents.size > LIMITS.mapAgents) {
      journalAgents.delete(journalAgents.keys().next().value);
    }
  }
  function renderFeed() {
    const items = feed.map((f) => {
      const li = document.createElement("li");
      li.dataset.kind = f.kind;
      if (f.kind === "rejected") li.className = "rejected";
      const h = document.createElement("span");
      h.className = "h";
      h.textContent = (f.height === null ? "" : "h" + f.height + " ") + "#" + f.index;
      li.append(h, document.createTextNode(f.text));
      return li;
    });
    $("journal-feed").replaceChildren(...items);
  }
  async function pollJournal() {
    if (journalSkip > 0) {
      journalSkip--;
      return;
    }
    let from = journalNext;
    if (from === null || (journalLen !== null && journalLen - from > 10 * LIMITS.journalPage)) {
      from = journalLen === null ? 0 : Math.max(0, journalLen - LIMITS.journalPage);
    }
    if (journalNext !== null && journalLen !== null && from >= journalLen) return;
    const res = await request("/v1/journal?from=" + from + "&limit=" + LIMITS.journalPage);
    const body = res.body;
    if (res.status !== 200 || !body || !Array.isArray(body.events)) {
      const absent = notProvided(res);
      // Ask again later, not every poll, when the node has no journal to give.
      journalSkip = 5;
      if (absent) note("journal-status", "not-provided", "Journal not provided by driver " + absent);
      else note("journal-status", "error", "journal unavailable: " + failure(res));
      return;
    }
    const events = body.events.slice(0, LIMITS.journalPage);
    events.forEach((e, i) => {
      if (!e || typeof e !== "object") return;
      noteJournalAgent(e);
      feed.unshift({
        index: num(e.index) ?? from + i,
        height: num(e.height),
        kind: String(e.kind),
        text: describeEvent(e),
      });
    });
    feed.length = Math.min(feed.length, LIMITS.feed);
    journalNext = num(body.next) ?? from + events.length;
    if (events.length > 0) {
      renderFeed();
      if (!worldAgents) drawAgents();
    }
    const total = num(body.journal_len) ?? journalLen;
    note("journal-status", "ok", "newest first \\u00b7 " + feed.length + " shown" +
      (total === null ? "" : " of " + total + " events"));
  }
  function renderTracked() {
    const items = tracked.map((t) => {
      const li = document.createElement("li");
      li.dataset.state = t.state;
      li.dataset.id = t.id;
      li.textContent = t.id.slice(0, 12) + "\\u2026 \\u2192 " + t.text;
      return li;
    });
    $("tracked-actions").replaceChildren(...items);
  }
  function outcome(t, res) {
    const r = res.body || {};
    if (res.status === 404) return Object.assign(t, { state: "unknown", done: true, text: "unknown to the node" });
    if (res.status !== 200) return Object.assign(t, { text: "cannot ask: " + failure(res) });
    const at = " at height " + r.height + " (#" + r.index + ")";
    if (r.state === "pending") return Object.assign(t, { state: "pending", text: "pending in the mempool" });
    if (r.state === "rejected") {
      return Object.assign(t, { state: "rejected", done: true, text: "rejected" + at + ": " + r.reason });
    }
    if (r.state === "included") {
      const done = r.executed !== false;
      return Object.assign(t, { state: done ? "included" : "committed", done,
        text: "included" + at + (r.executed === false ? ", not executed yet"
          : r.executed === null ? " (the driver gives no verdict)" : "") });
    }
    return Object.assign(t, { text: "state " + String(r.state) });
  }
  async function followActions() {
    for (const t of tracked) {
      if (!t.done) outcome(t, await request("/v1/actions/" + t.id));
    }
    renderTracked();
  }
  async function postAction() {
    const button = $("action-submit");
    if (button.disabled) return;
    let action;
    try {
      action = JSON.parse($("action-body").value);
    } catch (e) {
      show("action-result", "not JSON: " + e.message);
      return;
    }
    button.disabled = true;
    try {
      const res = await request("/v1/actions", {
        method: "POST",
        headers: { "content-type": "application/json",
          authorization: "Bearer " + $("action-token").value },
        body: JSON.stringify(action),
      });
      if ((res.status === 200 || res.status === 202) && res.body && Array.isArray(res.body.ids)) {
        for (const id of res.body.ids) {
          tracked.unshift({ id: String(id), state: "pending", text: "sent", done: false });
        }
        tracked.length = Math.min(tracked.length, LIMITS.tracked);
        show("action-result", "accepted " + res.body.ids.length);
        await followActions();
      } else {
        show("action-result", "refused: " + failure(res) +
          (res.body && res.body.code ? " [" + res.body.code + "]" : ""));
      }
    } catch (e) {
      show("action-result", "not sent: " + e.message);
    } finally {
      button.disabled = false;
    }
  }
  function setConnection(state, text) {
    const el = $("connection-state");
    el.className = "pill " + state;
    el.dataset.state = state;
    el.textContent = text;
  }
  async function request(path, init) {
    const res = await fetch(path, Object.assign({ cache: "no-store" }, init || {},
      { headers: Object.assign({ accept: "application/json" }, (init && init.headers) || {}) }));
    let body = null;
    if ((res.headers.get("content-type") || "").startsWith("application/json")) {
      body = await res.json().catch(() => null);
    } else {
      await res.body?.cancel();
    }
    return { status: res.status, body };
  }
  let source = null;
  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      let status;
      try {
        status = await request("/v1/status");
      } catch (_) {
        setConnection("offline", "node unreachable");
        return;
      }
      if (status.status !== 200 || !status.body) {
        setConnection("offline", "status failed: " + failure(status));
        return;
      }
      applyStatus(status.body);
      if (source && source.readyState === EventSource.OPEN) setConnection("live", "live");
      else setConnection("polling", "polling every 2 s");
      // The node answers; a missing or failing view below is that view's problem only.
      for (const step of [async () => applyWorld(await request("/v1/world")), pollJournal,
        followActions]) {
        try {
          await step();
        } catch (e) {
          console.warn("viewer:", e);
        }
      }
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
  $("action-submit").addEventListener("click", () => { postAction(); });
  connect();
  poll();
  setInterval(poll, 2000);
`;
