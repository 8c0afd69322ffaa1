import { assertEquals } from "@std/assert";
import type { BlockAction } from "../../src/consensus/types.ts";
import { Mempool, mempoolLogPath } from "../../src/node/mempool.ts";
import { MemLogFs } from "../support/mem_log_fs.ts";

const rest = (agent: string): BlockAction => ({ kind: "rest", agent });

Deno.test("mempool: another proposer's block trims by content, in any order; the drop survives a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-mempool-foreign-" });
  const fs = new MemLogFs();
  try {
    const a = await Mempool.open(
      { dataDir, fs, foreignBlocks: true },
      0,
      () => Promise.resolve(null),
    );
    const r = await a.submit([rest("a"), rest("b"), rest("c")], "k1");
    // Block 1 (another validator's) carries b, then an action this node never queued.
    a.committedBlock(1, [rest("b"), rest("zzz")]);
    assertEquals(a.peek(10), [rest("a"), rest("c")]);
    assertEquals(a.status(r.ids[1]), { state: "included", height: 1, index: 0 });
    assertEquals(a.includedElsewhere(rest("zzz")), true);
    assertEquals(a.includedElsewhere(rest("a")), false);
    // Block 2 is this node's own proposal: the FIFO head.
    a.committedBlock(2, [rest("a")]);
    assertEquals(a.peek(10), [rest("c")]);
    await a.close();
    const b = await Mempool.open(
      { dataDir, fs, foreignBlocks: true },
      2,
      () => Promise.resolve(null),
    );
    assertEquals(b.peek(10), [rest("c")]);
    assertEquals(b.status(r.ids[1]), { state: "included", height: 1, index: 0 });
    await b.close();
    assertEquals(fs.files.has(mempoolLogPath(dataDir)), true);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("mempool with foreign blocks: a restart matches committed blocks by content instead of refusing", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-mempool-foreign-" });
  const fs = new MemLogFs();
  try {
    const a = await Mempool.open(
      { dataDir, fs, foreignBlocks: true },
      0,
      () => Promise.resolve(null),
    );
    await a.submit([rest("a"), rest("b")], "k1");
    await a.close(); // killed before the trims of heights 1-2 were written
    const blocks = new Map<number, BlockAction[]>([[1, [rest("x")]], [2, [rest("b")]]]);
    const b = await Mempool.open(
      { dataDir, fs, foreignBlocks: true },
      2,
      (h) => Promise.resolve(blocks.get(h) ?? null),
    );
    assertEquals(b.peek(10), [rest("a")]);
    await b.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
