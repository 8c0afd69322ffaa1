/**
 * The viewer page in headless Chromium against real live nodes: one with the bridge
 * driver (a posted action is followed to "included"), one with the README's
 * drop-in `counter.js` driver, which has no world views (the page never says the
 * node is unreachable). Screenshots as in `viewer_browser_test.ts`.
 */
import { assert, assertEquals, assertGreater, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { Browser, Cdp, findChromium, screenshot } from "../support/chromium.ts";
import { startLiveNode } from "../../src/live/live.ts";
import type { LiveOptions } from "../../src/live/live.ts";
import {
  height,
  openPage,
  type PageView,
  postThroughForm,
  readPage,
  shotsDir,
  waitForPage,
} from "../support/viewer_page_reader.ts";

const chromium = await findChromium();
if (!chromium.path) console.log(`viewer_live_browser_test: SKIPPED — ${chromium.why}`);

/** A real live node in a temp data dir, its page open in Chromium. */
async function withRealNode(
  options: Partial<LiveOptions>,
  fn: (cdp: Cdp, dataDir: string, shots: string) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-viewer-live-" });
  const shots = await shotsDir();
  const live = await startLiveNode({
    dataDir,
    http: { hostname: "127.0.0.1", port: 0 },
    tickMs: 100,
    statusEveryMs: 0,
    ...options,
  });
  let page: { browser: Browser; cdp: Cdp } | null = null;
  try {
    page = await openPage(chromium.path!, live.http!.url);
    await fn(page.cdp, dataDir, shots.dir);
    assert(
      height(await readPage(page.cdp)) <= live.node.snapshot().consensus.committedHeight,
      "the page never runs ahead of the node",
    );
  } finally {
    await page?.cdp.close();
    await page?.browser.close();
    await live.stop();
    await Deno.remove(dataDir, { recursive: true });
    await shots.done();
  }
}

Deno.test({
  name:
    "viewer in Chromium against a real live node (bridge driver): heights rise, a posted action is included",
  ignore: !chromium.path,
  fn: async () => {
    await withRealNode({}, async (cdp, dataDir, shots) => {
      const seen: PageView[] = [];
      const first = await waitForPage(
        cdp,
        "a committed height and the first status",
        // The SSE commit event may come before the first /v1/status answer.
        (v) => height(v) >= 1 && v["node-id"] !== "\u2013",
        15_000,
        seen,
      );
      assertEquals(first["node-id"], "node-1");
      assertEquals(first["driver-name"], "bridge");
      const token = (await Deno.readTextFile(join(dataDir, "api_token"))).trim();
      await postThroughForm(cdp, token, { kind: "register", agent: "ada", x: 300, y: 300 });
      const included = await waitForPage(
        cdp,
        "the posted action included and executed",
        (v) => v.tracked[0]?.state === "included",
        20_000,
        seen,
      );
      assertMatch(included.tracked[0].text, /included at height \d+ \(#0\)$/);
      const second = await waitForPage(
        cdp,
        "a higher height, more chart samples, the agent counted",
        (v) =>
          height(v) > height(first) && v.chartPoints > first.chartPoints + 1 &&
          v["world-agents"] === "1",
        15_000,
        seen,
      );
      assertGreater(height(second), height(first));
      assertMatch(second["latest-execution-state-root"] ?? "", /^[0-9a-f]{64}$/);
      assertEquals(second.worldState, "ok");
      // The map is drawn from /v1/world's agents sample (not from journal events).
      assertEquals(second.mapCircles, 1);
      assertMatch(String(second["world-status"]), /agents by position/);
      assert(seen.every((v) => v.connection !== "offline"), "never shown as unreachable");
      await screenshot(cdp, join(shots, "real-bridge.png"));
    });
  },
});

/** The README's drop-in driver, taken from the README itself. */
async function readmeCounterDriver(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const m = /```js\n(\/\/ my-plugins\/counter\.js[\s\S]*?)```/.exec(readme);
  assert(m, "README.md has the counter.js drop-in driver");
  return m[1];
}

Deno.test({
  name:
    "viewer in Chromium against a real live node with the README's counter.js driver: never unreachable",
  ignore: !chromium.path,
  fn: async () => {
    const pluginsDir = await Deno.makeTempDir({ prefix: "awr-viewer-plugins-" });
    try {
      await Deno.writeTextFile(join(pluginsDir, "counter.js"), await readmeCounterDriver());
      await withRealNode({ driver: "counter", pluginsDir }, async (cdp, _dataDir, shots) => {
        const seen: PageView[] = [];
        const first = await waitForPage(
          cdp,
          "a committed height and the World panel's verdict",
          (v) => height(v) >= 1 && v.worldState !== "loading",
          15_000,
          seen,
        );
        assertEquals(first["driver-name"], "counter");
        const later = await waitForPage(
          cdp,
          "heights rising over several polls",
          (v) => height(v) > height(first) + 5 && v.chartPoints > first.chartPoints + 2,
          20_000,
          seen,
        );
        assertGreater(Number(later["execution-height"]), 0);
        assert(seen.every((v) => v.connection !== "offline"), "never shown as unreachable");
        // A driver without the summary capability: /v1/world answers 501 naming it, and
        // only the World panel says so.
        assertEquals(later.worldState, "not-provided");
        assertEquals(later["world-status"], "World view not provided by driver counter");
        await screenshot(cdp, join(shots, "real-counter.png"));
      });
    } finally {
      await Deno.remove(pluginsDir, { recursive: true });
    }
  },
});
