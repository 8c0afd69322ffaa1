/**
 * Headless Chromium for browser tests: finding (or installing once) the binary,
 * launching it with a temporary profile, a minimal DevTools-protocol client, and
 * PNG screenshots that the caller can check (signature, size).
 * @module
 */
import { assertEquals, assertGreater } from "@std/assert";
import { join } from "@std/path";

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

/** Finds (or, as root, installs once) Chromium; `path` null says why in `why`. */
export async function findChromium(): Promise<{ path: string | null; why: string }> {
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
export class Cdp {
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
export class Browser {
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

/** Width and height from a PNG's IHDR, after checking its signature. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assertEquals([...bytes.subarray(0, 8)], sig, "PNG signature");
  assertEquals(new TextDecoder().decode(bytes.subarray(12, 16)), "IHDR", "PNG starts with IHDR");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Renders the page at `width` px wide, full height, as a PNG written to `file`;
 * returns its bytes after checking they are a PNG of that width.
 */
export async function screenshot(cdp: Cdp, file: string, width = 1280): Promise<Uint8Array> {
  const height = await cdp.evaluate<number>("document.documentElement.scrollHeight");
  await cdp.send("Emulation.setDeviceMetricsOverride", {
    width,
    height: Math.min(Math.max(height, 600), 4000),
    deviceScaleFactor: 1,
    mobile: false,
  });
  const shot = await cdp.send("Page.captureScreenshot", { format: "png" });
  const bytes = Uint8Array.from(atob(String(shot.data)), (c) => c.charCodeAt(0));
  const size = pngSize(bytes);
  assertEquals(size.width, width, "screenshot width");
  assertGreater(size.height, 500, "screenshot height");
  await Deno.writeFile(file, bytes);
  return bytes;
}
