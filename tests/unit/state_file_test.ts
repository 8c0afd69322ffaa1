import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { decodeCbor, encodeCanonical } from "../../src/storage/cbor.ts";
import { SnapshotError } from "../../src/storage/schema.ts";
import { buildChain, writeLegacyState } from "../support/chain.ts";

// Written by Python's cbor2 (not this project's encoder), in insertion key order and
// without `schema` or any execution field:
//   cbor2.dumps({"node_id": "node-1", "world_id": "world-1", "genesis_unix_ms": 1700000000000,
//     "slot": 7, "epoch": 0, "latest_height": 7, "committed_height": 7,
//     "last_committed_slot": 7, "last_block_hash": "5"*64, "last_status": "Committed"})
const LEGACY = fromFileUrl(new URL("../fixtures/legacy_node_pos_state.cbor", import.meta.url));

Deno.test("a state file from before the execution fields loads with 0 / null", async () => {
  const decoded = await readNodeState(LEGACY);
  const s = decoded!.value;
  assertEquals(decoded!.version, 0);
  assertEquals(s.committedHeight, 7);
  assertEquals(s.lastBlockHash, "5".repeat(64));
  assertEquals(s.genesisUnixMs, 1_700_000_000_000);
  assertEquals(s.lastExecutionHeight, 0);
  assertEquals(s.lastExecutionBlockHash, null);
  assertEquals(s.lastExecutionStateRoot, null);
  assertEquals(decoded!.unknown, {});
});

Deno.test("an unknown field survives a node's rewrite of the state file", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-unknown-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 3);
    const path = await writeLegacyState(dataDir, "node-1", "world-1", blocks, {
      future_field: { nested: [1, 2, 3] },
    });
    const node = new NodeRuntime({
      nodeId: "node-1",
      worldId: "world-1",
      dataDir,
      tickIntervalMs: 5,
    });
    await node.start();
    await new Promise((r) => setTimeout(r, 30));
    await node.stop();
    const raw = decodeCbor(await Deno.readFile(path)) as Record<string, unknown>;
    assertEquals(raw.future_field, { nested: [1, 2, 3] });
    assertEquals(raw.schema, 1);
    assertEquals(typeof raw.last_execution_height, "number");
    assertEquals((raw.committed_height as number) > 3, true);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("truncated bytes fail naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/node_pos_state.cbor`;
    const bytes = await Deno.readFile(LEGACY);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 9));
    const err = await assertRejects(() => readNodeState(path), SnapshotError);
    assertEquals(err.code, "SNAPSHOT_CORRUPT");
    assertStringIncludes(err.message, path);
    assertStringIncludes(err.message, "truncated or corrupt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a wrong-typed committed_height fails naming the file and field, and the node refuses to start", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const path = nodeStatePath(dataDir, "node-1");
    await Deno.mkdir(`${dataDir}/node/node-1`, { recursive: true });
    await Deno.writeFile(path, encodeCanonical({ node_id: "node-1", committed_height: "7" }));
    const err = await assertRejects(() => readNodeState(path), SnapshotError);
    assertEquals(err.code, "SNAPSHOT_FIELD_TYPE");
    assertEquals(err.context.field, "committed_height");
    assertStringIncludes(err.message, path);
    assertStringIncludes(err.message, `field "committed_height"`);
    const node = new NodeRuntime({ nodeId: "node-1", worldId: "world-1", dataDir });
    await assertRejects(() => node.start(), SnapshotError, "committed_height");
    // Never a silent reset: the file is untouched.
    assertEquals(decodeCbor(await Deno.readFile(path)), {
      node_id: "node-1",
      committed_height: "7",
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a file from a newer schema is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/s.cbor`;
    await Deno.writeFile(path, encodeCanonical({ schema: 99, committed_height: 1 }));
    const err = await assertRejects(() => readNodeState(path), SnapshotError);
    assertEquals(err.code, "SNAPSHOT_SCHEMA_NEWER");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
