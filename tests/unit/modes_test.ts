import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import type { BlockAction } from "../../src/consensus/types.ts";
import { createExecutionHook } from "../../src/execution/create_hook.ts";
import { recordPath } from "../../src/execution/records.ts";
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

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, "");
  return out.sort();
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
    const blobsA = await listFiles(join(a, "store"));
    assertEquals(blobsA, await listFiles(join(b, "store")));
    assert(blobsA.length > N, "chunks, tree nodes, manifests and journals were stored");
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});
