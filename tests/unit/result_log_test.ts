import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { AwrError } from "../../src/errors.ts";
import {
  decodeResultSlot,
  encodeResultSlot,
  type ExecutionResultEntry,
  ExecutionResultLog,
  RESULT_LOG_MAX_FAILED,
  RESULT_LOG_MAX_FIELD,
  RESULT_LOG_SEGMENT_HEIGHTS,
  RESULT_LOG_SLOT_BYTES,
} from "../../src/node/result_log.ts";
import { verifyResultLog } from "../../src/node/result_verify.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { RecordingHook, waitFor } from "../support/hooks.ts";

const entry = (height: number, tag = "x"): ExecutionResultEntry => ({
  height,
  nodeBlockHash: `n${height}${tag}`,
  executionBlockHash: `e${height}${tag}`,
  executionStateRoot: `r${height}${tag}`,
  driver: "third-party",
  receivedAtUnixMs: 1_700_000_000_000 + height,
});

Deno.test("result log: slots by height, a re-executed height overwrites its slot, files split per segment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-results-" });
  try {
    const log = await ExecutionResultLog.open(dir, false);
    for (let h = 1; h <= 3; h++) log.put(entry(h));
    log.put(entry(2, "again"));
    log.put(entry(RESULT_LOG_SEGMENT_HEIGHTS + 1));
    await log.sync();
    log.close();
    const files = [...Deno.readDirSync(log.dir)].map((f) => f.name).sort();
    assertEquals(files, ["0000000001.log", "0000010001.log"]);
    assertEquals(Deno.statSync(join(log.dir, files[0])).size, 3 * RESULT_LOG_SLOT_BYTES);
    assertEquals(await log.get(1), entry(1));
    assertEquals(await log.get(2), entry(2, "again"));
    assertEquals(await log.get(4), null, "never written");
    assertEquals(
      await log.get(RESULT_LOG_SEGMENT_HEIGHTS + 1),
      entry(RESULT_LOG_SEGMENT_HEIGHTS + 1),
    );
    assertEquals(await log.get(RESULT_LOG_SEGMENT_HEIGHTS + 2), null, "past the end of the file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("result log: a torn or misplaced slot reads as absent; fields are bounded", () => {
  const slot = encodeResultSlot(entry(7));
  assertEquals(slot.length, RESULT_LOG_SLOT_BYTES);
  assertEquals(decodeResultSlot(slot, 7), entry(7));
  assertEquals(decodeResultSlot(slot, 8), null, "slot of another height");
  const torn = slot.slice();
  torn.fill(0, 40);
  assertEquals(decodeResultSlot(torn, 7), null);
  // At the bound: RESULT_LOG_MAX_FIELD characters fit, one more is refused.
  const long = "f".repeat(RESULT_LOG_MAX_FIELD);
  const atBound = {
    ...entry(9),
    nodeBlockHash: long,
    executionBlockHash: long,
    executionStateRoot: long,
    driver: long,
  };
  assertEquals(decodeResultSlot(encodeResultSlot(atBound), 9), atBound);
  const err = assertThrows(
    () => encodeResultSlot({ ...entry(9), executionStateRoot: long + "f" }),
    AwrError,
    "executionStateRoot",
  );
  assertEquals(err.code, "RESULT_LOG_FIELD");
});

Deno.test("node: every hook result is in its result log, named after the driver, and survives a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-node-results-" });
  try {
    const hook = Object.assign(new RecordingHook(), { driverName: "my-driver" });
    const config = { nodeId: "n1", worldId: "w1", dataDir, tickIntervalMs: 10 };
    const node = new NodeRuntime(config, { executionHook: hook });
    await node.start();
    await waitFor(() => node.snapshot().consensus.lastExecutionHeight >= 3);
    await node.stop();
    const last = node.snapshot().consensus.lastExecutionHeight;
    // Deleting the newest entry's file simulates a power loss before the fsync.
    const node2 = new NodeRuntime(config, { executionHook: hook });
    const logDir = join(dataDir, "node", "n1", "execution_results");
    await Deno.remove(join(logDir, "0000000001.log"));
    await node2.start();
    await node2.stop();
    const refilled = await node2.executionResult(last);
    assert(refilled, `height ${last} is written again from the hook's info at start`);
    assertEquals(refilled.executionStateRoot, node.snapshot().consensus.lastExecutionStateRoot);
    const log = await ExecutionResultLog.open(join(dataDir, "node", "n1"), false);
    for (const ctx of hook.calls.filter((c) => c.height > last)) {
      const e = await log.get(ctx.height);
      assertEquals(e?.nodeBlockHash, ctx.nodeBlockHash);
      assertEquals(e?.driver, "my-driver");
      assertEquals((await node2.blocks.getBlock(ctx.height))?.hash, e?.nodeBlockHash);
    }
    assertEquals(
      await node2.executionResult(node2.snapshot().consensus.lastExecutionHeight + 1),
      null,
    );
    log.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("verifyResultLog: ok on a clean log; names the height of a gap and of a foreign block hash", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-results-verify-" });
  try {
    const hook = new RecordingHook();
    const node = new NodeRuntime({ nodeId: "n1", worldId: "w1", dataDir, tickIntervalMs: 10 }, {
      executionHook: hook,
    });
    await node.start();
    await waitFor(() => node.snapshot().consensus.lastExecutionHeight >= 4);
    await node.stop();
    const clean = await verifyResultLog(dataDir, "n1");
    assertEquals(clean.ok, true);
    assertEquals(clean.heights, node.snapshot().consensus.lastExecutionHeight);
    assertEquals(clean.drivers, ["hook"]);
    const log = await ExecutionResultLog.open(join(dataDir, "node", "n1"), false);
    const e3 = (await log.get(3))!;
    log.put({ ...e3, nodeBlockHash: "f".repeat(64) });
    log.close();
    const foreign = await verifyResultLog(dataDir, "n1");
    assertEquals(foreign.firstBad?.height, 3);
    assertEquals(foreign.heights, 2);
    assertStringIncludes(foreign.firstBad!.problem, "is not the stored block's");
    // A zeroed slot (a write the disk never kept) is a gap.
    const file = join(dataDir, "node", "n1", "execution_results", "0000000001.log");
    const bytes = await Deno.readFile(file);
    bytes.fill(0, RESULT_LOG_SLOT_BYTES, 2 * RESULT_LOG_SLOT_BYTES);
    await Deno.writeFile(file, bytes);
    const gap = await verifyResultLog(dataDir, "n1");
    assertEquals(gap.firstBad, { height: 2, problem: "no execution result logged for height 2" });
    // A fallback (the bridge records, in the CLI) covers a height the log lacks.
    const block2 = (await node.blocks.getBlock(2))!;
    const covered = await verifyResultLog(dataDir, "n1", {
      fallback: (h) =>
        Promise.resolve(h === 2 ? { nodeBlockHash: block2.hash, driver: "bridge" } : null),
    });
    assertEquals(covered.firstBad?.height, 3);
    assertEquals(covered.drivers, ["hook", "bridge"]);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("result log: a failed write is kept and written by the next sync; sync fails until it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-results-fail-" });
  try {
    const log = await ExecutionResultLog.open(dir, false);
    log.put(entry(1));
    log.close();
    // The folder turns into a file: opening the segment fails (ENOTDIR), as a full disk would.
    await Deno.remove(log.dir, { recursive: true });
    await Deno.writeTextFile(log.dir, "not a folder");
    assertThrows(() => log.put(entry(2)));
    assertEquals(log.failedCount, 1);
    await assertRejects(() => log.sync());
    assertEquals(log.failedCount, 1, "still owed");
    await Deno.remove(log.dir);
    await Deno.mkdir(log.dir);
    await log.sync();
    assertEquals(log.failedCount, 0);
    assertEquals(await log.get(2), entry(2));
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("result log: failed writes kept are bounded; beyond the bound the oldest is dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-results-bound-" });
  try {
    const log = await ExecutionResultLog.open(dir, false);
    await Deno.remove(log.dir, { recursive: true });
    await Deno.writeTextFile(log.dir, "not a folder");
    for (let h = 1; h <= RESULT_LOG_MAX_FAILED + 1; h++) assertThrows(() => log.put(entry(h)));
    assertEquals(log.failedCount, RESULT_LOG_MAX_FAILED);
    await Deno.remove(log.dir);
    await Deno.mkdir(log.dir);
    await log.sync();
    assertEquals(await log.get(1), null, "the oldest was dropped (verify reports it)");
    assertEquals(await log.get(2), entry(2));
    assertEquals(await log.get(RESULT_LOG_MAX_FAILED + 1), entry(RESULT_LOG_MAX_FAILED + 1));
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
