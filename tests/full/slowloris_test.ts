/**
 * 200 slowloris clients (one header byte a second) against a real `awr live`: each
 * is disconnected once the header timeout passes, consensus keeps committing, the
 * API still answers during the attack, and the process's memory stays bounded.
 */
import { assert, assertEquals, assertLess } from "@std/assert";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { liveArgs } from "../support/live_process.ts";

const CLIENTS = 200;
const HEADER_TIMEOUT_MS = 1_000;
/** Generous: a loaded 2-core machine may be late, but never by this much. */
const CLOSE_MARGIN_MS = 8_000;

async function committed(dataDir: string): Promise<number> {
  try {
    return (await readNodeState(nodeStatePath(dataDir, "node-1")))?.value.committedHeight ?? 0;
  } catch {
    return 0;
  }
}

/** Waits (bounded) until the node has committed `height`. */
async function waitCommitted(dataDir: string, height: number): Promise<void> {
  const until = Date.now() + 30_000;
  while ((await committed(dataDir)) < height) {
    if (Date.now() > until) throw new Error(`commits stalled below ${height}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

/** Reads stdout until the `http` line names the bound URL. */
async function boundUrl(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`live node exited before listening: ${text}`);
    text += dec.decode(value, { stream: true });
    const m = /http\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(text);
    if (m) return m[1];
  }
}

/** One slowloris client: a header byte a second; resolves with ms until the server closed it. */
async function slowClient(port: number): Promise<number> {
  const started = Date.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = new TextEncoder().encode("GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drip = () => {
    conn.write(head.subarray(i % head.length, (i % head.length) + 1)).then(() => {
      i++;
      timer = setTimeout(drip, 1000);
    }, () => {});
  };
  drip();
  try {
    const buf = new Uint8Array(1024);
    // The server answers nothing to a half-sent head: the read ends at its close.
    for (;;) if ((await conn.read(buf).catch(() => null)) === null) break;
    return Date.now() - started;
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

Deno.test({
  name: "200 slowloris clients are dropped at the header timeout; commits go on; memory bounded",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "awr-slowloris-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: liveArgs(dataDir, {
        http: "127.0.0.1:0",
        logLevel: "warn",
        extra: [
          "--http-header-timeout-ms",
          String(HEADER_TIMEOUT_MS),
          "--http-max-connections",
          "256",
        ],
      }),
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    try {
      const base = await boundUrl(reader);
      const port = Number(new URL(base).port);
      await waitCommitted(dataDir, 3);
      const rssBefore = await rssKiB(child.pid);
      const heightBefore = await committed(dataDir);
      const attack = Promise.all(Array.from({ length: CLIENTS }, () => slowClient(port)));
      // While the clients hold their sockets, the API answers and consensus commits.
      await new Promise((r) => setTimeout(r, HEADER_TIMEOUT_MS / 2));
      const status = await fetch(`${base}/v1/status`);
      assertEquals(status.status, 200);
      await status.body?.cancel();
      await waitCommitted(dataDir, heightBefore + 1);
      const closedAfter = await attack;
      await waitCommitted(dataDir, (await committed(dataDir)) + 5);
      for (const ms of closedAfter) {
        assertLess(ms, HEADER_TIMEOUT_MS + CLOSE_MARGIN_MS, "closed within the header timeout");
      }
      const earliest = Math.min(...closedAfter);
      assert(
        earliest >= HEADER_TIMEOUT_MS - 100,
        `closed after ${earliest} ms, before the timeout`,
      );
      const rssAfter = await rssKiB(child.pid);
      assertLess(rssAfter - rssBefore, 64 * 1024, `RSS grew ${rssBefore} → ${rssAfter} KiB`);
    } finally {
      child.kill("SIGTERM");
      await reader.cancel();
      const st = await child.status;
      assertEquals(st.code, 0, "clean stop");
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
