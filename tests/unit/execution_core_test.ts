import { assert, assertEquals, assertNotEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { ExecutionCore, type ExecutionCoreOptions } from "../../src/execution/core.ts";
import { ExecutionError } from "../../src/execution/execution_error.ts";
import { buildRecord, readRecord, RECORD_SCHEMA, recordPath } from "../../src/execution/records.ts";
import { executionStatePath, readExecutionState } from "../../src/execution/state_file.ts";
import { WorldState } from "../../src/state/world_state.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { encodeFile } from "../../src/storage/schema.ts";
import { blockReader, ctxOf, randomChain, WORLD } from "../support/chain_fixture.ts";
import { toLegacyLayout } from "../support/legacy_layout.ts";

const CHAIN = randomChain(40, 1234, 8);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-core-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(
  dir: string,
  blocks: readonly CommittedBlock[] = CHAIN,
  extra: Partial<ExecutionCoreOptions> = {},
): Promise<ExecutionCore> {
  return ExecutionCore.open({
    dataDir: dir,
    worldId: WORLD,
    blocks: blockReader(blocks),
    durable: false,
    ...extra,
  });
}

async function runTo(dir: string, height: number, extra: Partial<ExecutionCoreOptions> = {}) {
  const core = await open(dir, CHAIN, extra);
  for (let h = core.info().lastHeight + 1; h <= height; h++) {
    await core.executeThrough(ctxOf(CHAIN[h - 1]));
  }
  await core.close();
}

/** Every file under `dir` with its size, mtime and content hash. */
async function listing(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else {
        const st = await Deno.stat(p);
        out.set(p, `${st.size}:${st.mtime?.getTime()}:${hashHex(await Deno.readFile(p))}`);
      }
    }
  };
  await walk(dir);
  return out;
}

/** The chain computed without any I/O: WorldState + buildRecord, height by height. */
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

Deno.test("driver seed test: two commits give heights 1 and 2, records and state file", async () => {
  await withDir(async (dir) => {
    const core = await open(dir);
    const r1 = await core.executeThrough(ctxOf(CHAIN[0]));
    const r2 = await core.executeThrough(ctxOf(CHAIN[1]));
    await core.close();
    assertEquals([r1.executionHeight, r2.executionHeight], [1, 2]);
    assertNotEquals(r1.executionBlockHash, r2.executionBlockHash);
    assertNotEquals(r1.executionStateRoot, r2.executionStateRoot);
    for (const h of [1, 2]) assert((await Deno.stat(recordPath(dir, h))).isFile);
    const state = (await readExecutionState(dir))!.value;
    assertEquals(state.lastAppliedHeight, 2);
    assertEquals(state.lastNodeBlockHash, CHAIN[1].hash);
    assertEquals(state.lastExecutionBlockHash, r2.executionBlockHash);
    assertEquals(state.lastExecutionStateRoot, r2.executionStateRoot);
    assertEquals(state.worldId, WORLD);
    const rec2 = (await readRecord(dir, 2))!;
    assertEquals(rec2.prevExecutionBlockHash, r1.executionBlockHash);
    // Schema 2: the hashed header timestamp, not the node-local commit time.
    assertEquals(rec2.timestampMs, CHAIN[1].header.timestampMs);
    assert(rec2.timestampMs !== CHAIN[1].committedAtUnixMs);
    assertEquals(rec2.hash, "blake3");
  });
});

Deno.test("an applied height returns its recorded result and writes nothing", async () => {
  await withDir(async (dir) => {
    const core = await open(dir);
    const r1 = await core.executeThrough(ctxOf(CHAIN[0]));
    const r2 = await core.executeThrough(ctxOf(CHAIN[1]));
    await core.copiesWritten();
    const before = await listing(dir);
    assertEquals(await core.executeThrough(ctxOf(CHAIN[1])), r2);
    assertEquals(await core.executeThrough(ctxOf(CHAIN[0])), r1);
    assertEquals(await core.resultAt(1), r1);
    assertEquals(await core.resultAt(3), null);
    assertEquals(await listing(dir), before);
    await core.close();
  });
});

Deno.test("a different node block hash at an applied height is CONFLICTING_BLOCK", async () => {
  await withDir(async (dir) => {
    const core = await open(dir);
    await core.executeThrough(ctxOf(CHAIN[0]));
    await core.executeThrough(ctxOf(CHAIN[1]));
    const other = "ee".repeat(32);
    await core.copiesWritten(); // the state.cbor copy goes on in the background
    const before = await listing(dir);
    const err = await assertRejects(
      () => core.executeThrough({ ...ctxOf(CHAIN[0]), nodeBlockHash: other }),
      ExecutionError,
    );
    assertEquals(err.code, "CONFLICTING_BLOCK");
    assertEquals(
      err.message,
      `conflicting block at height 1: recorded ${CHAIN[0].hash}, committed ${other}`,
    );
    assertEquals(await listing(dir), before);
    await core.close();
  });
});

Deno.test("a jump from 2 to 5 executes 3, 4 and 5 in order through the block reader", async () => {
  await withDir(async (dir) => {
    const reader = blockReader(CHAIN);
    const core = await ExecutionCore.open({
      dataDir: dir,
      worldId: WORLD,
      blocks: reader,
      durable: false,
    });
    await core.executeThrough(ctxOf(CHAIN[0]));
    await core.executeThrough(ctxOf(CHAIN[1]));
    const r5 = await core.executeThrough(ctxOf(CHAIN[4]));
    await core.close();
    // 3 and 4 fill the gap; 1, 2 and 5 are read for their header timestamp (record schema 2).
    assertEquals(reader.reads, [1, 2, 3, 4, 5]);
    const expected = pureChain(CHAIN.slice(0, 5));
    for (let h = 1; h <= 5; h++) assertEquals(await readRecord(dir, h), expected[h - 1]);
    assertEquals(r5.executionBlockHash, expected[4].executionBlockHash);
  });
});

Deno.test("a gap whose block is missing fails with BLOCK_MISSING naming the height", async () => {
  await withDir(async (dir) => {
    const core = await open(dir, CHAIN.slice(0, 2));
    await core.executeThrough(ctxOf(CHAIN[0]));
    const err = await assertRejects(() => core.executeThrough(ctxOf(CHAIN[3])), ExecutionError);
    assertEquals(err.code, "BLOCK_MISSING");
    assertEquals(err.context.height, 3);
    // Height 2 was filled before the missing block stopped the gap.
    assertEquals(core.info().lastHeight, 2);
    await core.close();
  });
});

Deno.test("upgrade: a records folder without a state file continues on the same chain", async () => {
  for (const old of ["deleted", "older fields"]) {
    await withDir(async (dir) => {
      await runTo(dir, 6, { mode: "bridge" });
      await toLegacyLayout(dir); // a data dir written before the pack store
      const records = await listing(join(dir, "execution", "records"));
      if (old === "deleted") await Deno.remove(executionStatePath(dir));
      else {
        // A state file from before the execution fields: only a mode and a field
        // this code does not know.
        await Deno.writeFile(
          executionStatePath(dir),
          encodeCanonical({ executor_mode: "bridge", legacy_note: "kept" }),
        );
      }
      const reader = blockReader(CHAIN);
      const core = await ExecutionCore.open({
        dataDir: dir,
        worldId: WORLD,
        blocks: reader,
        durable: false,
      });
      assertEquals(core.info().lastHeight, 6, old);
      const r7 = await core.executeThrough(ctxOf(CHAIN[6]));
      await core.close();
      // Only height 7 is read (for its header timestamp): nothing re-executed.
      assertEquals(reader.reads, [7], "nothing re-executed");
      assertEquals(r7.executionBlockHash, pureChain(CHAIN.slice(0, 7))[6].executionBlockHash);
      const after = await listing(join(dir, "execution", "records"));
      for (const [path, sig] of records) assertEquals(after.get(path), sig, `${path} untouched`);
      const state = (await readExecutionState(dir))!;
      assertEquals(state.value.lastAppliedHeight, 7);
      if (old !== "deleted") assertEquals(state.unknown, { legacy_note: "kept" });
    });
  }
});

Deno.test("a crash between record and state file: reopen adopts the record", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 4);
    const stateAt4 = await Deno.readFile(executionStatePath(dir));
    await runTo(dir, 6);
    await toLegacyLayout(dir); // state file + records: the layout before the pack store
    const rec5 = await Deno.readFile(recordPath(dir, 5));
    const rec6 = await Deno.readFile(recordPath(dir, 6));
    await Deno.writeFile(executionStatePath(dir), stateAt4); // as if the last two state writes were lost
    const core = await open(dir);
    assertEquals(core.info().lastHeight, 6);
    assertEquals(core.info().lastNodeBlockHash, CHAIN[5].hash);
    await core.executeThrough(ctxOf(CHAIN[6]));
    await core.close();
    assertEquals(await Deno.readFile(recordPath(dir, 5)), rec5);
    assertEquals(await Deno.readFile(recordPath(dir, 6)), rec6);
    assertEquals((await readRecord(dir, 7))!, pureChain(CHAIN.slice(0, 7))[6]);
  });
});

Deno.test("a record whose manifest never reached the store is executed again and must agree", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 3);
    const stateAt3 = await Deno.readFile(executionStatePath(dir));
    await runTo(dir, 4);
    await toLegacyLayout(dir);
    const rec4 = await Deno.readFile(recordPath(dir, 4));
    const cas = new CasStore(join(dir, "store"));
    await Deno.remove(cas.pathOf((await readRecord(dir, 4))!.manifestRef));
    await Deno.writeFile(executionStatePath(dir), stateAt3);
    const core = await open(dir);
    assertEquals(core.info().lastHeight, 3, "height 4 is not adopted without its manifest");
    const other = "ee".repeat(32);
    const err = await assertRejects(
      () => core.executeThrough({ ...ctxOf(CHAIN[3]), nodeBlockHash: other }),
      ExecutionError,
    );
    assertEquals(err.code, "CONFLICTING_BLOCK");
    assertEquals(
      err.message,
      `conflicting block at height 4: recorded ${CHAIN[3].hash}, committed ${other}`,
    );
    await core.executeThrough(ctxOf(CHAIN[3]));
    await core.close();
    assertEquals(await Deno.readFile(recordPath(dir, 4)), rec4);
    const reopened = await open(dir);
    assert(await reopened.store.has((await readRecord(dir, 4))!.manifestRef));
    await reopened.close();
  });
});

Deno.test("a record that does not link to the state stops start-up", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 3);
    const stateAt3 = await Deno.readFile(executionStatePath(dir));
    await runTo(dir, 4);
    await toLegacyLayout(dir);
    const r4 = (await readRecord(dir, 4))!;
    await Deno.writeFile(
      recordPath(dir, 4),
      encodeFile(RECORD_SCHEMA, { ...r4, prevExecutionBlockHash: "ff".repeat(32) }),
    );
    await Deno.writeFile(executionStatePath(dir), stateAt3);
    const err = await assertRejects(() => open(dir), ExecutionError);
    assertEquals(err.code, "RECORD_CHAIN_BROKEN");
    assertEquals(err.context.height, 4);
  });
});

Deno.test("a state file of another world is refused", async () => {
  await withDir(async (dir) => {
    await runTo(dir, 1);
    const err = await assertRejects(
      () =>
        ExecutionCore.open({
          dataDir: dir,
          worldId: "other-world",
          blocks: blockReader(CHAIN),
          durable: false,
        }),
      ExecutionError,
      `"${WORLD}"`,
    );
    assertEquals(err.code, "WORLD_MISMATCH");
  });
});

Deno.test("node and bridge modes write byte-identical records; a restart continues the chain", async () => {
  await withDir(async (a) => {
    await withDir(async (b) => {
      await runTo(a, 12, { mode: "node" });
      await runTo(b, 5, { mode: "bridge" });
      await runTo(b, 12, { mode: "node" }); // reopened: picks up the world from the manifest
      for (let h = 1; h <= 12; h++) {
        assertEquals(await Deno.readFile(recordPath(a, h)), await Deno.readFile(recordPath(b, h)));
      }
      assertEquals((await readExecutionState(b))!.value.executorMode, "node");
    });
  });
});

Deno.test("determinism: independent worlds fed the same 500 blocks agree; the core matches", async () => {
  const blocks = randomChain(500, 77, 8);
  const one = pureChain(blocks);
  const two = pureChain(blocks);
  assertEquals(one.map((r) => r.executionStateRoot), two.map((r) => r.executionStateRoot));
  assertEquals(one[499].executionBlockHash, two[499].executionBlockHash);
  assertEquals(new Set(one.map((r) => r.executionStateRoot)).size, 500);
  await withDir(async (dir) => {
    const core = await open(dir, blocks);
    const res = await core.executeThrough(ctxOf(blocks[29])); // fills 1..29 from the reader
    assertEquals(res.executionBlockHash, one[29].executionBlockHash);
    // A world read back from its manifest steps on to the same roots.
    const loaded = await WorldState.load(core.store, WORLD, res.executionStateRoot);
    await core.close();
    for (let h = 31; h <= 40; h++) {
      const b = blocks[h - 1];
      const out = loaded.apply({ height: h, nodeBlockHash: b.hash, actions: b.actions });
      assertEquals(out.stateRoot, one[h - 1].executionStateRoot);
    }
  });
});
