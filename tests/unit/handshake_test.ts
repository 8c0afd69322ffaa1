import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { HandshakeError } from "../../src/node/handshake.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { readNodeState } from "../../src/node/state_file.ts";
import { buildChain, writeLegacyState } from "../support/chain.ts";
import { RecordingHook, waitFor } from "../support/hooks.ts";

async function withChain(
  fn: (dataDir: string, blocks: Awaited<ReturnType<typeof buildChain>>) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-hs-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 7);
    await writeLegacyState(dataDir, "node-1", "world-1", blocks);
    await fn(dataDir, blocks);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

const cfg = (dataDir: string) => ({
  nodeId: "node-1",
  worldId: "world-1",
  dataDir,
  tickIntervalMs: 10,
});

Deno.test("handshake: legacy state at 7 + hook at 5 → fields from the hook, only 6, 7, 8… delivered", async () => {
  await withChain(async (dataDir, blocks) => {
    const hook = new RecordingHook({
      info: {
        lastHeight: 5,
        lastNodeBlockHash: blocks[4].hash,
        lastExecutionBlockHash: "e".repeat(64),
        lastExecutionStateRoot: "f".repeat(64),
      },
    });
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    await node.start();
    // Replay happened inside start(), before any new commit.
    assertEquals(hook.calls.map((c) => c.height), [6, 7]);
    assertEquals(hook.calls[0].nodeBlockHash, blocks[5].hash);
    assertEquals(hook.calls[1].committedAtUnixMs, blocks[6].committedAtUnixMs);
    assert(await waitFor(() => hook.calls.length >= 4));
    await node.stop();
    const heights = hook.calls.map((c) => c.height);
    heights.forEach((h, i) => assertEquals(h, 6 + i));
    const state = await readNodeState(node.statePath);
    assertEquals(state?.value.lastExecutionHeight, state?.value.committedHeight);
    assertEquals(state?.value.lastExecutionHeight, heights[heights.length - 1]);
  });
});

Deno.test("handshake: legacy state + hook at 5 and no new commits → execution fields come from the hook", async () => {
  await withChain(async (dataDir, blocks) => {
    const hook = new RecordingHook({
      info: {
        lastHeight: 5,
        lastNodeBlockHash: blocks[4].hash,
        lastExecutionBlockHash: "e".repeat(64),
        lastExecutionStateRoot: "f".repeat(64),
      },
      failWhen: () => true, // nothing executes: the fields must be the hook's own
    });
    const node = new NodeRuntime({ ...cfg(dataDir), role: "observer" }, { executionHook: hook });
    await node.start();
    const c = node.snapshot().consensus;
    assertEquals(c.committedHeight, 7);
    assertEquals(c.lastExecutionHeight, 5);
    assertEquals(c.lastExecutionBlockHash, "e".repeat(64));
    assertEquals(c.lastExecutionStateRoot, "f".repeat(64));
    await node.stop();
  });
});

Deno.test("handshake: hook ahead of consensus fails start naming both sides", async () => {
  await withChain(async (dataDir, blocks) => {
    const hook = new RecordingHook({
      info: {
        lastHeight: 9,
        lastNodeBlockHash: "9".repeat(64),
        lastExecutionBlockHash: "a".repeat(64),
        lastExecutionStateRoot: "b".repeat(64),
      },
    });
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    const err = await assertRejects(() => node.start(), HandshakeError);
    assertEquals(err.code, "EXECUTION_AHEAD");
    assertStringIncludes(err.message, "height 9");
    assertStringIncludes(err.message, "9".repeat(64));
    assertStringIncludes(err.message, "committed height 7");
    assertStringIncludes(err.message, blocks[6].hash);
    assertEquals(hook.calls.length, 0);
  });
});

Deno.test("handshake: a different block hash at the hook's height fails start naming both hashes", async () => {
  await withChain(async (dataDir, blocks) => {
    const other = "c".repeat(64);
    const hook = new RecordingHook({
      info: {
        lastHeight: 5,
        lastNodeBlockHash: other,
        lastExecutionBlockHash: "a".repeat(64),
        lastExecutionStateRoot: "b".repeat(64),
      },
    });
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    const err = await assertRejects(() => node.start(), HandshakeError);
    assertEquals(err.code, "BLOCK_HASH_MISMATCH");
    assertStringIncludes(err.message, "height 5");
    assertStringIncludes(err.message, other);
    assertStringIncludes(err.message, blocks[4].hash);
  });
});

Deno.test("handshake: state file for another world is refused", async () => {
  await withChain(async (dataDir) => {
    const node = new NodeRuntime({ ...cfg(dataDir), worldId: "world-2" });
    const err = await assertRejects(() => node.start(), HandshakeError);
    assertEquals(err.code, "IDENTITY_MISMATCH");
    assertStringIncludes(err.message, "world_id");
  });
});

Deno.test("handshake: state pointing at a missing block is refused", async () => {
  await withChain(async (dataDir, blocks) => {
    const node0 = new NodeRuntime(cfg(dataDir));
    await Deno.remove(node0.blocks.pathOf(7));
    const err = await assertRejects(() => node0.start(), HandshakeError);
    assertEquals(err.code, "BLOCK_MISSING");
    assertStringIncludes(err.message, "committed height 7");
    assertEquals(blocks.length, 7);
  });
});
