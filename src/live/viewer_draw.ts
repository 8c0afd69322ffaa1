/**
 * The viewer's drawing helpers (browser JavaScript, as a string): the world map
 * (one SVG circle per agent at its `(x, y)`, radius by energy, colour by resources
 * held), the height chart (two SVG polylines, committed and executed, over the
 * sampled minutes) and the one-line description of a journal event. Pure DOM
 * building, no fetching; `viewer_script.ts` calls them.
 * @module
 */

/**
 * Browser JavaScript defining `drawMap(svg, agents, size, message)` (the message
 * shows in the middle of an empty map), `drawChart(svg, samples)`
 * and `describeEvent(event)` in the page script's scope.
 */
export const VIEWER_DRAW_SCRIPT = `
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_ENERGY = 100;
  const LABEL_AGENTS = 40;
  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVG_NS, name);
    for (const k of Object.keys(attrs)) el.setAttribute(k, String(attrs[k]));
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function resourceSum(a) {
    let sum = 0;
    const r = a && a.resources && typeof a.resources === "object" ? a.resources : {};
    for (const k of Object.keys(r)) sum += Number(r[k]) || 0;
    return sum;
  }
  /** Blue for an agent holding nothing, through green, to orange for ~10k units. */
  function agentColour(a) {
    const t = Math.min(1, Math.log10(1 + resourceSum(a)) / 4);
    return "hsl(" + Math.round(210 - 180 * t) + " 70% 48%)";
  }
  function agentTitle(a) {
    const r = a.resources && typeof a.resources === "object" ? a.resources : {};
    const held = Object.keys(r).sort().map((k) => k + " " + r[k]).join(", ");
    return a.id + " at (" + a.x + ", " + a.y + ") \\u00b7 energy " + a.energy +
      (held ? " \\u00b7 " + held : "");
  }
  function drawMap(svg, agents, size, message) {
    const k = size / 1024;
    // A margin, so that dots at the world's edge are drawn whole.
    const pad = Math.round(32 * k);
    svg.setAttribute("viewBox", -pad + " " + -pad + " " + (size + 2 * pad) + " " + (size + 2 * pad));
    const nodes = [];
    for (let i = 1; i < 8; i++) {
      const p = (size * i) / 8;
      nodes.push(svgEl("line", { class: "grid", x1: p, y1: 0, x2: p, y2: size }));
      nodes.push(svgEl("line", { class: "grid", x1: 0, y1: p, x2: size, y2: p }));
    }
    const drawn = agents.filter((a) => a && Number.isFinite(a.x) && Number.isFinite(a.y));
    // Smaller dots in a crowded world, so that 500 agents do not hide each other.
    const crowd = Math.max(0.25, Math.min(1, Math.sqrt(LABEL_AGENTS / Math.max(1, drawn.length))));
    for (const a of drawn) {
      const e = Math.max(0, Math.min(1, (Number(a.energy) || 0) / MAX_ENERGY));
      const r = (8 + 22 * e) * k * crowd;
      const c = svgEl("circle", { cx: a.x, cy: a.y, r: r.toFixed(1), fill: agentColour(a) });
      c.setAttribute("data-agent", String(a.id));
      c.append(svgEl("title", {}, agentTitle(a)));
      nodes.push(c);
      if (drawn.length <= LABEL_AGENTS) {
        nodes.push(svgEl("text", { x: a.x + r + 4 * k, y: a.y + 7 * k }, String(a.id)));
      }
    }
    if (drawn.length === 0 && message) {
      const m = svgEl("text", { class: "message", x: size / 2, y: size / 2, "text-anchor": "middle" },
        message);
      nodes.push(m);
    }
    svg.replaceChildren(...nodes);
    svg.setAttribute("data-agents", String(drawn.length));
    return drawn.length;
  }
  function drawChart(svg, samples) {
    const W = 600, H = 220, L = 46, R = 10, T = 10, B = 24;
    if (samples.length === 0) {
      svg.replaceChildren();
      svg.setAttribute("data-points", "0");
      return;
    }
    const t0 = samples[0].t;
    const t1 = Math.max(samples[samples.length - 1].t, t0 + 1000);
    let lo = Infinity, hi = -Infinity;
    for (const s of samples) {
      lo = Math.min(lo, s.c, s.e);
      hi = Math.max(hi, s.c, s.e);
    }
    if (hi - lo < 4) hi = lo + 4;
    const x = (t) => (L + ((t - t0) / (t1 - t0)) * (W - L - R)).toFixed(1);
    const y = (h) => (T + (1 - (h - lo) / (hi - lo)) * (H - T - B)).toFixed(1);
    const nodes = [];
    for (const h of [lo, Math.round((lo + hi) / 2), hi]) {
      nodes.push(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(h), y2: y(h) }));
      nodes.push(svgEl("text", { x: L - 6, y: Number(y(h)) + 4, "text-anchor": "end" }, String(h)));
    }
    const span = Math.round((t1 - t0) / 1000);
    nodes.push(svgEl("text", { x: L, y: H - 6 }, "\\u2212" + span + " s"));
    nodes.push(svgEl("text", { x: W - R, y: H - 6, "text-anchor": "end" }, "now"));
    const line = (key, cls) =>
      svgEl("polyline", { class: cls, points: samples.map((s) => x(s.t) + "," + y(s[key])).join(" ") });
    const now = samples[samples.length - 1];
    nodes.push(line("e", "executed"), line("c", "committed"));
    // The newest sample as dots, so a single sample shows too.
    nodes.push(svgEl("circle", { class: "executed-now", cx: x(now.t), cy: y(now.e), r: 4 }));
    nodes.push(svgEl("circle", { class: "committed-now", cx: x(now.t), cy: y(now.c), r: 3 }));
    svg.replaceChildren(...nodes);
    svg.setAttribute("data-points", String(samples.length));
  }
  function describeEvent(e) {
    switch (e.kind) {
      case "registered":
        return e.agent + " registered at (" + e.x + ", " + e.y + ")";
      case "moved":
        return e.agent + " moved to (" + e.x + ", " + e.y + "), energy " + e.energy;
      case "rested":
        return e.agent + " rested, energy " + e.energy;
      case "granted":
        return e.agent + " was granted " + e.amount + " " + e.resource;
      case "transferred":
        return e.from + " \\u2192 " + e.to + ": " + e.amount + " " + e.resource;
      case "rejected":
        return "rejected " + (e.action_kind || "action") + " #" + e.action_index + ": " +
          e.reason + (e.error ? " (" + e.error + (e.field ? " in " + e.field : "") + ")" : "");
      default:
        return String(e.kind) + " " + JSON.stringify(e).slice(0, 160);
    }
  }
`;
