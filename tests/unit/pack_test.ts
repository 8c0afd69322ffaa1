import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { encodeBlob } from "../../src/storage/_pack_format.ts";
import { defaultPackOptions, PackError, PackStore } from "../../src/storage/pack.ts";
import { blobOf, heightGroup, recordName, STATE_NAME } from "../support/pack_fixture.ts";

const td = new TextDecoder();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-pack-" });
  try {
    await fn(join(dir, "store", "packs"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertHeldBy(store: PackStore, heights: number[], blobs = 3): Promise<void> {
  assertEquals(store.heights(), heights);
  for (const h of heights) {
    for (const b of heightGroup(h, blobs).blobs) {
      assert(store.has(b.hash));
      assertEquals(await store.get(b.hash), b.bytes);
      assertEquals(store.heightOf(b.hash), h);
    }
    assertEquals(td.decode((await store.getNamed(recordName(h)))!), `record of ${h}`);
  }
  const last = heights[heights.length - 1];
  assertEquals(td.decode((await store.getNamed(STATE_NAME))!), `state after ${last}`);
  assertEquals(store.namedHeight(STATE_NAME), last);
}

Deno.test("pack: round trip of blobs and named entries, latest named entry wins", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false });
    assertEquals(store.heights(), []);
    assertEquals(store.lastHeight, null);
    assertEquals(await store.getNamed(STATE_NAME), null);
    for (const h of [1, 2, 5]) await store.commitGroup(heightGroup(h, 3));
    await assertHeldBy(store, [1, 2, 5]);
    assertEquals(store.blobCount, 9);
    assertEquals(store.lastHeight, 5);
    assertEquals(store.segments(), ["00000000000000000001.pack"]);
    const err = await assertRejects(() => store.get("ab".repeat(32)), PackError);
    assertEquals(err.code, "PACK_MISSING");
    await store.close();
  });
});

Deno.test("pack: reopening rebuilds the index from the segments and appends after them", async () => {
  await withDir(async (dir) => {
    const a = await PackStore.open(dir, { durable: false });
    for (const h of [1, 2, 3]) await a.commitGroup(heightGroup(h, 3));
    await a.close();
    const b = await PackStore.open(dir, { durable: false });
    assertEquals(b.recovery, null);
    await assertHeldBy(b, [1, 2, 3]);
    const c4 = await b.commitGroup(heightGroup(4, 3));
    assertEquals(c4.segment, "00000000000000000001.pack");
    assertEquals(c4.newSegment, false);
    await b.close();
    const c = await PackStore.open(dir, { durable: false });
    await assertHeldBy(c, [1, 2, 3, 4]);
    await c.close();
  });
});

Deno.test("pack: a blob already stored, or repeated in a group, is written once", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false });
    const a = blobOf("shared chunk");
    const b = blobOf("new chunk");
    const c1 = await store.commitGroup({ height: 1, blobs: [a], named: [] });
    assertEquals([c1.blobsWritten, c1.blobsSkipped], [1, 0]);
    const c2 = await store.commitGroup({ height: 2, blobs: [a, b, b, a], named: [] });
    assertEquals([c2.blobsWritten, c2.blobsSkipped], [1, 3]);
    const c3 = await store.commitGroup({ height: 3, blobs: [a, b], named: [] });
    assertEquals([c3.blobsWritten, c3.blobsSkipped], [0, 2]);
    assertEquals(store.heightOf(a.hash), 1);
    assertEquals(store.heightOf(b.hash), 2);
    const seg = await Deno.readFile(join(dir, store.segments()[0]));
    // Each blob's bytes appear once in the segment.
    const count = (needle: Uint8Array) => {
      let n = 0;
      for (let i = 0; i + needle.length <= seg.length; i++) {
        if (needle.every((v, j) => seg[i + j] === v)) n++;
      }
      return n;
    };
    assertEquals([count(a.bytes), count(b.bytes)], [1, 1]);
    assertEquals(seg.length, c3.offset + c3.bytes);
    await store.close();
  });
});

Deno.test("pack: segments roll over at maxSegmentBytes; a group never spans two", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false, maxSegmentBytes: 4096 });
    const commits = [];
    for (let h = 1; h <= 12; h++) commits.push(await store.commitGroup(heightGroup(h, 3)));
    const names = store.segments();
    assert(names.length >= 3, `expected several segments, got ${names}`);
    for (const name of names) {
      const size = (await Deno.stat(join(dir, name))).size;
      assert(size <= 4096, `${name} is ${size} bytes`);
    }
    for (const c of commits) {
      assertEquals(c.newSegment, c.offset === 0);
      assert(c.offset + c.bytes <= 4096);
    }
    assertEquals(names[names.length - 1], commits[11].segment);
    await store.close();
    const again = await PackStore.open(dir, { durable: false, maxSegmentBytes: 4096 });
    await assertHeldBy(again, commits.map((c) => c.height));
    const err = await assertRejects(
      () => again.commitGroup(heightGroup(13, 20)),
      PackError,
      "maxSegmentBytes is 4096",
    );
    assertEquals(err.code, "PACK_GROUP_TOO_LARGE");
    assertEquals(again.lastHeight, 12);
    await again.close();
  });
});

Deno.test("pack: each commitGroup costs one fsync, plus one of the folder for a new segment", async () => {
  await withDir(async (dir) => {
    const syncs: string[] = [];
    const onSync = (kind: "file" | "dir", path: string) =>
      syncs.push(`${kind}:${path.slice(dir.length + 1)}`);
    const store = await PackStore.open(dir, { maxSegmentBytes: 8192, onSync });
    assertEquals(syncs, ["dir:"]);
    syncs.length = 0;
    await store.commitGroup(heightGroup(1, 3));
    assertEquals(syncs, ["file:00000000000000000001.pack", "dir:"]);
    for (let h = 2; h <= 4; h++) {
      syncs.length = 0;
      const c = await store.commitGroup(heightGroup(h, 3));
      assertEquals(c.newSegment, false);
      assertEquals(syncs, ["file:00000000000000000001.pack"]);
    }
    // A group whose blobs are all stored already still costs exactly one fsync.
    syncs.length = 0;
    await store.commitGroup({ ...heightGroup(4, 3), height: 5 });
    assertEquals(syncs.length, 1);
    // Filling the segment: the group that opens a new one syncs it and the folder.
    let c = await store.commitGroup(heightGroup(6, 3));
    for (let h = 7; !c.newSegment; h++) {
      syncs.length = 0;
      c = await store.commitGroup(heightGroup(h, 3));
    }
    assertEquals(syncs, ["file:00000000000000000002.pack", "dir:"]);
    await store.close();
  });
});

Deno.test("pack: an entry at maxEntryBytes is stored, one byte more is refused and nothing is written", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false, maxEntryBytes: 1024 });
    // A blob entry is its payload plus 81 bytes of CBOR (map, keys, 64-hex address, kind).
    const fits = new Uint8Array(1024 - 81).fill(7);
    await store.commitGroup({
      height: 1,
      blobs: [{ hash: hashHex(fits), bytes: fits }],
      named: [],
    });
    assertEquals(await store.get(hashHex(fits)), fits);
    const size = (await Deno.stat(join(dir, store.segments()[0]))).size;
    const big = new Uint8Array(1024 - 80).fill(8);
    const err = await assertRejects(
      () =>
        store.commitGroup({ height: 2, blobs: [{ hash: hashHex(big), bytes: big }], named: [] }),
      PackError,
      `blob ${hashHex(big)} of height 2 is 1025 bytes as an entry; maxEntryBytes is 1024`,
    );
    assertEquals(err.code, "PACK_ENTRY_TOO_LARGE");
    assertEquals((await Deno.stat(join(dir, store.segments()[0]))).size, size);
    assertEquals(store.heights(), [1]);
    assertEquals(store.has(hashHex(big)), false);
    await store.close();
    // Reopening with a smaller limit keeps entries written under the larger one.
    const small = await PackStore.open(dir, { durable: false, maxEntryBytes: 256 });
    assertEquals(small.recovery, null);
    assertEquals(await small.get(hashHex(fits)), fits);
    await small.close();
  });
});

Deno.test("pack: options, heights, names and addresses are checked", async () => {
  await withDir(async (dir) => {
    const e1 = await assertRejects(
      () => PackStore.open(dir, { maxSegmentBytes: 1000, maxEntryBytes: 2000 }),
      PackError,
      "maxEntryBytes",
    );
    assertEquals(e1.code, "PACK_OPTION");
    assertEquals(defaultPackOptions.maxSegmentBytes, 64 * 1024 * 1024);
    const store = await PackStore.open(dir, { durable: false, verifyBlobHashes: true });
    await store.commitGroup(heightGroup(3, 1));
    const codes = async (p: () => Promise<unknown>) => (await assertRejects(p, PackError)).code;
    assertEquals(
      await codes(() => store.commitGroup(heightGroup(3, 1, 300, "x"))),
      "PACK_HEIGHT_ORDER",
    );
    assertEquals(
      await codes(() =>
        store.commitGroup({ height: 4, blobs: [], named: [{ name: "", bytes: new Uint8Array() }] })
      ),
      "PACK_BAD_NAME",
    );
    assertEquals(
      await codes(() =>
        store.commitGroup({
          height: 4,
          blobs: [{ hash: "zz", bytes: new Uint8Array() }],
          named: [],
        })
      ),
      "PACK_BAD_ADDRESS",
    );
    const wrong = { hash: blobOf("a").hash, bytes: blobOf("b").bytes };
    assertEquals(
      await codes(() => store.commitGroup({ height: 4, blobs: [wrong], named: [] })),
      "PACK_BAD_ADDRESS",
    );
    // Refused groups left nothing behind; the next valid group commits.
    await store.commitGroup(heightGroup(4, 1));
    assertEquals(store.heights(), [3, 4]);
    await store.close();
    assertEquals(await codes(() => store.commitGroup(heightGroup(5, 1))), "PACK_CLOSED");
  });
});

Deno.test("pack: concurrent commits run in call order; reads in flight stop at maxConcurrentReads", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false, maxConcurrentReads: 2 });
    const results = await Promise.allSettled([
      store.commitGroup(heightGroup(1, 4)),
      store.commitGroup(heightGroup(2, 4)),
      store.commitGroup(heightGroup(2, 4, 300, "again")),
      store.commitGroup(heightGroup(3, 4)),
    ]);
    assertEquals(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    assertEquals(store.heights(), [1, 2, 3]);
    const blobs = [1, 2, 3].flatMap((h) => heightGroup(h, 4).blobs);
    const reads = blobs.map((b) => store.get(b.hash));
    assertEquals(store.readsInFlight, 2);
    const got = await Promise.all(reads);
    assertEquals(got, blobs.map((b) => b.bytes));
    assertEquals(store.readsInFlight, 0);
    await store.close();
  });
});

Deno.test("pack: segment bytes of a fixed group are pinned (format golden vector)", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false });
    await store.commitGroup({
      height: 7,
      blobs: [blobOf("chunk")],
      named: [{ name: "execution-state", bytes: new TextEncoder().encode("s") }],
    });
    await store.close();
    const seg = await Deno.readFile(join(dir, "00000000000000000001.pack"));
    assertEquals([seg.length, hashHex(seg)], [GOLDEN_SIZE, GOLDEN_HASH]);
  });
});

// Checked outside this code: Python cbor2 decodes the three entries as canonical CBOR and
// b3sum of (height 7 as 8 bytes BE || b3("chunk") || b3("execution-state\0s")) is the sum.
const GOLDEN_SIZE = 289;
const GOLDEN_HASH = "631ca2d8755a68ea20be2f9504ebd809cb272bfabb6907eca4263dc64ba3dc64";

Deno.test("pack: a group of exactly maxSegmentBytes fills one segment; one byte less refuses it", async () => {
  await withDir(async (dir) => {
    const probe = await PackStore.open(join(dir, "probe"), { durable: false });
    const size = (await probe.commitGroup(heightGroup(1, 3))).bytes;
    await probe.close();
    const exact = await PackStore.open(join(dir, "exact"), {
      durable: false,
      maxSegmentBytes: size,
    });
    const c1 = await exact.commitGroup(heightGroup(1, 3));
    const c2 = await exact.commitGroup(heightGroup(2, 3));
    assertEquals([c1.segment, c1.offset, c1.bytes], ["00000000000000000001.pack", 0, size]);
    assertEquals([c2.segment, c2.offset], ["00000000000000000002.pack", 0]);
    assertEquals(await exact.verifyAll(), []);
    await exact.close();
    const under = await PackStore.open(join(dir, "under"), {
      durable: false,
      maxSegmentBytes: size - 1,
    });
    const err = await assertRejects(() => under.commitGroup(heightGroup(1, 3)), PackError);
    assertEquals([err.code, err.context.bytes], ["PACK_GROUP_TOO_LARGE", size]);
    await under.close();
  });
});

Deno.test("pack: the hand-built blob entry equals the canonical encoder's bytes at every head size", () => {
  for (const n of [0, 1, 23, 24, 255, 256, 65535, 65536]) {
    const bytes = new Uint8Array(n).fill(n % 251);
    const hash = hashHex(bytes);
    assertEquals(
      encodeBlob(hash, bytes),
      encodeCanonical({ k: "blob", h: hash, b: bytes }),
      `n=${n}`,
    );
  }
});

Deno.test("pack: commits queue behind each other up to the bound; one more is refused with SERIAL_QUEUE_FULL", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false });
    try {
      // One running commit plus 64 waiting (the SerialQueue default) are accepted.
      const calls = Array.from({ length: 66 }, (_, i) => store.commitGroup(heightGroup(i + 1, 1)));
      const outcomes = await Promise.allSettled(calls);
      const refused = outcomes.flatMap((o, i) =>
        o.status === "rejected" ? [[i + 1, (o.reason as { code: string }).code]] : []
      );
      assertEquals(refused, [[66, "SERIAL_QUEUE_FULL"]]);
      assertEquals(store.lastHeight, 65, "the accepted commits ran in call order");
      // The queue drained: the refused height goes in now.
      await store.commitGroup(heightGroup(66, 1));
      assertEquals(store.heights().length, 66);
    } finally {
      await store.close();
    }
  });
});
