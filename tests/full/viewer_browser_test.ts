/**
 * The viewer page in a real browser: headless Chromium opens `/` and the test reads
 * the page over the DevTools protocol (a WebSocket) and takes PNG screenshots.
 *
 * - A fake node whose driver provides the world views (served by the node's own
 *   routes from a {@link FakeLiveApi}): heights rise live and by polling, chart samples grow,
 *   agents appear on the map, the journal feed shows a rejected action and why,
 *   and an action posted through the page's form is followed to its verdict.
 * - A fake node whose driver provides no world views (a third-party driver's
 *   answers, JSON 501): the World panel says "not provided by driver X" and the
 *   connection badge never says the node is unreachable.
 * Real live nodes (bridge and README `counter.js` drivers): `viewer_live_browser_test.ts`.
 *
 * Screenshots go to a temporary folder that is removed afterwards, or to the folder
 * named by `AWR_VIEWER_SHOTS` (kept, for people to look at).
 *
 * Needs `/usr/bin/chromium` (Debian's `chromium`). When it is missing and we run as
 * root, one time-boxed `apt-get install -y chromium` is tried; otherwise the test is
 * skipped with a message saying so.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { join } from "@std/path";
import { startHttpServer } from "../../src/live/http.ts";
import { VIEWER_ELEMENT_IDS } from "../../src/live/viewer_page.ts";
import { VIEWER_LIMITS } from "../../src/live/viewer_script.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";
import { Browser, Cdp, findChromium, screenshot } from "../support/chromium.ts";
import {
  height,
  openPage,
  type PageView,
  postThroughForm,
  readPage,
  shotsDir,
  waitForPage,
} from "../support/viewer_page_reader.ts";

/** A fake node with its HTTP server, advancing on a 250 ms timer. */
async function withFakeNode(
  api: FakeLiveApi,
  fn: (url: string, cdp: Cdp, shots: string) => Promise<void>,
  step: (api: FakeLiveApi) => void = (a) => a.advance(),
): Promise<void> {
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
  const ticker = setInterval(() => step(api), 250);
  const shots = await shotsDir();
  let page: { browser: Browser; cdp: Cdp } | null = null;
  try {
    page = await openPage(chromium.path!, server.url);
    await fn(server.url, page.cdp, shots.dir);
  } finally {
    clearInterval(ticker);
    await page?.cdp.close();
    await page?.browser.close();
    await server.shutdown();
    api.close();
    await shots.done();
  }
}

const chromium = await findChromium();
if (!chromium.path) console.log(`viewer_browser_test: SKIPPED — ${chromium.why}`);

Deno.test({
  name: "viewer in Chromium, driver with world views: map, chart, journal, action verdicts",
  ignore: !chromium.path,
  fn: async () => {
    const api = new FakeLiveApi({ nodeId: "node-view", worldId: "world-view" });
    for (const [agent, x, y] of [["ada", 120, 200], ["bob", 700, 640], ["cy", 400, 900]] as const) {
      api.submitAction({ kind: "register", agent, x, y });
    }
    api.submitAction({ kind: "grant", agent: "bob", resource: "gold", amount: 5000 });
    api.submitAction({ kind: "move", agent: "ghost", dx: 1, dy: 0 }); // rejected: unknown_agent
    api.advance();
    let n = 0;
    const step = (a: FakeLiveApi) => {
      n++;
      if (n % 3 === 0) {
        a.submitAction({
          kind: "register",
          agent: `a${n}`,
          x: (n * 97) % 1024,
          y: (n * 211) % 1024,
        });
      }
      if (n % 4 === 0) a.submitAction({ kind: "move", agent: "ada", dx: 9, dy: 5 });
      // Execution catches up every 4th tick, so the chart shows a lag.
      a.commitNext();
      if (n % 4 === 0) { while (a.executionHeight < a.committedHeight) a.executeNext(); }
    };
    await withFakeNode(api, async (_url, cdp, shots) => {
      const seen: PageView[] = [];
      const first = await waitForPage(
        cdp,
        "a committed height over an open event stream, and the journal",
        (v) => height(v) >= 1 && v.connection === "live" && v.feed.length >= 5,
        15_000,
        seen,
      );
      for (const id of VIEWER_ELEMENT_IDS) assert(first[id] !== null, `element #${id} exists`);
      assertEquals(first["node-id"], "node-view");
      assertEquals(first["driver-name"], "fake-driver");
      assertMatch(first["consensus-slot"] ?? "", /^\d+$/);
      assertMatch(first["consensus-epoch"] ?? "", /^\d+$/);
      assertEquals(first["node-halted"], "no");
      assertMatch(first["lag-limit"] ?? "", /^not engaged \(max lag 64\)$/);
      assertEquals(first.worldState, "ok");
      assertEquals(first.journalState, "ok");
      assert(
        first.rejectedFeed.some((t) => /rejected move #4: unknown_agent/.test(t)),
        `the feed shows the rejection and why: ${JSON.stringify(first.rejectedFeed)}`,
      );
      assert(first.feed.some((t) => /bob was granted 5000 gold/.test(t)), "grant in the feed");
      await screenshot(cdp, join(shots, "fake-world-1.png"));

      // Over time: heights rise, the chart gains samples, agents join the map.
      const later = await waitForPage(
        cdp,
        "higher heights, more chart samples and more agents",
        (v) =>
          height(v) > height(first) + 5 && v.chartPoints >= first.chartPoints + 3 &&
          v.mapCircles > first.mapCircles,
        20_000,
        seen,
      );
      assert(height(later) <= api.committedHeight, "the page never runs ahead of the node");
      assertEquals(Number(later["map-agent-count"]), later.mapCircles);
      assertEquals(later.mapCircles, Number(later["world-agents"]), "every agent is on the map");
      assertMatch(later["latest-execution-state-root"] ?? "", /^[0-9a-f]{64}$/);

      // A click on an agent asks /v1/agents/:id.
      await cdp.evaluate(`(document.querySelector('#world-map circle[data-agent="bob"]')
        .dispatchEvent(new MouseEvent("click", { bubbles: true })), true)`);
      const bob = await waitForPage(
        cdp,
        "bob's details",
        (v) => /^bob at/.test(v["agent-detail"] ?? ""),
        5_000,
      );
      assertEquals(bob["agent-detail"], "bob at (700, 640) \u00b7 energy 100 \u00b7 gold 5000");

      // An action posted through the form, followed to its verdict.
      await postThroughForm(cdp, api.token, { kind: "rest", agent: "nobody" });
      const rejected = await waitForPage(
        cdp,
        "the posted action rejected with its reason",
        (v) => v.tracked[0]?.state === "rejected",
        15_000,
        seen,
      );
      assertMatch(rejected.tracked[0].text, /rejected at height \d+ \(#\d+\): unknown_agent$/);
      await postThroughForm(cdp, api.token, {
        kind: "register",
        agent: "viewer-1",
        x: 512,
        y: 512,
      });
      const included = await waitForPage(
        cdp,
        "the posted action included",
        (v) => v.tracked[0]?.state === "included",
        15_000,
        seen,
      );
      assertMatch(included.tracked[0].text, /included at height \d+ \(#\d+\)$/);
      assertEquals(included.tracked.length, 2);
      await postThroughForm(cdp, "wrong-token", { kind: "rest", agent: "ada" });
      const refused = await waitForPage(
        cdp,
        "a refusal with a wrong token",
        (v) => /^refused: HTTP 401/.test(v["action-result"] ?? ""),
        10_000,
        seen,
      );
      assertEquals(refused.tracked.length, 2, "a refused post tracks nothing");
      await waitForPage(
        cdp,
        "viewer-1 on the map",
        (v) => v.mapCircles === Number(v["world-agents"]) && v.mapCircles >= 5,
        10_000,
      );
      const shot1 = await Deno.readFile(join(shots, "fake-world-1.png"));
      const shot2 = await screenshot(cdp, join(shots, "fake-world-2.png"));
      assertNotEquals(shot1, shot2, "the picture changed over time");
      assert(seen.every((v) => v.connection !== "offline"), "never shown as unreachable");
      assert(seen.some((v) => Number(v["execution-lag"]) > 0), "a lag was seen");
    }, step);
  },
});

Deno.test({
  name: "viewer in Chromium, fake node: heights arrive by polling when events are silent",
  ignore: !chromium.path,
  fn: async () => {
    const api = new FakeLiveApi({ nodeId: "node-poll" });
    api.advance();
    await withFakeNode(api, async (_url, cdp) => {
      await waitForPage(
        cdp,
        "a live stream",
        (v) => height(v) >= 1 && v.connection === "live",
        15_000,
      );
      api.emitEvents = false;
      for (let i = 0; i < 5; i++) api.advance();
      const target = api.committedHeight;
      const polled = await waitForPage(
        cdp,
        `height ${target} by polling`,
        (v) => height(v) === target,
        5_000,
      );
      assertEquals(Number(polled["execution-height"]), target);
      assertEquals(polled["latest-block-hash"], api.blocks.at(-1)!.hash);
    }, () => {});
  },
});

Deno.test({
  name:
    "viewer in Chromium, driver without world views: 'not provided by driver X', never unreachable",
  ignore: !chromium.path,
  fn: async () => {
    const api = new FakeLiveApi({ driver: "acme-driver", worldCapability: false });
    api.advance();
    await withFakeNode(api, async (_url, cdp, shots) => {
      const seen: PageView[] = [];
      const first = await waitForPage(
        cdp,
        "the World panel's 'not provided' note",
        (v) =>
          height(v) >= 1 && v.worldState === "not-provided" && v.journalState === "not-provided",
        15_000,
        seen,
      );
      assertEquals(first["world-status"], "World view not provided by driver acme-driver");
      assertEquals(first["journal-status"], "Journal not provided by driver acme-driver");
      assertEquals(first["driver-name"], "acme-driver");
      assertEquals(first.mapCircles, 0);
      const later = await waitForPage(
        cdp,
        "heights rising over several polls",
        (v) => height(v) > height(first) + 8 && v.chartPoints > first.chartPoints + 2,
        20_000,
        seen,
      );
      assertEquals(later.worldState, "not-provided");
      assert(seen.every((v) => v.connection !== "offline"), "never shown as unreachable");
      assertEquals(later.connection, "live");
      assertEquals(later.badges, []);
      await screenshot(cdp, join(shots, "third-party-fake.png"));

      // Halted and lag-limit states, when the status carries them.
      api.halted = { reason: "cannot write the block store", code: "BLOCK_WRITE" };
      api.lagLimitEngaged = true;
      const halted = await waitForPage(
        cdp,
        "the halted and lag-limit badges",
        (v) => v.badges.length === 2,
        10_000,
        seen,
      );
      assertEquals(halted["halted-badge"], "halted (BLOCK_WRITE)");
      assertEquals(halted["node-halted"], "halted: cannot write the block store");
      assertEquals(halted["lag-limit"], "engaged (max lag 64)");
      assertEquals(halted["node-running"], "stopped");
      assert(seen.every((v) => v.connection !== "offline"), "halted is not unreachable");
      await screenshot(cdp, join(shots, "third-party-fake-halted.png"));
    });
  },
});

Deno.test({
  name:
    "viewer in Chromium at its bounds: 500 of 520 agents drawn, 100 journal lines, 10 followed actions",
  ignore: !chromium.path,
  fn: async () => {
    const api = new FakeLiveApi();
    const agents = 520;
    for (let i = 0; i < agents; i++) {
      api.submitAction({
        kind: "register",
        agent: `g${i}`,
        x: (i * 37) % 1024,
        y: (i * 53) % 1024,
      });
    }
    api.advance();
    let k = 0;
    const step = (a: FakeLiveApi) => {
      for (let i = 0; i < 30; i++) a.submitAction({ kind: "rest", agent: `g${k++ % agents}` });
      a.advance();
    };
    await withFakeNode(api, async (_url, cdp, shots) => {
      const full = await waitForPage(
        cdp,
        "a full map and a full feed",
        (v) => v.mapCircles === VIEWER_LIMITS.mapAgents && v.feed.length === VIEWER_LIMITS.feed,
        20_000,
      );
      assertEquals(full["world-agents"], String(agents));
      assertEquals(full["map-agent-count"], String(VIEWER_LIMITS.mapAgents));
      assertMatch(full["world-status"] ?? "", /^first 500 of 520 agents by position/);
      for (let i = 0; i < VIEWER_LIMITS.tracked + 2; i++) {
        await postThroughForm(cdp, api.token, { kind: "rest", agent: `g${i}` });
        const want = Math.min(i + 1, VIEWER_LIMITS.tracked);
        await waitForPage(
          cdp,
          `${want} followed actions`,
          (v) => v.tracked.length === want && v["action-result"] === "accepted 1",
          10_000,
        );
        await cdp.evaluate(`(document.getElementById("action-result").textContent = "", true)`);
      }
      const last = await readPage(cdp);
      assertEquals(last.tracked.length, VIEWER_LIMITS.tracked);
      assertEquals(last.feed.length, VIEWER_LIMITS.feed);
      await screenshot(cdp, join(shots, "bounds.png"));
    }, step);
  },
});
