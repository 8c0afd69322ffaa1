import { assert, assertEquals, assertLess, assertRejects } from "@std/assert";
import type { BlockAction } from "../../src/consensus/types.ts";
import { AwrError } from "../../src/errors.ts";
import { actionId, Mempool, mempoolLogPath, type MempoolOptions } from "../../src/node/mempool.ts";
import { decodeFrames, encodeFrame, FRAME_HEADER_BYTES } from "../../src/node/mempool_log.ts";
import { MemLogFs } from "../support/mem_log_fs.ts";

const rest = (agent: string): BlockAction => ({ kind: "rest", agent });
const noBlocks = () => Promise.resolve(null);

async function withPool(
  fn: (
    open: (
      opts?: Partial<MempoolOptions>,
      height?: number,
      blocks?: (h: number) => Promise<readonly BlockAction[] | null>,
    ) => Promise<Mempool>,
    fs: MemLogFs,
    path: string,
  ) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-mempool-" });
  const fs = new MemLogFs();
  try {
    await fn(
      (opts = {}, height = 0, blocks = noBlocks) =>
        Mempool.open({ dataDir, fs, ...opts }, height, blocks),
      fs,
      mempoolLogPath(dataDir),
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AwrError) return err.code;
    throw err;
  }
  return "no error";
}

Deno.test("action ids are BLAKE3 of (key, index, action): pinned value", () => {
  // Pinned: changing the derivation changes every id clients hold.
  assertEquals(actionId("k1", 0, rest("ada")), actionId("k1", 0, { agent: "ada", kind: "rest" }));
  assertEquals(actionId("k1", 0, rest("ada")).length, 32);
  assert(actionId("k1", 0, rest("ada")) !== actionId("k1", 1, rest("ada")));
  assert(actionId("k1", 0, rest("ada")) !== actionId("k2", 0, rest("ada")));
});

Deno.test("mempool log round trip: acknowledged batches come back in order with their ids", async () => {
  await withPool(async (open, fs, path) => {
    const a = await open();
    const r1 = await a.submit([rest("a"), rest("b")], "key-1");
    const r2 = await a.submit([rest("c")], null);
    assertEquals(r1.ids, [actionId("key-1", 0, rest("a")), actionId("key-1", 1, rest("b"))]);
    assertEquals(r2.mempoolSize, 3);
    await a.close();
    const frames = decodeFrames(fs.files.get(path)!, 1 << 20);
    assertEquals(frames.payloads.length, 3, "base + one frame per batch");
    const b = await open();
    assertEquals(b.peek(10), [rest("a"), rest("b"), rest("c")]);
    for (const id of [...r1.ids, ...r2.ids]) assertEquals(b.status(id), { state: "pending" });
    // A retry after the restart is still recognised.
    const again = await b.submit([rest("a"), rest("b")], "key-1");
    assertEquals(again, { ids: r1.ids, replayed: true, mempoolSize: 3 });
    await b.close();
  });
});

Deno.test("mempool log: a torn or corrupt tail is cut, nothing before it is lost", async () => {
  await withPool(async (open, fs, path) => {
    const a = await open();
    await a.submit([rest("a")], "k1");
    const good = fs.files.get(path)!.length;
    await a.submit([rest("b"), rest("c")], "k2");
    await a.close();
    const full = fs.files.get(path)!;
    // Torn: the last frame lost its last 3 bytes.
    fs.files.set(path, full.slice(0, full.length - 3));
    const b = await open();
    assertEquals(b.peek(10), [rest("a")]);
    assertEquals(fs.files.get(path)!.length, good, "the torn tail was cut from the file");
    await b.submit([rest("d")], "k3");
    await b.close();
    // Corrupt: one payload byte of the last frame flipped.
    const bytes = fs.files.get(path)!;
    bytes[bytes.length - 1] ^= 0xff;
    fs.files.set(path, bytes);
    const c = await open();
    assertEquals(c.peek(10), [rest("a")]);
    await c.close();
  });
  assertEquals(decodeFrames(encodeFrame(new Uint8Array(5)), 4).validBytes, 0, "over the frame cap");
  assertEquals(encodeFrame(new Uint8Array(5)).length, FRAME_HEADER_BYTES + 5);
});

Deno.test("group commit: requests arriving during an fsync share the next one", async () => {
  await withPool(async (open, fs) => {
    const pool = await open();
    const before = fs.syncs;
    fs.hold();
    const started = fs.syncStarted();
    const first = pool.submit([rest("a")], "k1");
    await started;
    // These three arrive while the first fsync runs.
    let settled = 0;
    const later = [
      pool.submit([rest("b")], "k2"),
      pool.submit([rest("c"), rest("d")], "k3"),
      pool.submit([rest("e")], "k4"),
    ].map((p) => p.finally(() => settled++));
    await new Promise((r) => setTimeout(r, 0));
    assertEquals(settled, 0, "nothing is acknowledged before its fsync");
    assertEquals(pool.size, 0, "nothing is proposable before its fsync");
    fs.release();
    await first;
    await Promise.all(later);
    assertEquals(fs.syncs - before, 2, "4 requests, 2 fsyncs");
    assertEquals(pool.peek(10), [rest("a"), rest("b"), rest("c"), rest("d"), rest("e")]);
    await pool.close();
  });
});

Deno.test("idempotency: a retried key never queues twice; another batch under it is refused", async () => {
  await withPool(async (open, fs) => {
    const pool = await open();
    fs.hold();
    // Concurrent retry while the first is in flight: same ids, one copy.
    const p1 = pool.submit([rest("a"), rest("b")], "same");
    const p2 = pool.submit([rest("a"), rest("b")], "same");
    fs.release();
    const [r1, r2] = await Promise.all([p1, p2]);
    assertEquals(r1.replayed, false);
    assertEquals(r2.replayed, true);
    assertEquals(r2.ids, r1.ids);
    assertEquals(pool.size, 2);
    assertEquals(await codeOf(pool.submit([rest("x")], "same")), "IDEMPOTENCY_KEY_REUSED");
    // Still remembered once included.
    pool.committed(1, 2);
    const r3 = await pool.submit([rest("a"), rest("b")], "same");
    assertEquals(r3.replayed, true);
    assertEquals(pool.size, 0);
    assertEquals(pool.status(r1.ids[1]), { state: "included", height: 1, index: 1 });
    assertEquals(await codeOf(pool.submit([rest("a")], "")), "MEMPOOL_BAD_KEY");
    await pool.close();
  });
});

Deno.test("all or nothing at the exact bound, counting batches still in flight", async () => {
  await withPool(async (open, fs, path) => {
    const pool = await open({ maxSize: 5 });
    await pool.submit([rest("a"), rest("b"), rest("c")], "k1");
    const bytes = fs.files.get(path)!.length;
    const err = await codeOf(pool.submit([rest("d"), rest("e"), rest("f")], "k2"));
    assertEquals(err, "MEMPOOL_FULL");
    assertEquals(pool.size, 3);
    assertEquals(fs.files.get(path)!.length, bytes, "nothing of the refused batch was written");
    // The refused key is not remembered: a retry once there is room goes through.
    fs.hold();
    const fits = pool.submit([rest("d"), rest("e")], "k2-small");
    // 3 waiting + 2 in flight = 5: one more does not fit, even before the fsync ends.
    assertEquals(await codeOf(pool.submit([rest("f")], "k3")), "MEMPOOL_FULL");
    fs.release();
    assertEquals((await fits).mempoolSize, 5);
    pool.committed(1, 3);
    assertEquals((await pool.submit([rest("d"), rest("e"), rest("f")], "k2")).replayed, false);
    assertEquals(pool.size, 5);
    await pool.close();
  });
});

Deno.test("a failed write queues nothing and is cut from the log", async () => {
  await withPool(async (open, fs, path) => {
    const pool = await open();
    await pool.submit([rest("a")], "k1");
    const bytes = fs.files.get(path)!.length;
    fs.failWrites = new Error("ENOSPC: no space left on device");
    assertEquals(await codeOf(pool.submit([rest("b")], "k2")), "MEMPOOL_IO");
    fs.failWrites = null;
    assertEquals(pool.size, 1);
    assertEquals(fs.files.get(path)!.length, bytes);
    // The key is free again: the client's retry is queued.
    assertEquals((await pool.submit([rest("b")], "k2")).replayed, false);
    assertEquals(pool.size, 2);
    await pool.close();
  });
});

Deno.test("trimming: included actions leave the queue, statuses say where they went", async () => {
  await withPool(async (open) => {
    const a = await open();
    const r = await a.submit([rest("a"), rest("b"), rest("c")], "k1");
    a.committed(4, 2);
    assertEquals(a.peek(10), [rest("c")]);
    assertEquals(a.status(r.ids[0]), { state: "included", height: 4, index: 0 });
    assertEquals(a.status(r.ids[1]), { state: "included", height: 4, index: 1 });
    assertEquals(a.status(r.ids[2]), { state: "pending" });
    assertEquals(a.status("0".repeat(32)), null);
    await a.close();
    const b = await open({}, 4);
    assertEquals(b.peek(10), [rest("c")]);
    assertEquals(b.status(r.ids[1]), { state: "included", height: 4, index: 1 });
    await b.close();
  });
});

Deno.test("restart after a crash between commit and trim: the committed block trims the queue", async () => {
  await withPool(async (open) => {
    const a = await open({}, 2);
    const r = await a.submit([rest("a"), rest("b"), rest("c")], "k1");
    await a.close(); // no trim written: as if killed right after committing heights 3 and 5
    const blocks = new Map<number, BlockAction[]>([[3, [rest("a")]], [4, []], [5, [rest("b")]]]);
    const b = await open({}, 5, (h) => Promise.resolve(blocks.get(h) ?? null));
    assertEquals(b.peek(10), [rest("c")]);
    assertEquals(b.status(r.ids[0]), { state: "included", height: 3, index: 0 });
    assertEquals(b.status(r.ids[1]), { state: "included", height: 5, index: 0 });
    await b.close();
    // A block that does not carry the queue's head is refused loudly, never guessed.
    blocks.set(6, [rest("zzz")]);
    const err = await codeOf(open({}, 6, (h) => Promise.resolve(blocks.get(h) ?? null)));
    assertEquals(err, "MEMPOOL_LOG_MISMATCH");
  });
});

Deno.test("the remembered-id index is bounded: the oldest ids and their keys are forgotten", async () => {
  await withPool(async (open) => {
    const pool = await open({ maxRememberedIds: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(...(await pool.submit([rest(`a${i}`)], `k${i}`)).ids);
    pool.committed(1, 6);
    assertEquals(ids.map((id) => pool.status(id)?.state ?? null), [
      null,
      null,
      "included",
      "included",
      "included",
      "included",
    ]);
    // Exactly at the bound: 4 remembered keys answer replayed, forgotten ones queue again.
    assertEquals((await pool.submit([rest("a5")], "k5")).replayed, true);
    assertEquals((await pool.submit([rest("a2")], "k2")).replayed, true);
    assertEquals((await pool.submit([rest("a1")], "k1")).replayed, false);
    await pool.close();
    const again = await open({ maxRememberedIds: 4 }, 1);
    assertEquals(again.status(ids[0]), null);
    assertEquals(again.status(ids[5]), { state: "included", height: 1, index: 5 });
    assertEquals((await again.submit([rest("a0")], "k0")).replayed, false);
    await again.close();
  });
});

Deno.test("a key forgotten with part of its batch stays forgotten across a compaction", async () => {
  await withPool(async (open) => {
    const opts = { compactMinBytes: 1, maxRememberedIds: 2 };
    const pool = await open(opts);
    const batch = ["a", "b", "c"].map((x) => rest(x.repeat(400)));
    await pool.submit(batch, "K");
    pool.committed(1, 3);
    await pool.submit([rest("flush")], "F");
    // Queued behind the compaction that F's flush started.
    await pool.submit([rest("after")], "G");
    assert(pool.compactions > 0);
    await pool.close();
    const again = await open(opts, 1);
    // Ids of b and c are remembered, but the key went with a's id: K is new again, not a conflict.
    assertEquals((await again.submit(batch, "K")).replayed, false);
    await again.close();
  });
});

Deno.test("compaction keeps the log bounded and loses nothing", async () => {
  await withPool(async (open, fs, path) => {
    const opts = { compactMinBytes: 4096, maxRememberedIds: 8 };
    const pool = await open(opts);
    let height = 0;
    let last: string[] = [];
    for (let i = 0; i < 200; i++) {
      last = (await pool.submit([rest(`a${i}`), rest(`b${i}`)], `k${i}`)).ids;
      if (i % 2 === 1) pool.committed(++height, pool.size);
    }
    // Lets the last trim frame through the writer.
    await pool.submit([rest("tail")], "tail");
    assert(pool.compactions > 0, "the log was compacted");
    assertLess(fs.files.get(path)!.length, 3 * 4096, "bounded by the threshold");
    const pending = pool.peek(1000);
    await pool.close();
    const again = await open(opts, height);
    assertEquals(again.peek(1000), pending);
    assertEquals(again.status(last[1]), { state: "included", height, index: 3 });
    assertEquals(again.peek(10), [rest("tail")]);
    await again.close();
  });
});

Deno.test("compaction never runs with a trim still queued (no trim is applied twice)", async () => {
  await withPool(async (open, fs) => {
    // Compact at every chance.
    const opts = { compactMinBytes: 1, maxRememberedIds: 1 };
    const pool = await open(opts);
    const many = Array.from({ length: 40 }, (_, i) => rest(`x${i}`));
    await pool.submit([...many, rest("c")], "k1");
    fs.hold();
    const started = fs.syncStarted();
    const d = pool.submit([rest("d")], "k2");
    await started;
    // The trim is queued behind the batch whose fsync is running.
    pool.committed(1, 40);
    fs.release();
    await d;
    await pool.submit([rest("e")], "k3");
    assert(pool.compactions > 0);
    assertEquals(pool.peek(10), [rest("c"), rest("d"), rest("e")]);
    await pool.close();
    const again = await open(opts, 1);
    assertEquals(again.peek(10), [rest("c"), rest("d"), rest("e")]);
    await again.close();
  });
});

Deno.test("a log ahead of the node's committed height is refused", async () => {
  await withPool(async (open) => {
    const a = await open({}, 0);
    await a.submit([rest("a")], "k");
    a.committed(3, 1);
    await a.close();
    await assertRejects(() => open({}, 2), AwrError, "committed only 2");
  });
});
