import { assert, assertEquals } from "@std/assert";
import { packDir } from "../../src/storage/blob_store.ts";
import { PackReader } from "../../src/storage/pack_reader.ts";
import { join } from "@std/path";
import type { BlockAction } from "../../src/consensus/types.ts";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { readRecord, recordPath } from "../../src/execution/records.ts";
import { LegacyBridge } from "../../src/live/bridge.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { nodeDir } from "../../src/node/state_file.ts";
import { buildChain, writeLegacyState } from "../support/chain.ts";

// A deterministic mix of valid and invalid actions.
function actionsAt(h: number): BlockAction[] {
  const a = `agent-${h % 7}`;
  const b = `agent-${(h * 3) % 7}`;
  return [
    { kind: "register", agent: a, x: h % 5, y: h % 3 },
    { kind: "grant", agent: a, resource: "ore", amount: h },
    { kind: "move", agent: a, dx: 1, dy: -1 },
    { kind: "transfer", from: a, to: b, resource: "ore", amount: h % 4 },
    { kind: "transfer", from: b, to: a, resource: "gold", amount: 5 }, // usually rejected
  ];
}

Deno.test("node mode and bridge mode over the same committed chain write byte-identical records and blobs", async () => {
  const a = await Deno.makeTempDir({ prefix: "awr-mode-node-" });
  const b = await Deno.makeTempDir({ prefix: "awr-mode-bridge-" });
  try {
    const N = 30;
    const blocks = await buildChain(a, "node-1", N, actionsAt);
    await buildChain(b, "node-1", N, actionsAt);
    await writeLegacyState(a, "node-1", "world-1", blocks);

    // Node mode: the node replays its committed chain through the driver at start-up.
    const hookA = await createExecutionHook({
      dataDir: a,
      nodeId: "node-1",
      worldId: "world-1",
      mode: "node",
    });
    const node = new NodeRuntime(
      { nodeId: "node-1", worldId: "world-1", dataDir: a, role: "observer", tickIntervalMs: 50 },
      { executionHook: hookA },
    );
    await node.start();
    await node.stop();
    assertEquals(node.snapshot().consensus.lastExecutionHeight, N);

    // Bridge mode: the legacy bridge reads the block store and drives the same driver.
    const hookB = await createExecutionHook({
      dataDir: b,
      nodeId: "node-1",
      worldId: "world-1",
      mode: "bridge",
    });
    const blocksB = new BlockStore(join(nodeDir(b, "node-1"), "blocks"));
    const bridge = await LegacyBridge.open(hookB, blocksB, "world-1", "node-1");
    assertEquals(await bridge.catchUp(N), N);
    await bridge.close();

    for (let h = 1; h <= N; h++) {
      const ra = await Deno.readFile(recordPath(a, h));
      const rb = await Deno.readFile(recordPath(b, h));
      assertEquals(ra, rb, `record ${h} differs`);
    }
    assertEquals(
      bridge.progress.executionStateRoot,
      node.snapshot().consensus.lastExecutionStateRoot,
    );
    // Same blobs (the pack segments differ only in the state entry's executor_mode).
    const blobsA = (await PackReader.open(packDir(a))).blobIds().sort();
    assertEquals(blobsA, (await PackReader.open(packDir(b))).blobIds().sort());
    assert(blobsA.length > N, "chunks, tree nodes, manifests and journals were stored");
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("upgrade: records written by the bridge up to N, then a node with an old state file (no execution fields) continues at N+1", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-upgrade-" });
  try {
    const N = 12;
    const blocks = await buildChain(dataDir, "node-1", N + 3, actionsAt);
    const store = new BlockStore(join(nodeDir(dataDir, "node-1"), "blocks"));
    const bridgeHook = await createExecutionHook({
      dataDir,
      nodeId: "node-1",
      worldId: "world-1",
      mode: "bridge",
    });
    const bridge = await LegacyBridge.open(bridgeHook, store, "world-1", "node-1");
    assertEquals(await bridge.catchUp(N), N);
    await bridge.close();
    const before = await Promise.all(
      Array.from({ length: N }, (_, i) => Deno.readFile(recordPath(dataDir, i + 1))),
    );
    // The node's state file predates the execution fields; it is committed to N+3.
    await writeLegacyState(dataDir, "node-1", "world-1", blocks);

    const hook = await createExecutionHook({ dataDir, nodeId: "node-1", worldId: "world-1" });
    const delivered: number[] = [];
    const node = new NodeRuntime(
      { nodeId: "node-1", worldId: "world-1", dataDir, role: "observer", tickIntervalMs: 50 },
      { executionHook: hook },
    );
    node.events.on("execution", ({ result }) => delivered.push(result.executionHeight));
    await node.start();
    await node.stop();
    assertEquals(delivered, [N + 1, N + 2, N + 3], "only the heights above the records folder");
    for (let h = 1; h <= N; h++) {
      assertEquals(
        await Deno.readFile(recordPath(dataDir, h)),
        before[h - 1],
        `record ${h} untouched`,
      );
    }
    const next = await readRecord(dataDir, N + 1);
    assertEquals(
      next?.prevExecutionBlockHash,
      bridge.progress.executionBlockHash,
      "same hash chain",
    );
    const c = node.snapshot().consensus;
    assertEquals(c.lastExecutionHeight, N + 3);
    assertEquals(c.lastExecutionBlockHash, (await readRecord(dataDir, N + 3))?.executionBlockHash);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
