import {
  assert,
  assertEquals,
  assertGreater,
  assertGreaterOrEqual,
  assertMatch,
} from "@std/assert";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { decodeCbor } from "../../src/storage/cbor.ts";
import { expectedResult, RecordingHook, waitFor } from "../support/hooks.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertContiguous(heights: number[], from: number): void {
  heights.forEach((h, i) =>
    assertEquals(h, from + i, `height #${i} should be ${from + i}: ${heights}`)
  );
}

Deno.test("10 ms node: every commit reaches the hook in order, execution fields follow", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-node-" });
  try {
    const hook = new RecordingHook();
    const node = new NodeRuntime(
      { nodeId: "node-a", worldId: "world-a", dataDir, tickIntervalMs: 10 },
      { executionHook: hook },
    );
    await node.start();
    await sleep(200);
    await node.stop();
    const snap = node.snapshot();
    const c = snap.consensus;
    assertGreaterOrEqual(c.committedHeight, 1);
    assertEquals(c.lastExecutionHeight, c.committedHeight);
    assertMatch(c.lastExecutionBlockHash ?? "", /^[0-9a-f]{64}$/);
    assertMatch(c.lastExecutionStateRoot ?? "", /^[0-9a-f]{64}$/);
    assert(hook.calls.every((ctx) => ctx.worldId === "world-a" && ctx.nodeId === "node-a"));
    assertContiguous(hook.calls.map((ctx) => ctx.height), 1);
    assertEquals(hook.calls.length, c.committedHeight);
    // The snapshot's hashes are exactly the hook's last result.
    let prev = "genesis";
    for (const ctx of hook.calls) prev = expectedResult(ctx, prev).executionBlockHash;
    assertEquals(c.lastExecutionBlockHash, prev);
    // Each context carries the stored block's hash and actions.
    const last = hook.calls[hook.calls.length - 1];
    const stored = await node.blocks.getBlock(last.height);
    assertEquals(stored?.hash, last.nodeBlockHash);
    assertEquals(stored?.header.slot, last.slot);
    assert(hook.closed, "stop() closes the hook");
    assertEquals(snap.running, false);
    assertGreater(snap.tickCount, 0);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("restart: both heights persist and advance past the first run", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-restart-" });
  try {
    const cfg = { nodeId: "node-1", worldId: "world-1", dataDir, tickIntervalMs: 5 };
    const hook1 = new RecordingHook({ withInfo: false });
    const first = new NodeRuntime(cfg, { executionHook: hook1 });
    await first.start();
    assert(await waitFor(() => first.snapshot().consensus.lastExecutionHeight >= 8, 10_000));
    await first.stop();
    const s1 = first.snapshot().consensus;
    assertGreaterOrEqual(s1.committedHeight, 8);

    const raw = decodeCbor(await Deno.readFile(nodeStatePath(dataDir, "node-1"))) as Record<
      string,
      unknown
    >;
    assertEquals(raw.committed_height, s1.committedHeight);
    assertEquals(raw.last_execution_height, s1.lastExecutionHeight);
    assertEquals(raw.last_execution_block_hash, s1.lastExecutionBlockHash);
    assertEquals(raw.last_execution_state_root, s1.lastExecutionStateRoot);

    // Second run: a hook without info() is reconciled from the persisted fields.
    const hook2 = new RecordingHook({
      info: {
        lastHeight: s1.lastExecutionHeight,
        lastNodeBlockHash: null,
        lastExecutionBlockHash: s1.lastExecutionBlockHash,
        lastExecutionStateRoot: s1.lastExecutionStateRoot,
      },
      withInfo: false,
    });
    const second = new NodeRuntime(cfg, { executionHook: hook2 });
    await second.start();
    const startSnap = second.snapshot().consensus;
    assertEquals(startSnap.committedHeight, s1.committedHeight, "restored committed height");
    assertEquals(
      startSnap.lastExecutionHeight,
      s1.lastExecutionHeight,
      "restored execution height",
    );
    assert(
      await waitFor(() => second.snapshot().consensus.lastExecutionHeight > s1.committedHeight + 2),
    );
    await second.stop();
    const s2 = second.snapshot().consensus;
    assertGreater(s2.committedHeight, s1.committedHeight);
    assertGreater(s2.lastExecutionHeight, s1.lastExecutionHeight);
    assertContiguous(hook2.calls.map((c) => c.height), s1.lastExecutionHeight + 1);
    // The chain continued: block after the restart links to the last block before it.
    const b = await second.blocks.getBlock(s1.committedHeight + 1);
    assertEquals(b?.header.parentHash, s1.lastBlockHash);
    const persisted = await readNodeState(second.statePath);
    assertEquals(persisted?.value.lastExecutionHeight, s2.lastExecutionHeight);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a failing hook never stops commits; heights 3.. arrive in order exactly once after recovery", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-fail-" });
  try {
    let failing = true;
    const hook = new RecordingHook({
      failWhen: (ctx) => failing && ctx.height >= 3 && ctx.height <= 5,
    });
    const node = new NodeRuntime(
      { nodeId: "node-1", worldId: "world-1", dataDir, tickIntervalMs: 5 },
      { executionHook: hook },
    );
    await node.start();
    assert(await waitFor(() => hook.failures.length >= 2));
    const during = node.snapshot();
    assertEquals(
      during.consensus.lastExecutionHeight,
      2,
      "execution stuck below the failing height",
    );
    assertMatch(during.lastError ?? "", /execution of height 3 failed: injected failure/);
    const committedDuring = during.consensus.committedHeight;
    assert(await waitFor(() => node.snapshot().consensus.committedHeight >= committedDuring + 5));
    failing = false;
    assert(
      await waitFor(() => {
        const c = node.snapshot().consensus;
        return c.lastExecutionHeight >= committedDuring + 5;
      }),
    );
    await node.stop();
    const heights = hook.calls.map((c) => c.height);
    assertContiguous(heights, 1);
    assertEquals(new Set(heights).size, heights.length, "no height succeeded twice");
    assert(hook.failures.every((h) => h === 3), "only height 3 was retried while failing");
    assertEquals(node.snapshot().lastError, null, "error cleared after recovery");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("submitted actions are carried in committed blocks and handed to the hook", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-actions-" });
  try {
    const hook = new RecordingHook();
    const node = new NodeRuntime(
      { nodeId: "node-1", worldId: "world-1", dataDir, tickIntervalMs: 5 },
      { executionHook: hook },
    );
    await node.start();
    await node.submitActions([{ kind: "register", agent: "ada" }, {
      kind: "register",
      agent: "bob",
    }]);
    assert(await waitFor(() => hook.calls.some((c) => c.actions.length > 0)));
    await node.stop();
    const withActions = hook.calls.filter((c) => c.actions.length > 0);
    assertEquals(withActions.length, 1);
    assertEquals(withActions[0].actions, [{ kind: "register", agent: "ada" }, {
      kind: "register",
      agent: "bob",
    }]);
    const block = await node.blocks.getBlock(withActions[0].height);
    assertEquals(block?.actions, withActions[0].actions);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("invalid options are refused naming the option", () => {
  for (
    const [input, name] of [
      [{ tickIntervalMs: 0 }, "tick_interval_ms"],
      [{ role: "boss" }, "role"],
      [{ nodeId: "../etc" }, "node_id"],
    ] as const
  ) {
    let message = "";
    try {
      new NodeRuntime({ nodeId: "n", worldId: "w", dataDir: "/tmp/x", ...input } as never);
    } catch (err) {
      message = (err as Error).message;
    }
    assertMatch(message, new RegExp(`option ${name}`));
  }
});

Deno.test("the mempool is bounded: a submission past the limit is refused whole", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-mempool-bound-" });
  const node = new NodeRuntime({
    nodeId: "n",
    worldId: "w",
    dataDir,
    maxMempoolSize: 3,
    // Slow ticks: nothing is proposed while the test looks at the mempool.
    tickIntervalMs: 60_000,
  });
  let code = "";
  try {
    await node.submitActions([{ kind: "rest", agent: "a" }]).catch((err) => code = err.code);
    assertEquals(code, "NODE_NOT_RUNNING");
    await node.start();
    const first = await node.submitActions([{ kind: "rest", agent: "a" }, {
      kind: "rest",
      agent: "b",
    }]);
    assertEquals(first.mempoolSize, 2);
    assertEquals(node.actionStatus(first.ids[0]), { state: "pending" });
    await node.submitActions([{ kind: "rest", agent: "c" }, { kind: "rest", agent: "d" }])
      .catch((err) => code = err.code);
    assertEquals(code, "MEMPOOL_FULL");
    assertEquals(node.mempoolSize, 2);
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
