/**
 * Independent reader of a real node's execution store: `awr live` (in process) runs
 * with actions, then a Python script using only `cbor2` and the `b3sum` binary reads
 * `<data>/store/packs`, collects every blob (its name re-derived with `b3sum`), and for
 * every height decodes the record entry `record/<20-digit height>`, checks that the
 * manifest blob's BLAKE3 is the record's `execution_state_root`, and extracts every
 * blob of that height's state (manifest → tree nodes → chunks, plus the journal
 * segment). None of this project's code takes part in the checks. Without
 * `/usr/bin/python3` + python3-cbor2 or `b3sum` the test is ignored with a printed
 * reason.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { readRecord } from "../../src/execution/records.ts";
import { startLiveNode } from "../../src/live/live.ts";
import { packDir } from "../../src/storage/blob_store.ts";
import { waitFor } from "../support/hooks.ts";
import { missingTool, readPackWithPython } from "../support/py_pack_reader.ts";

const skip = await missingTool();
if (skip) console.log(`pack node reader test ignored: ${skip}`);

Deno.test({
  name:
    "a live node's pack store: Python cbor2 + b3sum extract every blob of each height and re-derive its state root",
  ignore: skip !== null,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "awr-pack-node-py-" });
    try {
      const live = await startLiveNode({
        dataDir,
        http: null,
        tickMs: 10,
        statusEveryMs: 0,
        rewardIntervalMs: 50,
      });
      try {
        const actions = [];
        for (let i = 0; i < 40; i++) {
          actions.push({ kind: "register" as const, agent: `py-${i}`, x: i, y: 2 * i });
        }
        await live.node.submitActions(actions);
        assert(
          await waitFor(() => live.node.snapshot().consensus.lastExecutionHeight >= 8, 20_000),
          "execution reached height 8",
        );
      } finally {
        await live.stop();
      }
      const n = live.node.snapshot().consensus.lastExecutionHeight;
      const tmp = join(dataDir, "py-tmp");
      await Deno.mkdir(tmp);
      const out = await readPackWithPython(packDir(dataDir), tmp);
      assertEquals(out.errors, []);
      assertEquals(Object.keys(out.heights).length, n, "every executed height is in the pack");
      let maxAgents = 0;
      for (let h = 1; h <= n; h++) {
        const r = (await readRecord(dataDir, h))!;
        const got = out.heights[String(h)];
        assertEquals(got.root, r.executionStateRoot, `height ${h}`);
        assertEquals(got.manifest_b3, r.executionStateRoot, `height ${h}: BLAKE3(manifest)`);
        maxAgents = Math.max(maxAgents, got.agents);
      }
      assertEquals(maxAgents, 40, "the registered agents are in the state the reader extracted");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
