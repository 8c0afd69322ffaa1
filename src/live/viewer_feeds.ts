/**
 * The viewer's journal feed and action form (browser JavaScript, as a string): the
 * feed pages through `/v1/journal?from=&limit=` (newest first, bounded) and learns
 * agent positions from `registered`/`moved` events when `/v1/world` lists none; the
 * form posts to `/v1/actions` with the token typed into it (kept in the input only)
 * and follows each id through `/v1/actions/:id` to its verdict.
 * @module
 */

/**
 * Browser JavaScript defining `pollJournal()`, `followActions()`, `postAction()` and
 * `showAgent(id)` (one agent from `/v1/agents/:id`, for a click on the map).
 */
export const VIEWER_FEEDS_SCRIPT = `
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
    // The newest page when the world says how long the journal is (a busy world
    // may outpace one page per poll: the feed shows the newest, skipping the rest).
    let from = journalNext ?? 0;
    if (journalLen !== null) from = Math.max(from, journalLen - LIMITS.journalPage, 0);
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
    let follow = false;
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
        follow = true;
      } else {
        show("action-result", "refused: " + failure(res) +
          (res.body && res.body.code ? " [" + res.body.code + "]" : ""));
      }
    } catch (e) {
      show("action-result", "not sent: " + e.message);
    } finally {
      // Free the button before following up: a click while the outcomes load is not lost.
      button.disabled = false;
    }
    if (follow) await followActions();
  }
  async function showAgent(id) {
    const res = await request("/v1/agents/" + encodeURIComponent(id));
    const absent = notProvided(res);
    if (res.status === 200 && res.body) note("agent-detail", "ok", agentTitle(res.body));
    else if (absent) note("agent-detail", "not-provided", "agent details not provided by driver " + absent);
    else if (res.status === 404) note("agent-detail", "error", "no agent " + id + " (HTTP 404)");
    else note("agent-detail", "error", "agent " + id + " unavailable: " + failure(res));
  }
`;
