import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { Command } from "commander";
import { registerRecordsCommands } from "../../src/cli/records.ts";
import { CliError, type CliIo } from "../../src/cli/io.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { decodeManifest } from "../../src/state/manifest.ts";
import { readRecord, RECORD_SCHEMA, recordPath } from "../../src/execution/records.ts";
import type { NodeWire } from "../../src/state/state_tree.ts";
import { verifyRecords } from "../../src/execution/verify.ts";
import type { WorldShape } from "../../src/state/world_state.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { decodeCbor } from "../../src/storage/cbor.ts";
import { toHex } from "../../src/storage/hash.ts";
import { encodeFile } from "../../src/storage/schema.ts";
import { blockReader, ctxOf, randomChain, WORLD } from "../support/chain_fixture.ts";
import { toLegacyLayout } from "../support/legacy_layout.ts";
import { openBlobReader } from "../../src/storage/blob_store.ts";

const CHAIN = randomChain(120, 99, 8);

async function withRun(
  heights: number,
  fn: (dir: string) => Promise<void>,
  shape?: WorldShape,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-verify-test-" });
  try {
    const core = await ExecutionCore.open({
      dataDir: dir,
      worldId: WORLD,
      blocks: blockReader(CHAIN),
      durable: false,
      shape,
    });
    await core.executeThrough(ctxOf(CHAIN[heights - 1]));
    await core.close();
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function captureIo(isTerminal = false): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), isTerminal };
}

async function runVerify(io: CliIo, args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerRecordsCommands(program, io);
  await program.parseAsync(["records", "verify", ...args], { from: "user" });
}

/** Every blob address in a manifest's state tree. */
async function treeBlobs(cas: CasStore, manifestRef: string): Promise<Set<string>> {
  const m = decodeManifest(await cas.get(manifestRef), manifestRef);
  const out = new Set<string>();
  let level = [m.treeRoot];
  for (let k = m.depth; k >= 1; k--) {
    const next: string[] = [];
    for (const h of level) {
      out.add(h);
      next.push(...(decodeCbor(await cas.get(h)) as NodeWire).children.map(toHex));
    }
    level = next;
  }
  for (const h of level) out.add(`chunk:${h}`);
  return out;
}

Deno.test("records verify passes on a clean run of 120 heights (API and CLI)", async () => {
  await withRun(120, async (dir) => {
    let progressCalls = 0;
    const report = await verifyRecords(dir, { onProgress: () => progressCalls++ });
    assertEquals(report.ok, true);
    assertEquals(report.heights, 120);
    assertEquals(report.firstBad, undefined);
    assertEquals(progressCalls, 120);
    assert(report.blobsChecked > 240, `blobs checked: ${report.blobsChecked}`);

    const io = captureIo();
    await runVerify(io, ["--data-dir", dir]);
    assertStringIncludes(io.lines.join("\n"), "ok, 120 heights");
    const json = captureIo();
    await runVerify(json, ["--data-dir", dir, "--json"]);
    const parsed = JSON.parse(json.lines.join("\n"));
    assertEquals([parsed.ok, parsed.heights, parsed.first_bad], [true, 120, null]);
  });
});

Deno.test("records verify passes across bucket growth (1 bucket at genesis, fanout 2)", async () => {
  await withRun(120, async (dir) => {
    const report = await verifyRecords(dir);
    assertEquals([report.ok, report.heights, report.firstBad], [true, 120, undefined]);
    const m = decodeManifest(
      await (await openBlobReader(dir)).get((await readRecord(dir, 120))!.manifestRef),
      "last manifest",
    );
    assert(m.bucketCount >= 4 && m.depth >= 2, `grew to ${m.bucketCount} buckets`);
  }, { minBuckets: 1, fanout: 2 });
});

Deno.test("records verify catches a flipped byte in a record", async () => {
  await withRun(40, async (dir) => {
    await toLegacyLayout(dir); // record files and CAS files: the layout before packs
    assertEquals((await verifyRecords(dir)).ok, true);
    const path = recordPath(dir, 17);
    const bytes = await Deno.readFile(path);
    const root = (await readRecord(dir, 17))!.executionStateRoot;
    // The last copy of the root is the execution_state_root value (manifest_ref sorts first).
    const at = new TextDecoder().decode(bytes).lastIndexOf(root);
    assert(at > 0);
    bytes[at + 10] ^= 0x01;
    await Deno.writeFile(path, bytes);
    const report = await verifyRecords(dir);
    assertEquals(report.ok, false);
    assertEquals(report.heights, 16);
    assertEquals(report.firstBad?.height, 17);
    assertStringIncludes(report.firstBad!.problem, "is not the hash of the record's fields");

    // The CLI exits 1 naming the height; --json still prints the report.
    const io = captureIo();
    const err = await assertRejects(() => runVerify(io, ["--data-dir", dir, "--json"]), CliError);
    assertEquals(err.exitCode, 1);
    assertStringIncludes(err.message, "height 17");
    assertEquals(JSON.parse(io.lines.join("\n")).first_bad.height, 17);
  });
});

Deno.test("records verify catches a truncated record", async () => {
  await withRun(20, async (dir) => {
    await toLegacyLayout(dir); // record files and CAS files: the layout before packs
    const path = recordPath(dir, 9);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 5));
    const report = await verifyRecords(dir);
    assertEquals(report.firstBad?.height, 9);
    assertStringIncludes(report.firstBad!.problem, "truncated or corrupt");
  });
});

Deno.test("records verify catches a deleted CAS blob", async () => {
  await withRun(40, async (dir) => {
    await toLegacyLayout(dir); // record files and CAS files: the layout before packs
    assertEquals((await verifyRecords(dir)).ok, true);
    const cas = new CasStore(join(dir, "store"));
    const before = await treeBlobs(cas, (await readRecord(dir, 22))!.manifestRef);
    const at23 = await treeBlobs(cas, (await readRecord(dir, 23))!.manifestRef);
    const fresh = [...at23].find((h) => h.startsWith("chunk:") && !before.has(h));
    assert(fresh, "height 23 wrote a new chunk");
    const hash = fresh.slice("chunk:".length);
    await Deno.remove(cas.pathOf(hash));
    const report = await verifyRecords(dir);
    assertEquals(report.ok, false);
    assertEquals(report.firstBad?.height, 23);
    assertStringIncludes(report.firstBad!.problem, `state chunk`);
    assertStringIncludes(report.firstBad!.problem, `blob ${hash} is missing`);
  });
});

Deno.test("records verify catches a record whose previous-hash link is wrong", async () => {
  await withRun(40, async (dir) => {
    await toLegacyLayout(dir); // record files and CAS files: the layout before packs
    assertEquals((await verifyRecords(dir)).ok, true);
    const r29 = (await readRecord(dir, 29))!;
    const r31 = (await readRecord(dir, 31))!;
    await Deno.writeFile(
      recordPath(dir, 31),
      encodeFile(RECORD_SCHEMA, { ...r31, prevExecutionBlockHash: r29.executionBlockHash }),
    );
    const report = await verifyRecords(dir);
    assertEquals(report.firstBad?.height, 31);
    assertStringIncludes(
      report.firstBad!.problem,
      `prev_execution_block_hash ${r29.executionBlockHash} does not link to height 30's`,
    );
  });
});

Deno.test("records verify reports a gap in the heights and a missing records folder", async () => {
  await withRun(12, async (dir) => {
    await toLegacyLayout(dir); // record files and CAS files: the layout before packs
    await Deno.remove(recordPath(dir, 7));
    const report = await verifyRecords(dir);
    assertEquals(report.firstBad, {
      height: 7,
      problem: "record missing: heights jump from 6 to 8",
    });
    const io = captureIo();
    await assertRejects(
      () => runVerify(io, ["--data-dir", join(dir, "nope")]),
      CliError,
      "no execution records folder",
    );
  });
});
