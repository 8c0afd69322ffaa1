import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { ExecutionCore, type ExecutionCoreOptions } from "../../src/execution/core.ts";
import { decodeManifest } from "../../src/state/manifest.ts";
import { buildRecord, readRecord, recordPath } from "../../src/execution/records.ts";
import { readExecutionState } from "../../src/execution/state_file.ts";
import { verifyRecords } from "../../src/execution/verify.ts";
import { WorldState } from "../../src/state/world_state.ts";
import { openBlobReader, packDir } from "../../src/storage/blob_store.ts";
import { PackReader } from "../../src/storage/pack_reader.ts";
import { blockReader, ctxOf, randomChain, WORLD } from "../support/chain_fixture.ts";
import { toLegacyLayout } from "../support/legacy_layout.ts";

const CHAIN = randomChain(40, 4321, 8);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-pack-core-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(
  dir: string,
  extra: Partial<ExecutionCoreOptions> = {},
  blocks: readonly CommittedBlock[] = CHAIN,
) {
  return ExecutionCore.open({
    dataDir: dir,
    worldId: WORLD,
    blocks: blockReader(blocks),
    durable: false,
    ...extra,
  });
}

async function runTo(dir: string, height: number, extra: Partial<ExecutionCoreOptions> = {}) {
  const core = await open(dir, extra);
  for (let h = core.info().lastHeight + 1; h <= height; h++) {
    await core.executeThrough(ctxOf(CHAIN[h - 1]));
  }
  await core.close();
}

/** Records of a pure recomputation (no files). */
function pureChain(blocks: readonly CommittedBlock[]) {
  const state = WorldState.genesis(WORLD);
  let prev: string | null = null;
  return blocks.map((b) => {
    const out = state.apply({ height: b.header.height, nodeBlockHash: b.hash, actions: b.actions });
    const r = buildRecord(WORLD, prev, {
      height: b.header.height,
      nodeBlockHash: b.hash,
      timestampMs: b.header.timestampMs,
    }, {
      stateRoot: out.stateRoot,
      journalRef: out.journalRef,
      journalLen: out.manifest.journalLen,
    });
    prev = r.executionBlockHash;
    return r;
  });
}

async function packSegments(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(packDir(dir))) out.push(join(packDir(dir), e.name));
  return out.sort();
}

Deno.test("pack core: one fdatasync per height (plus the folder once, for the first segment)", async () => {
  await withDir(async (dir) => {
    const syncs: string[] = [];
    const core = await open(dir, { durable: true, onSync: (kind) => syncs.push(kind) });
    syncs.length = 0; // open syncs the pack folder once
    for (let h = 1; h <= 6; h++) await core.executeThrough(ctxOf(CHAIN[h - 1]));
    await core.close();
    assertEquals(syncs.filter((k) => k === "file").length, 6);
    assertEquals(syncs.filter((k) => k === "dir").length, 1, "new segment file: folder once");
    // Records and state.cbor exist as copies, equal to the pack's truth.
    const pure = pureChain(CHAIN.slice(0, 6));
    for (let h = 1; h <= 6; h++) assertEquals(await readRecord(dir, h), pure[h - 1]);
    assertEquals((await readExecutionState(dir))!.value.lastAppliedHeight, 6);
    // No per-blob CAS files: the store folder holds only the pack.
    const names: string[] = [];
    for await (const e of Deno.readDir(join(dir, "store"))) names.push(e.name);
    assertEquals(names, ["packs"]);
  });
});

Deno.test("pack core: missing or short record files and state.cbor are restored from the pack", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 12);
    const r5 = await Deno.readFile(recordPath(dir, 5));
    const r12 = await Deno.readFile(recordPath(dir, 12));
    await Deno.remove(recordPath(dir, 5));
    await Deno.writeFile(recordPath(dir, 12), new Uint8Array(0)); // as after a power cut
    await Deno.remove(join(dir, "execution", "state.cbor"));
    const core = await open(dir);
    assertEquals(core.info().lastHeight, 12, "the pack's state is the truth");
    await core.close();
    assertEquals(await Deno.readFile(recordPath(dir, 5)), r5);
    assertEquals(await Deno.readFile(recordPath(dir, 12)), r12);
    assertEquals((await readExecutionState(dir))!.value.lastAppliedHeight, 12);

    // Outside the start-up window, a read falls back to the pack and writes the file back.
    await Deno.remove(recordPath(dir, 3));
    const again = await open(dir, { recordCheckWindow: 2 });
    const restored = await Deno.stat(recordPath(dir, 3)).then(() => true, () => false);
    assertEquals(restored, false, "height 3 is outside the start-up window of 2 heights");
    assertEquals(
      (await again.recordAt(3))?.executionBlockHash,
      pureChain(CHAIN)[2].executionBlockHash,
    );
    await again.close();
    assertEquals((await verifyRecords(dir)).ok, true);
  });
});

Deno.test("pack core: a torn last group is cut; the height is executed again to the same record", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 8);
    const [seg] = await packSegments(dir);
    const before = (await Deno.stat(seg)).size;
    await runTo(dir, 9);
    const r9 = await Deno.readFile(recordPath(dir, 9));
    const after = (await Deno.stat(seg)).size;
    // Cut the file in the middle of height 9's group: its commit never finished.
    await Deno.truncate(seg, before + Math.floor((after - before) / 2));
    const core = await open(dir);
    assertEquals(core.info().lastHeight, 8);
    const res = await core.executeThrough(ctxOf(CHAIN[8]));
    await core.close();
    assertEquals(res.executionBlockHash, pureChain(CHAIN.slice(0, 9))[8].executionBlockHash);
    assertEquals(await Deno.readFile(recordPath(dir, 9)), r9);
    assertEquals((await verifyRecords(dir)).ok, true);
  });
});

Deno.test("upgrade: a data dir in main's layout (CAS files, records, state file) continues without re-executing", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 10);
    const blobs = await toLegacyLayout(dir);
    assert(blobs > 20, `old layout has ${blobs} CAS files`);
    const reader = blockReader(CHAIN);
    const core = await ExecutionCore.open({
      dataDir: dir,
      worldId: WORLD,
      blocks: reader,
      durable: false,
    });
    assertEquals(core.info().lastHeight, 10);
    for (let h = 11; h <= 15; h++) await core.executeThrough(ctxOf(CHAIN[h - 1]));
    await core.close();
    assertEquals(reader.reads, [11, 12, 13, 14, 15], "heights 1..10 not executed again");
    const pure = pureChain(CHAIN.slice(0, 15));
    for (let h = 1; h <= 15; h++) {
      assertEquals(await readRecord(dir, h), pure[h - 1], `height ${h}`);
    }
    const pack = await PackReader.open(packDir(dir));
    assertEquals(pack.heights(), [11, 12, 13, 14, 15]);
    // Old heights read from CAS files, new ones from the pack: verify walks both.
    const report = await verifyRecords(dir);
    assertEquals([report.ok, report.heights], [true, 15]);
    // And a second restart comes up from the pack.
    const again = await open(dir);
    assertEquals(again.info().lastExecutionBlockHash, pure[14].executionBlockHash);
    await again.close();
  });
});

Deno.test("records verify: a flipped byte inside a pack segment names the height and the blob", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 30);
    assertEquals((await verifyRecords(dir)).ok, true);
    const blobs = await openBlobReader(dir);
    const r23 = (await readRecord(dir, 23))!;
    const m = decodeManifest(await blobs.get(r23.manifestRef), "m23");
    // The tree root node of height 23 is new at height 23 (the root changes every height).
    const hash = m.treeRoot;
    assertEquals(blobs.reader.heightOf(hash), 23);
    const bytes = await blobs.get(hash);
    const [seg] = await packSegments(dir);
    const file = await Deno.readFile(seg);
    const at = indexOf(file, bytes);
    assert(at > 0, "blob bytes found in the segment");
    file[at + Math.floor(bytes.length / 2)] ^= 0x40;
    await Deno.writeFile(seg, file);
    const report = await verifyRecords(dir);
    assertEquals(report.ok, false);
    assertEquals(report.firstBad?.height, 23);
    assertStringIncludes(report.firstBad!.problem, `blob ${hash} of height 23`);
    assertStringIncludes(report.firstBad!.problem, "is corrupt");
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("state.cbor: a background copy of the pack's state, the newest height's once settled", async () => {
  await withDir(async (dir) => {
    const core = await open(dir);
    // Back-to-back heights: copies that would overlap are coalesced to the newest bytes.
    for (let h = 1; h <= 25; h++) await core.executeThrough(ctxOf(CHAIN[h - 1]));
    await core.copiesWritten();
    const copy = await Deno.readFile(join(dir, "execution", "state.cbor"));
    const pack = await PackReader.open(packDir(dir));
    assertEquals(copy, await pack.getNamed("execution/state"));
    assertEquals((await readExecutionState(dir))?.value.lastAppliedHeight, 25);
    await core.close();
  });
});
