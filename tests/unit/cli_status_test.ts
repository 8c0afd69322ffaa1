import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { AWR_VERSION } from "../../src/version.ts";
import { awr } from "../support/cli.ts";
import { RecordingHook, waitFor } from "../support/hooks.ts";

const LEGACY = fromFileUrl(new URL("../fixtures/legacy_node_pos_state.cbor", import.meta.url));

Deno.test("awr --version and --help", async () => {
  const v = await awr("--version");
  assertEquals(v.code, 0);
  assertEquals(v.out.trim(), AWR_VERSION);
  const h = await awr("--help");
  assertEquals(h.code, 0);
  assertStringIncludes(h.out, "status");
  assertStringIncludes(h.out, "snapshot");
});

Deno.test("awr status reads a stopped node's state with the seed's JSON names", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-cli-" });
  try {
    const node = new NodeRuntime(
      { nodeId: "node-7", worldId: "world-7", dataDir, tickIntervalMs: 5 },
      { executionHook: new RecordingHook() },
    );
    await node.start();
    await waitFor(() => node.snapshot().consensus.lastExecutionHeight >= 3);
    await node.stop();
    const c = node.snapshot().consensus;
    const r = await awr("status", "--data-dir", dataDir, "--json");
    assertEquals(r.code, 0, r.err);
    const json = JSON.parse(r.out);
    assertEquals(json.node_id, "node-7");
    assertEquals(json.world_id, "world-7");
    assertEquals(json.consensus.committed_height, c.committedHeight);
    assertEquals(json.consensus.last_execution_height, c.lastExecutionHeight);
    assertEquals(json.consensus.last_execution_block_hash, c.lastExecutionBlockHash);
    assertEquals(json.consensus.last_execution_state_root, c.lastExecutionStateRoot);
    assertEquals(json.execution_lag, c.committedHeight - c.lastExecutionHeight);
    const human = await awr("status", "--data-dir", dataDir);
    assertEquals(human.code, 0);
    assertMatch(human.out, new RegExp(`committed height\\s+${c.committedHeight}`));
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("awr snapshot inspect decodes a legacy file; bad input exits non-zero with one line", async () => {
  const r = await awr("snapshot", "inspect", LEGACY, "--json");
  assertEquals(r.code, 0, r.err);
  const json = JSON.parse(r.out);
  assertEquals(json.schema_version, 0);
  assertEquals(json.consensus.committed_height, 7);
  assertEquals(json.consensus.last_execution_height, 0);
  assertEquals(json.consensus.last_execution_block_hash, null);

  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.cbor`;
    await Deno.writeFile(bad, new Uint8Array([0xa1, 0x61]));
    const e = await awr("snapshot", "inspect", bad);
    assertEquals(e.code, 1);
    assertEquals(e.err.split("\n").length, 1);
    assertStringIncludes(e.err, bad);
    const missing = await awr("status", "--data-dir", `${dir}/nope`);
    assertEquals(missing.code, 1);
    assertStringIncludes(missing.err, "no node state");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const flag = await awr("status", "--bogus");
  assertEquals(flag.code, 2);
  assertStringIncludes(flag.err, "unknown option");
});
