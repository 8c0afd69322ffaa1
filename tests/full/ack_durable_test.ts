/**
 * Acknowledged means durable (issue 8, part 1), with real `awr live` processes:
 * 2,000 actions answered 202, then SIGKILL (and SIGTERM) → after a restart every
 * acknowledged action is in a committed block exactly once; a retried key is not
 * duplicated; a batch larger than the free mempool space is refused whole.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { BlockStore } from "../../src/node/block_store.ts";
import { nodeDir, nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { liveArgs } from "../support/live_process.ts";

const BATCH = 50;
const CONCURRENT = 5;
/** No request may hang the test. */
const REQUEST_TIMEOUT_MS = 30_000;

interface Live {
  readonly child: Deno.ChildProcess;
  readonly base: string;
  readonly token: string;
  /** Everything the process printed on stdout, once it has exited. */
  readonly output: Promise<string>;
}

async function startLive(dataDir: string, extra: string[] = []): Promise<Live> {
  const child = new Deno.Command(Deno.execPath(), {
    args: liveArgs(dataDir, { http: "127.0.0.1:0", extra }),
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const found = Promise.withResolvers<string>();
  const output = (async () => {
    let text = "";
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += dec.decode(chunk, { stream: true });
      const m = /http\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(text);
      if (m) found.resolve(m[1]);
    }
    found.reject(new Error(`awr live exited before listening: ${text}`));
    return text;
  })();
  const timer = setTimeout(() => found.reject(new Error("no http line within 30 s")), 30_000);
  try {
    const base = await found.promise;
    const token = (await Deno.readTextFile(join(dataDir, "api_token"))).trim();
    return { child, base, token, output };
  } catch (err) {
    child.kill("SIGKILL");
    await child.status;
    await output;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function stopLive(live: Live, signal: Deno.Signal): Promise<void> {
  live.child.kill(signal);
  const status = await live.child.status;
  const out = await live.output;
  if (signal === "SIGKILL") assertEquals(status.signal, "SIGKILL");
  else assertEquals(status.code, 0, `awr live did not stop cleanly: ${out}`);
}

async function post(
  live: Live,
  actions: unknown[],
  key?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${live.base}/v1/actions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${live.token}`,
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify({ actions }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Posts `count` uniquely named register actions in concurrent batches; all must be
 * 202. Returns the names and the mempool size the last answers reported.
 */
async function postMany(
  live: Live,
  prefix: string,
  count: number,
): Promise<{ names: string[]; waiting: number }> {
  const names: string[] = [];
  let waiting = 0;
  for (let start = 0; start < count; start += BATCH * CONCURRENT) {
    const rounds = [];
    for (let b = 0; b < CONCURRENT && start + b * BATCH < count; b++) {
      const from = start + b * BATCH;
      const batch = Array.from(
        { length: Math.min(BATCH, count - from) },
        (_, i) => ({ kind: "register", agent: `${prefix}${from + i}` }),
      );
      names.push(...batch.map((a) => a.agent));
      rounds.push(post(live, batch, `${prefix}-batch-${from}`));
    }
    for (const r of await Promise.all(rounds)) {
      assertEquals(r.status, 202, JSON.stringify(r.body));
      waiting = Number(r.body.mempool_size);
    }
  }
  return { names, waiting };
}

async function waitMempoolEmpty(live: Live): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${live.base}/v1/status`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const s = await res.json();
    if (s.mempool_size === 0) return;
    if (Date.now() > until) throw new Error(`mempool still holds ${s.mempool_size} after 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many times each registered agent name appears in the committed blocks. */
async function committedNames(dataDir: string): Promise<Map<string, number>> {
  const state = await readNodeState(nodeStatePath(dataDir, "node-1"));
  const blocks = new BlockStore(join(nodeDir(dataDir, "node-1"), "blocks"));
  const seen = new Map<string, number>();
  for (let h = 1; h <= (state?.value.committedHeight ?? 0); h++) {
    const b = await blocks.getBlock(h);
    assert(b, `committed block ${h} is missing`);
    for (const a of b.actions) {
      if (a.kind === "register") seen.set(String(a.agent), (seen.get(String(a.agent)) ?? 0) + 1);
    }
  }
  return seen;
}

function assertExactlyOnce(seen: Map<string, number>, names: string[], what: string): void {
  const missing = names.filter((n) => !seen.has(n));
  const twice = names.filter((n) => (seen.get(n) ?? 0) > 1);
  assertEquals(missing.length, 0, `${what}: lost ${missing.length}, e.g. ${missing.slice(0, 3)}`);
  assertEquals(twice.length, 0, `${what}: duplicated ${twice.length}, e.g. ${twice.slice(0, 3)}`);
}

Deno.test({
  name: "acknowledged actions survive SIGKILL and SIGTERM exactly once; retries and overflows",
  sanitizeResources: true,
  sanitizeOps: true,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "awr-ack-" });
    try {
      // 1. 2,000 acknowledged, then SIGKILL right after the last 202.
      let live = await startLive(dataDir);
      const { names: killed, waiting } = await postMany(live, "k", 2_000);
      // For the log: how many acknowledged actions were still waiting when the kill came.
      console.log(`ack_durable: ${waiting} acknowledged actions waiting at SIGKILL`);
      const retryBatch = [{ kind: "register", agent: "k0" }];
      await stopLive(live, "SIGKILL");
      live = await startLive(dataDir);
      await waitMempoolEmpty(live);
      await stopLive(live, "SIGTERM");
      assertExactlyOnce(await committedNames(dataDir), killed, "after SIGKILL");

      // 2. 2,000 acknowledged, then SIGTERM.
      live = await startLive(dataDir);
      const termed = (await postMany(live, "t", 2_000)).names;
      await stopLive(live, "SIGTERM");
      live = await startLive(dataDir);
      await waitMempoolEmpty(live);

      // 3. A retried key (from before both restarts) answers its ids and queues nothing.
      const again = await post(live, [
        retryBatch[0],
        ...Array.from(
          { length: BATCH - 1 },
          (_, i) => ({ kind: "register", agent: `k${i + 1}` }),
        ),
      ], "k-batch-0");
      assertEquals(again.status, 200, JSON.stringify(again.body));
      assertEquals(again.body.replayed, true);
      await stopLive(live, "SIGTERM");

      // 4. A batch larger than the free space is refused whole.
      live = await startLive(dataDir, ["--max-mempool", "100"]);
      const tooBig = Array.from({ length: 101 }, (_, i) => ({ kind: "register", agent: `o${i}` }));
      const refused = await post(live, tooBig, "overflow");
      assertEquals(refused.status, 503);
      assertEquals(refused.body.code, "MEMPOOL_FULL");
      const fits = await post(live, tooBig.slice(0, 100), "fits");
      assertEquals(fits.status, 202);
      await waitMempoolEmpty(live);
      await stopLive(live, "SIGTERM");

      const seen = await committedNames(dataDir);
      assertExactlyOnce(seen, killed, "after SIGKILL, a retry and restarts");
      assertExactlyOnce(seen, termed, "after SIGTERM");
      assertExactlyOnce(seen, tooBig.slice(0, 100).map((a) => a.agent), "the batch that fit");
      assertEquals(seen.get("o100"), undefined, "nothing of the refused batch was queued");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
