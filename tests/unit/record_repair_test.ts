import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { startLiveNode } from "../../src/live/live.ts";
import { verifyRecords } from "../../src/execution/verify.ts";
import { waitFor } from "../support/hooks.ts";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { ExecutionError } from "../../src/execution/execution_error.ts";
import { recordPath } from "../../src/execution/records.ts";
import { readExecutionState } from "../../src/execution/state_file.ts";
import { blockReader, ctxOf, randomChain, WORLD } from "../support/chain_fixture.ts";
import { toLegacyLayout } from "../support/legacy_layout.ts";

const CHAIN = randomChain(12, 99, 6);

function open(dir: string, blocks: readonly CommittedBlock[] = CHAIN): Promise<ExecutionCore> {
  return ExecutionCore.open({
    dataDir: dir,
    worldId: WORLD,
    blocks: blockReader(blocks),
    durable: false,
  });
}

async function withExecuted(
  height: number,
  fn: (dir: string, newest: Uint8Array) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-repair-" });
  try {
    const core = await open(dir);
    for (let h = 1; h <= height; h++) await core.executeThrough(ctxOf(CHAIN[h - 1]));
    await core.close();
    // Record files are the only copy in the layout before the pack store (the pack's
    // own repair is in execution_pack_test.ts).
    await toLegacyLayout(dir);
    await fn(dir, await Deno.readFile(recordPath(dir, height)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("record repair: a deleted newest record is rewritten identically at open", async () => {
  await withExecuted(8, async (dir, newest) => {
    await Deno.remove(recordPath(dir, 8));
    const core = await open(dir);
    assertEquals(core.info().lastHeight, 8);
    await core.close();
    assertEquals(await Deno.readFile(recordPath(dir, 8)), newest);
    assertEquals((await readExecutionState(dir))?.value.lastAppliedHeight, 8);
  });
});

Deno.test("record repair: a corrupt newest record (also at height 1) is rewritten identically", async () => {
  for (const height of [1, 5]) {
    await withExecuted(height, async (dir, newest) => {
      await Deno.writeFile(recordPath(dir, height), new Uint8Array([0xff, 0x00, 0x13]));
      const core = await open(dir);
      await core.close();
      assertEquals(await Deno.readFile(recordPath(dir, height)), newest);
    });
  }
});

Deno.test("record repair: without the committed block the repair is refused naming the file", async () => {
  await withExecuted(6, async (dir) => {
    await Deno.remove(recordPath(dir, 6));
    const err = await assertRejects(() => open(dir, CHAIN.slice(0, 5)), ExecutionError);
    assertEquals(err.code, "RECORD_MISSING");
    assertStringIncludes(err.message, recordPath(dir, 6));
  });
});

Deno.test("record repair: a different block at the newest height is refused (RECORD_DIVERGED), not written", async () => {
  await withExecuted(6, async (dir) => {
    await Deno.remove(recordPath(dir, 6));
    const other = randomChain(12, 7, 6);
    const forged = [...CHAIN.slice(0, 5), other[5]];
    const before = await readExecutionState(dir);
    const err = await assertRejects(() => open(dir, forged), ExecutionError);
    assertEquals(err.code, "RECORD_DIVERGED");
    assertStringIncludes(err.message, recordPath(dir, 6));
    assertStringIncludes(err.message, before!.value.lastExecutionBlockHash!);
    assertEquals(await readExecutionState(dir), before);
    assertEquals(await Deno.stat(recordPath(dir, 6)).catch(() => null), null);
  });
});

Deno.test("record repair: a missing record below the newest is refused naming the file", async () => {
  await withExecuted(6, async (dir) => {
    await Deno.remove(recordPath(dir, 5));
    const err = await assertRejects(() => open(dir), ExecutionError);
    assertEquals(err.code, "RECORD_UNREADABLE");
    assertStringIncludes(err.message, recordPath(dir, 5));
  });
});

Deno.test("record check: a newest record that disagrees with the state file is refused naming both", async () => {
  await withExecuted(4, async (dir) => {
    // Swap in record 3's bytes under record 4's name: decodes fine, wrong height/links.
    await Deno.writeFile(recordPath(dir, 4), await Deno.readFile(recordPath(dir, 3)));
    const err = await assertRejects(() => open(dir), ExecutionError);
    assertStringIncludes(err.message, recordPath(dir, 4));
  });
});

Deno.test("record repair: awr live restarted after its newest record was deleted rewrites it identically", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-repair-live-" });
  const opts = { dataDir, http: null, tickMs: 10, statusEveryMs: 0, rewardIntervalMs: 20 };
  try {
    let live = await startLiveNode(opts);
    assert(await waitFor(() => live.node.snapshot().consensus.lastExecutionHeight >= 3, 10_000));
    await live.stop();
    const n = (await readExecutionState(dataDir))!.value.lastAppliedHeight;
    const newest = await Deno.readFile(recordPath(dataDir, n));
    await Deno.remove(recordPath(dataDir, n));
    live = await startLiveNode(opts);
    await live.stop();
    assertEquals(await Deno.readFile(recordPath(dataDir, n)), newest);
    assertEquals((await verifyRecords(dataDir)).ok, true);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
