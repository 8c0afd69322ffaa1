/**
 * Reading the viewer page in headless Chromium: the values of its element ids, its
 * states (connection, World panel, journal), map circles, chart samples, feed and
 * tracked actions; waiting for a condition; posting through its form; where
 * screenshots go.
 * @module
 */
import { VIEWER_ELEMENT_IDS } from "../../src/live/viewer_page.ts";
import { Browser, type Cdp } from "./chromium.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the tests read from the page. */
export type PageView = Record<string, string | null> & {
  connection: string | null;
  /** Ids of the header badges shown. */
  badges: string[];
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
  badges: ["halted-badge", "lag-limit-badge"].filter((id) => !document.getElementById(id)?.hidden),
  worldState: document.getElementById("world-status")?.dataset.state ?? null,
  journalState: document.getElementById("journal-status")?.dataset.state ?? null,
  mapCircles: document.querySelectorAll("#world-map circle").length,
  chartPoints: Number(document.getElementById("height-chart")?.getAttribute("data-points")),
  feed: [...document.querySelectorAll("#journal-feed li")].map((li) => li.textContent),
  rejectedFeed: [...document.querySelectorAll("#journal-feed li.rejected")].map((li) => li.textContent),
  tracked: [...document.querySelectorAll("#tracked-actions li")]
    .map((li) => ({ state: li.dataset.state, text: li.textContent })),
})`;

/** Reads the page's values, states and lists. */
export async function readPage(cdp: Cdp): Promise<PageView> {
  return JSON.parse(await cdp.evaluate<string>(READ_PAGE));
}

/** Polls the page until `cond` holds; every view read on the way goes to `seen`. */
export async function waitForPage(
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
export async function postThroughForm(cdp: Cdp, token: string, action: unknown): Promise<void> {
  await cdp.evaluate(`(() => {
    document.getElementById("action-token").value = ${JSON.stringify(token)};
    document.getElementById("action-body").value = ${JSON.stringify(JSON.stringify(action))};
    document.getElementById("action-submit").click();
    return true;
  })()`);
}

/** The committed height the page shows. */
export const height = (v: PageView) => Number(v["committed-height"]);

/** Where screenshots go, and how to clean up. */
export async function shotsDir(): Promise<{ dir: string; done: () => Promise<void> }> {
  const kept = Deno.env.get("AWR_VIEWER_SHOTS");
  if (kept) {
    await Deno.mkdir(kept, { recursive: true });
    return { dir: kept, done: () => Promise.resolve() };
  }
  const dir = await Deno.makeTempDir({ prefix: "awr-viewer-shots-" });
  return { dir, done: () => Deno.remove(dir, { recursive: true }) };
}

/** Opens `url` at 1280 px wide. */
export async function openPage(path: string, url: string): Promise<{ browser: Browser; cdp: Cdp }> {
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
