import { assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { SNAPSHOT_MAX_BYTES } from "../../src/cli/status.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { recordPath } from "../../src/execution/records.ts";
import { executionStatePath } from "../../src/execution/state_file.ts";
import { readFileBounded } from "../../src/storage/atomic.ts";
import { buildChain } from "../support/chain.ts";
import { awr } from "../support/cli.ts";

Deno.test("snapshot inspect /dev/zero refuses (bounded read), also with --json", async () => {
  const r = await awr("snapshot", "inspect", "/dev/zero");
  assertEquals(r.code, 1);
  assertStringIncludes(r.err, "/dev/zero is a character device");
  assertEquals(r.err.split("\n").length, 1);
  const j = await awr("snapshot", "inspect", "/dev/zero", "--json");
  assertEquals(j.code, 1);
  assertEquals(JSON.parse(j.out).code, "FILE_NOT_REGULAR");
  assertEquals(JSON.parse(j.out).ok, false);
});

Deno.test("snapshot inspect names the kind of a block file, record, execution state, JSON report", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-inspect-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 3);
    const blockFile = join(
      dataDir,
      "node",
      "node-1",
      "blocks",
      "0000000000",
      "00000000000000000002.cbor",
    );
    const core = await ExecutionCore.open({
      dataDir,
      worldId: "world-1",
      blocks: { getBlock: (h) => Promise.resolve(blocks[h - 1] ?? null) },
      durable: false,
    });
    await core.executeThrough({
      worldId: "world-1",
      nodeId: "node-1",
      height: 1,
      slot: blocks[0].header.slot,
      epoch: 0,
      nodeBlockHash: blocks[0].hash,
      committedAtUnixMs: blocks[0].committedAtUnixMs,
      actions: [],
    });
    await core.close();
    const report = join(dataDir, "latest.json");
    await Deno.writeTextFile(report, JSON.stringify({ kind: "awr.latest_report", schema: 1 }));
    const cases: Array<[string, string, string]> = [
      [blockFile, "a block file", "block"],
      [recordPath(dataDir, 1), "an execution record (height 1)", "execution_record"],
      [executionStatePath(dataDir), "an execution state file", "execution_state"],
      [report, "a JSON report (awr.latest_report)", "json_report"],
    ];
    for (const [file, phrase, kind] of cases) {
      const r = await awr("snapshot", "inspect", file);
      assertEquals(r.code, 1, file);
      assertStringIncludes(r.err, phrase);
      assertStringIncludes(r.err, file);
      const j = await awr("snapshot", "inspect", file, "--json");
      assertEquals(j.code, 1);
      assertEquals(JSON.parse(j.out).kind, kind);
      assertEquals(JSON.parse(j.out).code, "WRONG_FILE_KIND");
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("snapshot inspect: a file over the cap is refused naming the size; a folder is one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-inspect-" });
  try {
    const big = join(dir, "big.cbor");
    await Deno.writeFile(big, new Uint8Array(SNAPSHOT_MAX_BYTES + 1));
    const r = await awr("snapshot", "inspect", big);
    assertEquals(r.code, 1);
    assertStringIncludes(
      r.err,
      `${SNAPSHOT_MAX_BYTES + 1} bytes, more than the ${SNAPSHOT_MAX_BYTES}`,
    );
    // At the cap exactly the file is read (and then refused for what it is, not its size).
    const atCap = join(dir, "cap.cbor");
    await Deno.writeFile(atCap, new Uint8Array(SNAPSHOT_MAX_BYTES));
    assertEquals((await readFileBounded(atCap, SNAPSHOT_MAX_BYTES))?.length, SNAPSHOT_MAX_BYTES);
    const d = await awr("snapshot", "inspect", dir);
    assertEquals(d.code, 1);
    assertEquals(d.err, `awr: ${dir} is a folder, not a file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("records verify --json: a missing records folder is a JSON error and exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-inspect-" });
  try {
    const r = await awr("records", "verify", "--data-dir", dir, "--json");
    assertEquals(r.code, 1);
    assertEquals(JSON.parse(r.out).ok, false);
    assertStringIncludes(JSON.parse(r.out).error, join(dir, "execution", "records"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("status --json: a missing data dir is a JSON error and exit 1", async () => {
  const r = await awr("status", "--data-dir", "/nonexistent-awr-dir", "--json");
  assertEquals(r.code, 1);
  const j = JSON.parse(r.out);
  assertEquals(j.ok, false);
  assertStringIncludes(j.error, "/nonexistent-awr-dir");
});
