/**
 * The viewer page in a real browser: headless Chromium opens `/` and the test reads
 * the page over the DevTools protocol (a WebSocket) and takes PNG screenshots.
 *
 * - A fake node whose driver provides the world views (served by a test front, see
 *   `fake_views_front.ts`): heights rise live and by polling, chart samples grow,
 *   agents appear on the map, the journal feed shows a rejected action and why,
 *   and an action posted through the page's form is followed to its verdict.
 * - A fake node whose driver provides no world views (a third-party driver's
 *   answers, JSON 501): the World panel says "not provided by driver X" and the
 *   connection badge never says the node is unreachable.
 * - A real live node with the bridge driver, and one with the README's drop-in
 *   `counter.js` driver.
 *
 * Screenshots go to a temporary folder that is removed afterwards, or to the folder
 * named by `AWR_VIEWER_SHOTS` (kept, for people to look at).
 *
 * Needs `/usr/bin/chromium` (Debian's `chromium`). When it is missing and we run as
 * root, one time-boxed `apt-get install -y chromium` is tried; otherwise the test is
 * skipped with a message saying so.
 */
import { assert, assertEquals, assertGreater, assertMatch, assertNotEquals } from "@std/assert";
import { join } from "@std/path";
import { startHttpServer } from "../../src/live/http.ts";
import { VIEWER_ELEMENT_IDS } from "../../src/live/viewer_page.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";
import { startFakeViewsFront } from "../support/fake_views_front.ts";
import { Browser, Cdp, findChromium, screenshot } from "../support/chromium.ts";
import { startLiveNode } from "../../src/live/live.ts";
import type { LiveOptions } from "../../src/live/live.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type PageView = Record<string, string | null> & {
  connection: string | null;
  worldState: string | null;
  journalState: string | null;
  mapCircles: number;
  chartPoints: number;
  feed: string[];
  rejectedFeed: string[];
  tracked: { state: string; text: string }[];
};

const IDS_JSON = JSON.stringify(VIEWER_ELEMENT_IDS);
const READ_PAGE = `JSON.stringify({
  ...Object.fromEntries(${IDS_JSON}.map((id) => [id, document.getElementById(id)?.textContent ?? null])),
  connection: document.getElementById("connection-state")?.dataset.state ?? null,
  worldState: document.getElementById("world-status")?.dataset.state ?? null,
  journalState: document.getElementById("journal-status")?.dataset.state ?? null,
  mapCircles: document.querySelectorAll("#world-map circle").length,
  chartPoints: Number(document.getElementById("height-chart")?.getAttribute("data-points")),
  feed: [...document.querySelectorAll("#journal-feed li")].map((li) => li.textContent),
  rejectedFeed: [...document.querySelectorAll("#journal-feed li.rejected")].map((li) => li.textContent),
  tracked: [...document.querySelectorAll("#tracked-actions li")]
    .map((li) => ({ state: li.dataset.state, text: li.textContent })),
})`;

async function readPage(cdp: Cdp): Promise<PageView> {
  return JSON.parse(await cdp.evaluate<string>(READ_PAGE));
}

/** Polls the page until `cond` holds; every view read on the way goes to `seen`. */
async function waitForPage(
  cdp: Cdp,
  what: string,
  cond: (v: PageView) => boolean,
  ms: number,
  seen: PageView[] = [],
): Promise<PageView> {
  const until = Date.now() + ms;
  let last: PageView | null = null;
  while (Date.now() < until) {
    last = await readPage(cdp);
    seen.push(last);
    if (seen.length > 1000) seen.shift();
    if (cond(last)) return last;
    await sleep(100);
  }
  throw new Error(`page never showed ${what}; last view: ${JSON.stringify(last)}`);
}

/** Types into the action form and presses Post (the token stays in the input). */
async function postThroughForm(cdp: Cdp, token: string, action: unknown): Promise<void> {
  await cdp.evaluate(`(() => {
    document.getElementById("action-token").value = ${JSON.stringify(token)};
    document.getElementById("action-body").value = ${JSON.stringify(JSON.stringify(action))};
    document.getElementById("action-submit").click();
    return true;
  })()`);
}

const height = (v: PageView) => Number(v["committed-height"]);

/** Where screenshots go, and how to clean up. */
async function shotsDir(): Promise<{ dir: string; done: () => Promise<void> }> {
  const kept = Deno.env.get("AWR_VIEWER_SHOTS");
  if (kept) {
    await Deno.mkdir(kept, { recursive: true });
    return { dir: kept, done: () => Promise.resolve() };
  }
  const dir = await Deno.makeTempDir({ prefix: "awr-viewer-shots-" });
  return { dir, done: () => Deno.remove(dir, { recursive: true }) };
}

/** Opens `url` at 1280 px wide. */
async function openPage(path: string, url: string): Promise<{ browser: Browser; cdp: Cdp }> {
  const browser = await Browser.launch(path, url);
  try {
    const cdp = await browser.page(url);
    await cdp.send("Emulation.setDeviceMetricsOverride", {
      width: 1280,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return { browser, cdp };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** A fake node with its HTTP server and views front, advancing on a 250 ms timer. */
async function withFakeNode(
  api: FakeLiveApi,
  fn: (url: string, cdp: Cdp, shots: string) => Promise<void>,
  step: (api: FakeLiveApi) => void = (a) => a.advance(),
): Promise<void> {
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
  const front = startFakeViewsFront(api, server.url);
  const ticker = setInterval(() => step(api), 250);
  const shots = await shotsDir();
  let page: { browser: Browser; cdp: Cdp } | null = null;
  try {
    page = await openPage(chromium.path!, front.url);
    await fn(front.url, page.cdp, shots.dir);
  } finally {
    clearInterval(ticker);
    await page?.cdp.close();
    await page?.browser.close();
    // The server ends its event streams, which lets the front's proxied ones finish.
    await Promise.all([server.shutdown(), front.shutdown()]);
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
      a.advance();
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
      await screenshot(cdp, join(shots, "third-party-fake.png"));
    });
  },
});

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
        "a committed height",
        (v) => height(v) >= 1,
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
        // Today /v1/world fails for such a driver (500); with the world capability
        // work it answers 501 naming the driver. Either way only the World panel says so.
        assert(["not-provided", "error"].includes(later.worldState ?? ""), later.worldState ?? "");
        if (later.worldState === "not-provided") {
          assertEquals(later["world-status"], "World view not provided by driver counter");
        }
        await screenshot(cdp, join(shots, "real-counter.png"));
      });
    } finally {
      await Deno.remove(pluginsDir, { recursive: true });
    }
  },
});
