import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { readRecord, recordPath } from "../../src/execution/records.ts";
import { verifyRecords } from "../../src/execution/verify.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { recordHeights } from "../support/live_helpers.ts";
import { missingTool, readPackWithPython } from "../support/py_pack_reader.ts";
import { packDir } from "../../src/storage/blob_store.ts";
import { liveArgs } from "../support/live_process.ts";
import { mulberry32 } from "../support/prng.ts";

function spawnLive(dataDir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: liveArgs(dataDir),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function committedHeight(dataDir: string): Promise<number> {
  return (await readNodeState(nodeStatePath(dataDir, "node-1")))?.value.committedHeight ?? 0;
}

Deno.test("awr live SIGKILLed 20 times at random moments resumes every time and loses nothing", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-kill-" });
  const seed = Number(Deno.env.get("AWR_KILL_SEED") ?? 20261125);
  const rand = mulberry32(seed);
  const seen = new Map<number, string>(); // height → hash of its record file
  try {
    let lastCommitted = 0;
    for (let i = 0; i < 20; i++) {
      const child = spawnLive(dataDir);
      // Even runs count from the spawn (a kill may land in start-up); odd runs from the
      // first new commit, so that a slow machine still kills running nodes too.
      if (i % 2 === 1) {
        const until = performance.now() + 30_000;
        while ((await committedHeight(dataDir)) <= lastCommitted) {
          assert(performance.now() < until, `run ${i} (seed ${seed}) committed nothing in 30 s`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await new Promise((r) => setTimeout(r, 300 + Math.floor(rand() * 1200)));
      child.kill("SIGKILL");
      const status = await child.status;
      const stderr = new TextDecoder().decode(
        (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
      );
      assertEquals(status.signal, "SIGKILL", `run ${i} (seed ${seed}) ended on its own: ${stderr}`);
      const committed = await committedHeight(dataDir);
      assertGreaterOrEqual(
        committed,
        lastCommitted,
        `committed height went backwards at run ${i} (seed ${seed})`,
      );
      lastCommitted = committed;
      // A record, once written, never changes: no height is executed twice into a different file.
      for (const h of await recordHeights(dataDir)) {
        const digest = hashHex(await Deno.readFile(recordPath(dataDir, h)));
        const before = seen.get(h);
        if (before !== undefined) {
          assertEquals(digest, before, `record ${h} was rewritten (run ${i}, seed ${seed})`);
        }
        seen.set(h, digest);
      }
    }
    assert(lastCommitted > 20, `the node made progress across restarts (${lastCommitted})`);

    // One last run, stopped gracefully once execution has caught up.
    const child = spawnLive(dataDir);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const s = (await readNodeState(nodeStatePath(dataDir, "node-1")))?.value;
      if (s && s.committedHeight > lastCommitted && s.lastExecutionHeight > lastCommitted) break;
    }
    child.kill("SIGTERM");
    const final = await child.status;
    await child.stderr.cancel();
    assertEquals(final.code, 0, "graceful stop after SIGTERM");

    const state = (await readNodeState(nodeStatePath(dataDir, "node-1")))!.value;
    assertGreaterOrEqual(state.committedHeight, lastCommitted);
    const heights = await recordHeights(dataDir);
    heights.forEach((h, i) => assertEquals(h, i + 1, "records are exactly 1..n"));
    assertEquals(heights.length, state.lastExecutionHeight);
    const last = await readRecord(dataDir, state.lastExecutionHeight);
    assertEquals(last?.executionBlockHash, state.lastExecutionBlockHash);
    const verdict = await verifyRecords(dataDir);
    assert(verdict.ok, `records verify failed: ${JSON.stringify(verdict.firstBad)}`);
    // The independent reader (Python cbor2 + b3sum) re-derives every height's state root.
    const skip = await missingTool();
    if (skip) console.log(`independent pack reader skipped: ${skip}`);
    else {
      const tmp = await Deno.makeTempDir({ prefix: "awr-kill-py-" });
      try {
        const read = await readPackWithPython(packDir(dataDir), tmp);
        assertEquals(read.errors, []);
        for (const h of heights) {
          const r = (await readRecord(dataDir, h))!;
          assertEquals(read.heights[String(h)]?.manifest_b3, r.executionStateRoot, `height ${h}`);
        }
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
