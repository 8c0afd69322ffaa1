/**
 * The viewer page in a real browser: headless Chromium opens `/` of a server whose
 * node keeps committing, and the page's `committed-height` rises — first through
 * the event stream, then (with events silenced) through the 2 s status poll. The
 * page is read over the DevTools protocol (a WebSocket), not by scraping dumps.
 *
 * Needs `/usr/bin/chromium` (Debian's `chromium`). When it is missing and we run as
 * root, one time-boxed `apt-get install -y chromium` is tried; otherwise the test is
 * skipped with a message saying so.
 */
import { assert, assertEquals, assertGreater, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { startHttpServer } from "../../src/live/http.ts";
import { VIEWER_ELEMENT_IDS } from "../../src/live/viewer_page.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";
import { startLiveNode } from "../../src/live/live.ts";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const INSTALL_TIMEOUT_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function findChromium(): Promise<{ path: string | null; why: string }> {
  for (const p of CANDIDATES) if (await isFile(p)) return { path: p, why: "" };
  if (Deno.uid() !== 0) {
    return { path: null, why: "no Chromium found and not root; run `apt-get install -y chromium`" };
  }
  console.log("viewer_browser_test: Chromium missing, trying `apt-get install -y chromium` …");
  try {
    const out = await new Deno.Command("apt-get", {
      args: ["install", "-y", "chromium"],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(INSTALL_TIMEOUT_MS),
    }).output();
    for (const p of CANDIDATES) if (await isFile(p)) return { path: p, why: "" };
    if (out.success) {
      return { path: null, why: `apt-get installed chromium, but none of ${CANDIDATES} exists` };
    }
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    return { path: null, why: `apt-get install chromium failed (exit ${out.code}): ${err}` };
  } catch (e) {
    return { path: null, why: `apt-get install chromium failed: ${e}` };
  }
}

/** A minimal DevTools-protocol client over one WebSocket. */
class Cdp {
  #nextId = 1;
  readonly #pending = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly #closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data));
      if (typeof msg.id === "number") this.#pending.get(msg.id)?.(msg);
    });
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    return new Cdp(ws);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (msg) => {
        this.#pending.delete(id);
        if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
        else resolve(msg.result as Record<string, unknown>);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Evaluates `expression` in the page and returns its (JSON-able) value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`page threw: ${JSON.stringify(r.exceptionDetails)}`);
    return (r.result as { value: T }).value;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.#closed;
  }
}

/** Headless Chromium showing `url`, with its own temporary profile. */
class Browser {
  private constructor(
    readonly child: Deno.ChildProcess,
    readonly profile: string,
    readonly devtoolsPort: number,
  ) {}

  static async launch(path: string, url: string): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "awr-chromium-" });
    const child = new Deno.Command(path, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        url,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const browser = new Browser(child, profile, 0);
    try {
      // Chromium writes the port it picked into the profile once DevTools listens.
      const portFile = join(profile, "DevToolsActivePort");
      for (let i = 0; i < 300; i++) {
        const text = await Deno.readTextFile(portFile).catch(() => "");
        const port = Number(text.split("\n")[0]);
        if (port > 0) return new Browser(child, profile, port);
        await sleep(50);
      }
      throw new Error("Chromium did not open its DevTools port within 15 s");
    } catch (e) {
      await browser.close();
      throw e;
    }
  }

  /** Connects to the page tab whose URL starts with `url`. */
  async page(url: string): Promise<Cdp> {
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`http://127.0.0.1:${this.devtoolsPort}/json/list`);
      const targets = await res.json() as {
        type: string;
        url: string;
        webSocketDebuggerUrl: string;
      }[];
      const page = targets.find((t) => t.type === "page" && t.url.startsWith(url));
      if (page) return await Cdp.connect(page.webSocketDebuggerUrl);
      await sleep(50);
    }
    throw new Error(`no page for ${url} in Chromium`);
  }

  /** Ends Chromium (politely, then forcibly) and removes its profile. */
  async close(): Promise<void> {
    const exited = this.child.status;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 5000));
    if (await Promise.race([exited, late]) === "late") this.child.kill("SIGKILL");
    clearTimeout(timer);
    await exited;
    for (let i = 0;; i++) {
      try {
        await Deno.remove(this.profile, { recursive: true });
        break;
      } catch (e) {
        // A helper process may still be letting go of a file for a moment.
        if (i >= 20) throw e;
        await sleep(100);
      }
    }
  }
}

type PageView = Record<string, string | null> & { connection: string | null };

const IDS_JSON = JSON.stringify(VIEWER_ELEMENT_IDS);
const READ_PAGE = `JSON.stringify({
  ...Object.fromEntries(${IDS_JSON}.map((id) => [id, document.getElementById(id)?.textContent ?? null])),
  connection: document.getElementById("connection-state")?.dataset.state ?? null,
})`;

async function readPage(cdp: Cdp): Promise<PageView> {
  return JSON.parse(await cdp.evaluate<string>(READ_PAGE));
}

async function waitForPage(
  cdp: Cdp,
  what: string,
  cond: (v: PageView) => boolean,
  ms: number,
): Promise<PageView> {
  const until = Date.now() + ms;
  let last: PageView | null = null;
  while (Date.now() < until) {
    last = await readPage(cdp);
    if (cond(last)) return last;
    await sleep(100);
  }
  throw new Error(`page never showed ${what}; last view: ${JSON.stringify(last)}`);
}

const height = (v: PageView) => Number(v["committed-height"]);

const chromium = await findChromium();
if (!chromium.path) console.log(`viewer_browser_test: SKIPPED — ${chromium.why}`);

Deno.test({
  name: "viewer page in headless Chromium: the committed height rises live, and by polling",
  ignore: !chromium.path,
  fn: async () => {
    const api = new FakeLiveApi({ nodeId: "node-view", worldId: "world-view" });
    api.submitAction({ kind: "register", agent: "ada" });
    api.advance();
    const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
    let agents = 1;
    let ticker: ReturnType<typeof setInterval> | undefined = setInterval(() => {
      if (api.committedHeight % 3 === 0) {
        api.submitAction({ kind: "register", agent: `a${agents++}` });
      }
      api.advance();
    }, 250);
    let browser: Browser | null = null;
    let cdp: Cdp | null = null;
    try {
      browser = await Browser.launch(chromium.path!, server.url);
      cdp = await browser.page(server.url);

      // Live: the event stream is open and the number climbs.
      const first = await waitForPage(
        cdp,
        "a committed height over an open event stream",
        (v) => height(v) >= 1 && v.connection === "live",
        15_000,
      );
      const second = await waitForPage(
        cdp,
        "a higher height",
        (v) => height(v) > height(first),
        10_000,
      );
      assertGreater(height(second), height(first));
      for (const id of VIEWER_ELEMENT_IDS) assert(second[id] !== null, `element #${id} exists`);
      assert(height(second) <= api.committedHeight, "the page never runs ahead of the node");
      assertEquals(second["node-id"], "node-view");
      assertEquals(second["world-id"], "world-view");
      assertMatch(second["latest-block-hash"] ?? "", /^[0-9a-f]{64}$/);
      assertMatch(second["latest-execution-state-root"] ?? "", /^[0-9a-f]{64}$/);
      assert(Number(second["execution-height"]) >= 1, "execution height shown");
      assert(Number(second["execution-lag"]) >= 0, "lag shown");
      await waitForPage(cdp, "the world's agents", (v) => Number(v["world-agents"]) >= 1, 5_000);

      // Fallback: heights that arrive without any event still show within a poll.
      clearInterval(ticker);
      ticker = undefined;
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
    } finally {
      clearInterval(ticker);
      await cdp?.close();
      await browser?.close();
      await server.shutdown();
      api.close();
    }
  },
});

Deno.test({
  name: "viewer page in headless Chromium against a real live node: the committed height rises",
  ignore: !chromium.path,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "awr-viewer-live-" });
    const live = await startLiveNode({
      dataDir,
      http: { hostname: "127.0.0.1", port: 0 },
      tickMs: 100,
      statusEveryMs: 0,
    });
    let browser: Browser | null = null;
    let cdp: Cdp | null = null;
    try {
      const url = live.http!.url;
      browser = await Browser.launch(chromium.path!, url);
      cdp = await browser.page(url);
      const first = await waitForPage(cdp, "a committed height", (v) => height(v) >= 1, 15_000);
      const second = await waitForPage(
        cdp,
        "a higher height",
        (v) => height(v) > height(first),
        10_000,
      );
      assertGreater(height(second), height(first));
      assertEquals(second["node-id"], "node-1");
      assert(height(second) <= live.node.snapshot().consensus.committedHeight);
      assertMatch(second["latest-execution-state-root"] ?? "", /^[0-9a-f]{64}$/);
    } finally {
      await cdp?.close();
      await browser?.close();
      await live.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
