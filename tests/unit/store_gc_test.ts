import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { Command } from "commander";
import { registerStoreCommands } from "../../src/cli/store.ts";
import { CliError, type CliIo } from "../../src/cli/io.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { decodeManifest } from "../../src/state/manifest.ts";
import { readRecord } from "../../src/execution/records.ts";
import { finishGc, gcStore } from "../../src/execution/store_gc.ts";
import { verifyRecords } from "../../src/execution/verify.ts";
import { lockDataDir } from "../../src/storage/lock.ts";
import { openBlobReader, packDir } from "../../src/storage/blob_store.ts";
import { blockReader, ctxOf, randomChain, WORLD } from "../support/chain_fixture.ts";

const CHAIN = randomChain(40, 555, 8);

async function withChain(height: number, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-gc-" });
  try {
    await runTo(dir, height);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function runTo(dir: string, height: number) {
  const core = await ExecutionCore.open({
    dataDir: dir,
    worldId: WORLD,
    blocks: blockReader(CHAIN),
    durable: false,
  });
  for (let h = core.info().lastHeight + 1; h <= height; h++) {
    await core.executeThrough(ctxOf(CHAIN[h - 1]));
  }
  const info = core.info();
  await core.close();
  return info;
}

Deno.test("store gc --keep-last 5: older states' blobs go, the kept states and every record stay", async () => {
  await withChain(30, async (dir) => {
    const before = await openBlobReader(dir);
    const old = (await readRecord(dir, 10))!;
    assert(before.reader.has(old.manifestRef));
    const r = await gcStore(dir, 5);
    assertEquals([r.keptFrom, r.lastHeight], [26, 30]);
    assert(r.blobsAfter < r.blobsBefore, `blobs ${r.blobsBefore} -> ${r.blobsAfter}`);
    assert(r.bytesAfter < r.bytesBefore, `bytes ${r.bytesBefore} -> ${r.bytesAfter}`);
    const after = await openBlobReader(dir);
    assertEquals(after.reader.has(old.manifestRef), false, "height 10's manifest collected");
    // Every blob of a kept state is still readable and intact.
    for (let h = 26; h <= 30; h++) {
      const rec = (await readRecord(dir, h))!;
      const m = decodeManifest(await after.get(rec.manifestRef), `m${h}`);
      assertEquals(m.height, h);
    }
    const report = await verifyRecords(dir);
    assertEquals([report.ok, report.heights, report.skippedBelow], [true, 30, 25]);
    // The core reopens from the compacted pack and continues the same chain.
    const ref = await withFresh(35);
    const info = await runTo(dir, 35);
    assertEquals(info.lastExecutionBlockHash, ref);
    assertEquals((await verifyRecords(dir)).ok, true);
  });
});

async function withFresh(height: number): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "awr-gc-ref-" });
  try {
    return (await runTo(dir, height)).lastExecutionBlockHash;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("store gc refuses while a node holds the data dir; the CLI names the lock", async () => {
  await withChain(6, async (dir) => {
    const lock = await lockDataDir(dir);
    try {
      const io: CliIo & { lines: string[] } = {
        lines: [],
        out(l) {
          this.lines.push(l);
        },
        err: () => {},
        isTerminal: false,
      };
      const program = new Command().exitOverride();
      registerStoreCommands(program, io);
      const err = await assertRejects(
        () =>
          program.parseAsync(["store", "gc", "--data-dir", dir, "--keep-last", "2"], {
            from: "user",
          }),
        CliError,
      );
      assertStringIncludes(err.message, "in use by another awr process");
    } finally {
      lock.release();
    }
    // Nothing was changed: every state is still complete.
    assertEquals((await verifyRecords(dir)).skippedBelow, 0);
  });
});

Deno.test("store gc: a swap interrupted between its two renames is completed at open", async () => {
  await withChain(12, async (dir) => {
    await gcStore(dir, 3);
    const packs = packDir(dir);
    // Re-create the crash point: packs.gc complete, packs moved to packs.old.
    await Deno.rename(packs, `${packs}.gc`);
    await Deno.mkdir(`${packs}.old`);
    await finishGc(dir);
    const report = await verifyRecords(dir);
    assertEquals([report.ok, report.heights, report.skippedBelow], [true, 12, 9]);
    await assertRejects(() => Deno.stat(`${packs}.old`), Deno.errors.NotFound);
  });
});
