import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { BlockStore } from "../../src/node/block_store.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { initialSignerState } from "../../src/consensus/bft/signer_state.ts";
import { committedBlock } from "../support/chain_fixture.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";

type FlushKind = "sync" | "syncData" | "syncSync" | "syncDataSync";
const KINDS: FlushKind[] = ["sync", "syncData", "syncSync", "syncDataSync"];

/** Runs `fn` counting the FsFile flush calls of each kind (the prototype restored after). */
async function countFlushes(fn: () => Promise<void>): Promise<Record<FlushKind, number>> {
  const proto = Deno.FsFile.prototype as unknown as Record<FlushKind, (...a: unknown[]) => unknown>;
  const saved = KINDS.map((k) => proto[k]);
  const counts = { sync: 0, syncData: 0, syncSync: 0, syncDataSync: 0 };
  KINDS.forEach((k, i) => {
    proto[k] = function (this: unknown, ...a: unknown[]) {
      counts[k]++;
      return saved[i].apply(this, a);
    };
  });
  try {
    await fn();
  } finally {
    KINDS.forEach((k, i) => proto[k] = saved[i]);
  }
  return counts;
}

const only = (kind: FlushKind, n: number) => ({
  sync: 0,
  syncData: 0,
  syncSync: 0,
  syncDataSync: 0,
  [kind]: n,
});

Deno.test("flush: a networked node's block file and folder flush blocking; a local node's are awaited", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-flush-" });
  try {
    const b1 = committedBlock(1, "genesis", []);
    const b2 = committedBlock(2, b1.hash, []);
    // The first write also makes the folders (awaited fsyncs, once); the second is a height's.
    const net = new BlockStore(join(dir, "net"), { blockingFlush: true });
    await net.put(b1);
    assertEquals(await countFlushes(() => net.put(b2)), only("syncSync", 2));
    const local = new BlockStore(join(dir, "local"));
    await local.put(b1);
    assertEquals(await countFlushes(() => local.put(b2)), only("sync", 2));
    assertEquals((await net.getBlock(2))?.hash, b2.hash);
    assertEquals(await net.getBlock(2), await local.getBlock(2));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flush: a networked node's signer save flushes its journal record blocking; a local node's awaits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-flush-" });
  try {
    const state = (height: number) => ({ ...initialSignerState(), height });
    for (const [blocking, kind] of [[true, "syncDataSync"], [false, "syncData"]] as const) {
      const store = new FileSignerStateStore(
        join(dir, `${blocking}`),
        "v1",
        true,
        undefined,
        blocking,
      );
      await store.save(state(1)); // makes the journal (an atomic replace)
      assertEquals(await countFlushes(() => store.save(state(2))), only(kind, 1)); // in place
      assertEquals((await store.load())?.height, 2);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flush: a NodeRuntime flushes its signer saves and block files blocking only when networked", async () => {
  for (const networked of [true, false]) {
    const dataDir = await Deno.makeTempDir({ prefix: "awr-flush-node-" });
    const node = new NodeRuntime({
      nodeId: "a",
      worldId: "world-flush",
      dataDir,
      tickIntervalMs: 5,
      validators: [{ id: "a", stake: 1 }],
      localValidators: ["a"],
    }, { networked, onBroadcast: networked ? () => {} : undefined });
    try {
      const counts = await countFlushes(async () => {
        await node.start();
        for (let i = 0; i < 10_000 && node.snapshot().consensus.committedHeight < 3; i++) {
          await new Promise((r) => setTimeout(r, 1));
        }
      });
      assertEquals(node.snapshot().consensus.committedHeight >= 3, true, `networked ${networked}`);
      if (networked) {
        assertEquals(counts.syncDataSync > 0 && counts.syncSync > 0, true, JSON.stringify(counts));
      } else {
        assertEquals(counts.syncDataSync + counts.syncSync, 0, JSON.stringify(counts));
        assertEquals(counts.syncData > 0 && counts.sync > 0, true, JSON.stringify(counts));
      }
    } finally {
      await node.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  }
});
