/**
 * Disk full, for real: `awr live` runs on a 2 MiB tmpfs; a filler file takes the
 * rest of the space. The node must halt loudly (status, metrics, one log line, POST
 * answered 503 NODE_HALTED), then resume by itself once the filler is deleted, with
 * no committed height lost or repeated and `awr records verify` passing.
 * Needs root (to mount); skips with a printed reason otherwise.
 */
import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { join } from "@std/path";
import { BlockStore } from "../../src/node/block_store.ts";
import { nodeDir, nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { awr } from "../support/cli.ts";
import { type LiveProcess, pollUntil, spawnLive } from "../support/live_process.ts";

const TMPFS_SIZE = "2m";
const ACTIONS = 20;

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
}

/** Writes 64 KiB chunks into `path` until the file system refuses; returns the bytes written. */
async function fillDisk(path: string): Promise<number> {
  const chunk = new Uint8Array(64 * 1024).fill(7);
  const f = await Deno.open(path, { write: true, create: true });
  let written = 0;
  try {
    for (;;) {
      try {
        written += await f.write(chunk);
      } catch {
        break;
      }
    }
  } finally {
    f.close();
  }
  return written;
}

function committed(s: Record<string, unknown>): number {
  return Number((s.consensus as Record<string, unknown>).committed_height);
}

Deno.test("disk full on a tmpfs: halted + 503 + metrics, resumes after space is freed, records verify", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIP disk_full_test: needs root to mount a tmpfs (run the full tier as root)");
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "awr-diskfull-" });
  const mnt = join(tmp, "mnt");
  await Deno.mkdir(mnt);
  const mounted = await run("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", mnt]);
  if (!mounted.ok) {
    console.log(`SKIP disk_full_test: mount -t tmpfs failed: ${mounted.err}`);
    await Deno.remove(tmp, { recursive: true });
    return;
  }
  const data = join(mnt, "data");
  let live: LiveProcess | null = null;
  try {
    live = await spawnLive(data, ["--tick-ms", "20", "--status-every", "0", "--log-level", "info"]);
    const node = live;
    await pollUntil("5 commits", async () => committed(await node.status()) >= 5, 30_000);
    for (let i = 0; i < ACTIONS; i++) {
      const r = await node.post({ kind: "register", agent: `agent-${i}` });
      assertEquals(r.status, 202, JSON.stringify(r.body));
    }

    const filler = join(mnt, "filler");
    const filled = await fillDisk(filler);
    await pollUntil("status halted", async () => (await node.status()).halted !== null, 30_000);
    const halted = await node.status();
    const h = halted.halted as Record<string, unknown>;
    console.log(`filler ${filled} bytes; halted at ${committed(halted)}: ${JSON.stringify(h)}`);
    assertEquals(halted.running, false);
    assertEquals(h.code, "ENOSPC");
    assert(String(h.reason).includes("No space left"), String(h.reason));
    assert(String(h.reason).includes(data), `the reason names the file: ${h.reason}`);
    const refused = await node.post({ kind: "register", agent: "late" });
    assertEquals(refused.status, 503);
    assertEquals(refused.body.code, "NODE_HALTED");
    const metrics = await (await fetch(`${node.url}metrics`)).text();
    assert(metrics.includes("\nawr_node_halted 1\n"), "awr_node_halted gauge is 1");
    assert(metrics.includes("\nawr_node_halts_total 1\n"), "one halt counted");
    // Nothing commits while the disk is full (retries back off, at most 5 s apart).
    await new Promise((r) => setTimeout(r, 1_000));
    assertEquals(committed(await node.status()), committed(halted));
    assertEquals((await node.status()).halted !== null, true);

    await Deno.remove(filler);
    await pollUntil("resume and 10 more commits", async () => {
      const s = await node.status();
      return s.halted === null && committed(s) >= committed(halted) + 10;
    }, 30_000);
    const resumed = await node.status();
    assertEquals(resumed.running, true);
    await pollUntil("execution to catch up", async () => {
      const s = await node.status();
      return Number(s.execution_lag) <= 2;
    }, 60_000);
    const code = await node.stop();
    live = null;
    assertEquals(code, 0, node.logLines.join("\n"));
    assertEquals(node.logLines.filter((l) => l.includes("node halted:")).length, 1);
    assertEquals(node.logLines.filter((l) => l.includes("node resumed:")).length, 1);

    // Every height 1..N on disk, chained, N the state file's; each action in exactly one block.
    const n = (await readNodeState(nodeStatePath(data, "node-1")))!.value.committedHeight;
    assertGreaterOrEqual(n, committed(halted) + 10);
    const blocks = new BlockStore(join(nodeDir(data, "node-1"), "blocks"));
    const agents: string[] = [];
    let prev: string | null = null;
    for (let height = 1; height <= n; height++) {
      const b = await blocks.getBlock(height);
      assert(b, `block ${height} is on disk`);
      if (prev !== null) assertEquals(b.header.parentHash, prev, `block ${height} links`);
      prev = b.hash;
      for (const a of b.actions) if (a.kind === "register") agents.push(String(a.agent));
    }
    assertEquals(
      agents.sort(),
      Array.from({ length: ACTIONS }, (_, i) => `agent-${i}`).sort(),
      "every accepted action once; the refused one never",
    );
    const verify = await awr("records", "verify", "--data-dir", data);
    assertEquals(verify.code, 0, verify.err);
    console.log(verify.out);
  } finally {
    if (live) await live.stop();
    const un = await run("umount", [mnt]);
    if (!un.ok) console.log(`umount ${mnt} failed: ${un.err}`);
    await Deno.remove(tmp, { recursive: true });
  }
});
