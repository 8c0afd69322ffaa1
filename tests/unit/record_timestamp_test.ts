import { assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { ExecutionCore } from "../../src/execution/core.ts";
import { readRecord, readRecordFile, writeRecord } from "../../src/execution/records.ts";
import { verifyRecords } from "../../src/execution/verify.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { commitContext } from "../../src/node/execution_hook.ts";
import { buildChain } from "../support/chain.ts";
import { toLegacyLayout } from "../support/legacy_layout.ts";

Deno.test("record timestamp_ms is the hashed header's; verify catches a changed one", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-ts-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 3);
    const core = await ExecutionCore.open({
      dataDir,
      worldId: "world-1",
      blocks: new BlockStore(join(dataDir, "node", "node-1", "blocks")),
      durable: false,
    });
    for (const b of blocks) await core.executeThrough(commitContext("world-1", "node-1", b));
    await core.close();
    const file = (await readRecordFile(dataDir, 2))!;
    assertEquals(file.version, 2);
    assertEquals(file.value.timestampMs, blocks[1].header.timestampMs);
    assertEquals((await verifyRecords(dataDir)).ok, true);

    // timestamp_ms is not in the execution block hash preimage: only the block catches it.
    // (In the layout before the pack store the file is the only copy of the record; with
    // the pack, a changed copy is caught as differing from the pack's entry.)
    await toLegacyLayout(dataDir);
    const r = (await readRecord(dataDir, 2))!;
    await writeRecord(dataDir, { ...r, timestampMs: r.timestampMs + 1 }, false);
    const bad = await verifyRecords(dataDir);
    assertEquals(bad.firstBad?.height, 2);
    assertStringIncludes(bad.firstBad!.problem, "timestamp_ms");
    // Without the node's blocks (a copied records folder) the check is skipped.
    assertEquals((await verifyRecords(dataDir, { blocks: null })).ok, true);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
