/**
 * The live viewer (`GET /`): one self-contained HTML page — inline CSS and JS, no
 * external resources — that follows `/v1/events` and polls `/v1/status`,
 * `/v1/world`, `/v1/journal` and tracked `/v1/actions/:id` every 2 s, so it keeps
 * working when the event stream drops. It draws the world's agents on a map and
 * the committed/executed heights on a chart (inline SVG). Layout and style live in
 * `viewer_layout.ts`, the script in `viewer_script.ts` and `viewer_draw.ts`.
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
import { VIEWER_DRAW_SCRIPT } from "./viewer_draw.ts";
import { VIEWER_BODY, VIEWER_STYLE } from "./viewer_layout.ts";
import { VIEWER_FEEDS_SCRIPT } from "./viewer_feeds.ts";
import { VIEWER_MAIN_SCRIPT, VIEWER_START_SCRIPT } from "./viewer_script.ts";

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
  "driver-name",
  "halted-badge",
  "lag-limit-badge",
  "node-id",
  "world-id",
  "node-role",
  "node-running",
  "node-halted",
  "lag-limit",
  "execution-mode",
  "tick-count",
  "network-height",
  "peer-heads",
  "consensus-slot",
  "consensus-epoch",
  "committed-height",
  "execution-height",
  "execution-lag",
  "mempool-size",
  "latest-block-hash",
  "latest-execution-block-hash",
  "latest-execution-state-root",
  "world-status",
  "agent-detail",
  "world-map",
  "map-agent-count",
  "height-chart",
  "chart-points",
  "journal-feed",
  "journal-status",
  "action-token",
  "action-body",
  "action-submit",
  "action-result",
  "tracked-actions",
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

const SCRIPT = `
"use strict";
(() => {${VIEWER_DRAW_SCRIPT}${VIEWER_MAIN_SCRIPT}${VIEWER_FEEDS_SCRIPT}${VIEWER_START_SCRIPT}})();
`;
const STYLE = VIEWER_STYLE;
const BODY = VIEWER_BODY;

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
