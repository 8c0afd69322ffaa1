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

/**
 * Browser JavaScript of the page's state, polling and events (the journal feed and
 * action form are in `viewer_feeds.ts`; {@link VIEWER_START_SCRIPT} starts it all).
 */
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
    show("network-height", num(c.network_committed_height));
    const peers = c.known_peer_heads && typeof c.known_peer_heads === "object"
      ? Object.entries(c.known_peer_heads).slice(0, 64) : [];
    show("peer-heads", peers.length === 0 ? "none" : peers.map(([name, p]) =>
      name + " @" + (p && typeof p === "object" ? num(p.height) : num(p))).join(", "));
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
  let mapMessage = "";
  let worldSkip = 0;
  function drawAgents() {
    const list = worldAgents || [...journalAgents.values()];
    const drawn = drawMap($("world-map"), list.slice(0, LIMITS.mapAgents), worldSize, mapMessage);
    show("map-agent-count", drawn);
    return drawn;
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
    mapMessage = absent ? "not provided by driver " + absent
      : !w ? "world unavailable" : "no agents to place yet";
    const drawn = drawAgents();
    if (absent) {
      note("world-status", "not-provided", "World view not provided by driver " + absent);
      // No agents to click: drop the hint until the world view answers.
      if ($("agent-detail").dataset.state === "none") $("agent-detail").textContent = "";
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
      const world = "/v1/world?limit=" + LIMITS.mapAgents;
      const pollWorld = async () => {
        // A driver without the view answers 501: ask again every 6th poll, not every poll.
        if (worldSkip > 0) return void worldSkip--;
        const res = await request(world);
        if (notProvided(res)) worldSkip = 5;
        applyWorld(res);
      };
      for (const step of [pollWorld, pollJournal, followActions]) {
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
`;

/** Browser JavaScript that wires the form and starts the stream and the polling. */
export const VIEWER_START_SCRIPT = `
  $("action-submit").addEventListener("click", () => { postAction(); });
  $("world-map").addEventListener("click", (ev) => {
    const id = ev.target instanceof Element ? ev.target.closest("circle")?.getAttribute("data-agent") : null;
    if (id) showAgent(id).catch((e) => console.warn("viewer:", e));
  });
  connect();
  poll();
  setInterval(poll, 2000);
`;
