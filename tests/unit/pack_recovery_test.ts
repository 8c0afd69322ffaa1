import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { PackError, PackStore } from "../../src/storage/pack.ts";
import { heightGroup, indexOfBytes, recordName, STATE_NAME } from "../support/pack_fixture.ts";

const td = new TextDecoder();
const SEG1 = "00000000000000000001.pack";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-pack-rec-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes heights 1, 2 (three blobs each) and a small height 3 (one blob, two named
 * entries); returns the segment bytes and height 3's first offset. */
async function threeHeights(dir: string): Promise<{ seg: Uint8Array; start: number }> {
  const store = await PackStore.open(dir, { durable: false });
  await store.commitGroup(heightGroup(1, 3));
  await store.commitGroup(heightGroup(2, 3));
  const c3 = await store.commitGroup(heightGroup(3, 1, 20));
  await store.close();
  const seg = await Deno.readFile(join(dir, SEG1));
  assertEquals(seg.length, c3.offset + c3.bytes);
  return { seg, start: c3.offset };
}

/** Heights 1 and 2 are whole and height 3 is gone; `deep` also reads every blob back. */
async function assertFirstTwoSurvive(store: PackStore, deep = true): Promise<void> {
  assertEquals(store.heights(), [1, 2]);
  assertEquals(td.decode((await store.getNamed(STATE_NAME))!), "state after 2");
  if (!deep) return;
  for (const h of [1, 2]) {
    for (const b of heightGroup(h, 3).blobs) assertEquals(await store.get(b.hash), b.bytes);
    assertEquals(td.decode((await store.getNamed(recordName(h)))!), `record of ${h}`);
  }
  for (const b of heightGroup(3, 1, 20).blobs) assertEquals(store.has(b.hash), false);
  assertEquals(await store.getNamed(recordName(3)), null);
}

Deno.test("pack: a tail torn at every byte of the last group is cut; all before it survives", async () => {
  await withDir(async (dir) => {
    const { seg, start } = await threeHeights(join(dir, "orig"));
    assert(seg.length - start > 100, "the last group spans many offsets");
    const work = join(dir, "work");
    await Deno.mkdir(work);
    for (let cut = start; cut < seg.length; cut++) {
      await Deno.writeFile(join(work, SEG1), seg.subarray(0, cut));
      const store = await PackStore.open(work, { durable: false });
      // Every offset is cut and checked; every 16th also reads every blob back.
      await assertFirstTwoSurvive(store, (cut - start) % 16 === 0);
      if (cut === start) assertEquals(store.recovery, null);
      else {
        assertEquals(
          [store.recovery?.segment, store.recovery?.offset, store.recovery?.cutBytes],
          [SEG1, start, cut - start],
          `cut at ${cut}`,
        );
      }
      assertEquals((await Deno.stat(join(work, SEG1))).size, start);
      await store.close();
    }
    // After the last cut the same height commits again and is read back after a reopen.
    const store = await PackStore.open(work, { durable: false });
    await store.commitGroup(heightGroup(3, 1, 20));
    await store.close();
    const again = await PackStore.open(work, { durable: false });
    assertEquals(again.heights(), [1, 2, 3]);
    assertEquals(await Deno.readFile(join(work, SEG1)), seg);
    await again.close();
  });
});

Deno.test("pack: a last group whose bytes are zeros on disk from any offset is cut", async () => {
  await withDir(async (dir) => {
    const { seg, start } = await threeHeights(join(dir, "orig"));
    const work = join(dir, "work");
    await Deno.mkdir(work);
    // A power cut can leave the file at full length with pages never written (zeros).
    for (let from = start; from < seg.length; from++) {
      const torn = seg.slice();
      torn.fill(0, from);
      await Deno.writeFile(join(work, SEG1), torn);
      const store = await PackStore.open(work, { durable: false });
      await assertFirstTwoSurvive(store, (from - start) % 16 === 0);
      assertEquals(store.recovery?.offset, start, `zeros from ${from}`);
      await store.close();
    }
  });
});

Deno.test("pack: a last group with an intact marker but a changed payload is cut at open", async () => {
  await withDir(async (dir) => {
    const { seg } = await threeHeights(dir);
    const blob = heightGroup(3, 1, 20).blobs[0];
    const at = indexOfBytes(seg, blob.bytes);
    assert(at > 0);
    seg[at + 3] ^= 0x01;
    await Deno.writeFile(join(dir, SEG1), seg);
    const syncs: string[] = [];
    const store = await PackStore.open(dir, { onSync: (kind) => syncs.push(kind) });
    await assertFirstTwoSurvive(store);
    assertStringIncludes(store.recovery!.reason, `blob ${blob.hash} of height 3`);
    assertEquals(store.recovery!.problemOffset, at);
    // The cut itself is made durable (the segment, then the folder).
    assertEquals(syncs, ["file", "dir"]);
    await store.close();
  });
});

Deno.test("pack: a flipped byte in an older group is reported naming segment, offset, blob and height", async () => {
  await withDir(async (dir) => {
    const { seg } = await threeHeights(dir);
    const blob = heightGroup(1, 3).blobs[2];
    const at = indexOfBytes(seg, blob.bytes);
    seg[at + 10] ^= 0x40;
    await Deno.writeFile(join(dir, SEG1), seg);
    const store = await PackStore.open(dir, { durable: false });
    // Not the tail: open keeps every group (it hashes only the last group's payloads).
    assertEquals(store.heights(), [1, 2, 3]);
    const err = await assertRejects(() => store.get(blob.hash), PackError);
    assertEquals(err.code, "PACK_CORRUPT");
    assertStringIncludes(err.message, `blob ${blob.hash} of height 1 in pack segment`);
    assertStringIncludes(err.message, `${SEG1} at offset ${at} is corrupt`);
    assertEquals([err.context.segment, err.context.offset, err.context.height], [SEG1, at, 1]);
    const problems = await store.verifyAll();
    assertEquals(problems.map((p) => [p.segment, p.offset, p.height, p.id]), [
      [SEG1, at, 1, blob.hash],
    ]);
    // A named entry is checked too.
    const rec = new TextEncoder().encode("record of 2");
    const recAt = indexOfBytes(seg, rec);
    seg[recAt] ^= 0x01;
    await Deno.writeFile(join(dir, SEG1), seg);
    const e2 = await assertRejects(() => store.getNamed(recordName(2)), PackError);
    assertStringIncludes(e2.message, `named entry ${recordName(2)} of height 2`);
    assertEquals((await store.verifyAll()).map((p) => p.height), [1, 2]);
    await store.close();
  });
});

Deno.test("pack: damage in a segment that is not the last stops open with PACK_CORRUPT", async () => {
  await withDir(async (dir) => {
    const store = await PackStore.open(dir, { durable: false, maxSegmentBytes: 4096 });
    for (let h = 1; store.segments().length < 2; h++) await store.commitGroup(heightGroup(h, 3));
    await store.close();
    const first = join(dir, SEG1);
    const bytes = await Deno.readFile(first);
    await Deno.writeFile(first, bytes.subarray(0, bytes.length - 1));
    const err = await assertRejects(
      () => PackStore.open(dir, { durable: false, maxSegmentBytes: 4096 }),
      PackError,
      "not the last segment, so not a torn tail",
    );
    assertEquals([err.code, err.context.segment], ["PACK_CORRUPT", SEG1]);
    // Nothing was cut.
    assertEquals((await Deno.stat(first)).size, bytes.length - 1);
  });
});

Deno.test("pack: a new segment torn to nothing is reused by the next commit", async () => {
  await withDir(async (dir) => {
    const opts = { durable: false, maxSegmentBytes: 4096 };
    const store = await PackStore.open(dir, opts);
    let h = 1;
    for (; store.segments().length < 2; h++) await store.commitGroup(heightGroup(h, 3));
    await store.close();
    const second = join(dir, "00000000000000000002.pack");
    await Deno.writeFile(second, (await Deno.readFile(second)).subarray(0, 3));
    const again = await PackStore.open(dir, opts);
    assertEquals(again.lastHeight, h - 2);
    assertEquals((await Deno.stat(second)).size, 0);
    const c = await again.commitGroup(heightGroup(h - 1, 3));
    // The file's folder entry was synced at open: reusing it is not a new segment.
    assertEquals([c.segment, c.offset, c.newSegment], ["00000000000000000002.pack", 0, false]);
    await again.close();
  });
});

Deno.test("pack: damage in the last segment that a later group follows is refused, not cut", async () => {
  await withDir(async (dir) => {
    const { seg } = await threeHeights(dir);
    // Height 1's first entry gets an impossible length: a structural break well before
    // the tail, with heights 2 and 3 complete after it.
    seg.set([0xff, 0xff, 0xff, 0xff], 0);
    await Deno.writeFile(join(dir, SEG1), seg);
    const err = await assertRejects(
      () => PackStore.open(dir, { durable: false }),
      PackError,
      "a later group follows, so not a torn tail",
    );
    assertEquals([err.code, err.context.segment, err.context.offset], ["PACK_CORRUPT", SEG1, 0]);
    assertEquals(await Deno.readFile(join(dir, SEG1)), seg);
  });
});

Deno.test("pack: a failed fsync cuts the group back and stops writes until a reopen", async () => {
  await withDir(async (dir) => {
    let failNext = false;
    const onSync = (kind: "file" | "dir") => {
      if (kind === "file" && failNext) throw new Error("injected EIO");
    };
    const store = await PackStore.open(dir, { onSync });
    await store.commitGroup(heightGroup(1, 3));
    const size = (await Deno.stat(join(dir, SEG1))).size;
    failNext = true;
    await assertRejects(() => store.commitGroup(heightGroup(2, 3)), Error, "injected EIO");
    assertEquals((await Deno.stat(join(dir, SEG1))).size, size);
    assertEquals(store.heights(), [1]);
    assertEquals(store.has(heightGroup(2, 3).blobs[0].hash), false);
    failNext = false;
    const err = await assertRejects(() => store.commitGroup(heightGroup(2, 3)), PackError);
    assertEquals(err.code, "PACK_BROKEN");
    assertStringIncludes(err.message, "reopen to recover");
    await store.close();
    const again = await PackStore.open(dir, { durable: false });
    assertEquals([again.heights(), again.recovery], [[1], null]);
    await again.commitGroup(heightGroup(2, 3));
    await again.close();
  });
});
