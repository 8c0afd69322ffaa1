import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHook,
  NodeExecutionHookInfo,
} from "../../src/node/execution_hook.ts";
import { HandshakeError } from "../../src/node/handshake.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { readNodeState } from "../../src/node/state_file.ts";
import { buildChain, writeLegacyState } from "../support/chain.ts";
import { expectedResult, RecordingHook } from "../support/hooks.ts";

const ROOT_A = "a".repeat(64);
const HASH_B = "b".repeat(64);

async function withState(
  execution: { height: number; hash: string; root: string },
  fn: (dataDir: string, statePath: string, blocks: CommittedBlock[]) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-hsr-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 7);
    const statePath = await writeLegacyState(dataDir, "node-1", "world-1", blocks, {
      last_execution_height: execution.height,
      last_execution_block_hash: execution.hash,
      last_execution_state_root: execution.root,
    });
    await fn(dataDir, statePath, blocks);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

const cfg = (dataDir: string) => ({
  nodeId: "node-1",
  worldId: "world-1",
  dataDir,
  tickIntervalMs: 10,
  role: "observer" as const,
});

/** An idempotent hook (what the driver contract promises) with results for every height. */
class ChainHook implements NodeExecutionHook {
  readonly results = new Map<number, NodeExecutionCommitResult>();
  constructor(blocks: CommittedBlock[], readonly height: number) {
    let prev = "genesis";
    for (const b of blocks) {
      const r = expectedResult({ height: b.header.height, nodeBlockHash: b.hash } as never, prev);
      this.results.set(b.header.height, r);
      prev = r.executionBlockHash;
    }
  }
  onCommit(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> {
    return Promise.resolve(this.results.get(ctx.height)!);
  }
  info(): Promise<NodeExecutionHookInfo> {
    const r = this.results.get(this.height)!;
    return Promise.resolve({
      lastHeight: this.height,
      lastNodeBlockHash: null,
      lastExecutionBlockHash: r.executionBlockHash,
      lastExecutionStateRoot: r.executionStateRoot,
    });
  }
}

Deno.test("handshake roots: driver at the node's height with another state root → EXECUTION_ROOT_MISMATCH naming both roots", async () => {
  await withState({ height: 7, hash: HASH_B, root: ROOT_A }, async (dataDir, statePath, blocks) => {
    const hook = new ChainHook(blocks, 7);
    const mine = hook.results.get(7)!;
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    const err = await assertRejects(() => node.start(), HandshakeError);
    assertEquals(err.code, "EXECUTION_ROOT_MISMATCH");
    assertStringIncludes(err.message, "height 7");
    assertStringIncludes(err.message, ROOT_A);
    assertStringIncludes(err.message, mine.executionStateRoot);
    assertStringIncludes(err.message, HASH_B);
    assertStringIncludes(err.message, mine.executionBlockHash);
    assertStringIncludes(err.message, statePath);
    assertEquals(err.context.hookExecutionStateRoot, mine.executionStateRoot);
  });
});

Deno.test("handshake roots: driver ahead is asked for the node's height again and must agree", async () => {
  await withState({ height: 5, hash: HASH_B, root: ROOT_A }, async (dataDir, _p, blocks) => {
    const hook = new ChainHook(blocks, 7);
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    const err = await assertRejects(() => node.start(), HandshakeError);
    assertEquals(err.code, "EXECUTION_ROOT_MISMATCH");
    assertStringIncludes(err.message, "at height 5");
    assertStringIncludes(err.message, "driver (at height 7)");
    assertStringIncludes(err.message, hook.results.get(5)!.executionStateRoot);
  });
  // The same files with the driver's own result at 5: start-up goes through.
  const dataDir = await Deno.makeTempDir({ prefix: "awr-hsr-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 7);
    const hook = new ChainHook(blocks, 7);
    const r5 = hook.results.get(5)!;
    await writeLegacyState(dataDir, "node-1", "world-1", blocks, {
      last_execution_height: 5,
      last_execution_block_hash: r5.executionBlockHash,
      last_execution_state_root: r5.executionStateRoot,
    });
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    await node.start();
    assertEquals(node.snapshot().consensus.lastExecutionHeight, 7);
    await node.stop();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("handshake roots: driver behind replays to the node's height and a different result fails start", async () => {
  await withState({ height: 7, hash: HASH_B, root: ROOT_A }, async (dataDir, statePath) => {
    const hook = new RecordingHook({ withInfo: true }); // at 0: replays 1..7
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    const err = await assertRejects(() => node.start(), HandshakeError);
    assertEquals(err.code, "EXECUTION_ROOT_MISMATCH");
    assertStringIncludes(err.message, ROOT_A);
    assertStringIncludes(err.message, statePath);
    assertEquals(hook.calls.map((c) => c.height), [1, 2, 3, 4, 5, 6, 7]);
    // Nothing was persisted: the evidence stays for the operator and the next start.
    const after = await readNodeState(statePath);
    assertEquals(after?.value.lastExecutionHeight, 7);
    assertEquals(after?.value.lastExecutionStateRoot, ROOT_A);
  });
});

Deno.test("handshake roots: a driver ahead that cannot answer for an applied height is not compared; start goes on", async () => {
  await withState({ height: 5, hash: HASH_B, root: ROOT_A }, async (dataDir, _p, blocks) => {
    const hook = new ChainHook(blocks, 7);
    hook.onCommit = () => Promise.reject(new Error("height 5 delivered again"));
    const node = new NodeRuntime(cfg(dataDir), { executionHook: hook });
    await node.start();
    assertEquals(node.snapshot().consensus.lastExecutionHeight, 7);
    await node.stop();
  });
});
