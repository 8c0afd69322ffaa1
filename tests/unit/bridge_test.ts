// The legacy bridge delivers through the node's ExecutionFeed (one delivery loop for
// both modes): order, the per-pass limit, a driver error with its code, and a retry
// from the same height. Fake hook and block reader; no timers.
import { assertEquals, assertRejects } from "@std/assert";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { AwrError } from "../../src/errors.ts";
import { LegacyBridge } from "../../src/live/bridge.ts";
import type { CommittedBlockReader } from "../../src/node/block_store.ts";
import type { NodeExecutionHook } from "../../src/node/execution_hook.ts";

function fakeBlocks(top: number): CommittedBlockReader {
  return {
    getBlock: (h) =>
      Promise.resolve(
        h >= 1 && h <= top
          ? ({
            header: { height: h, slot: h, epoch: 0 },
            hash: `b${h}`,
            committedAtUnixMs: 0,
            actions: [],
          } as unknown as CommittedBlock)
          : null,
      ),
  };
}

function fakeHook(failAt: Set<number>, start = 0) {
  const calls: number[] = [];
  const hook: NodeExecutionHook = {
    info: () =>
      Promise.resolve({
        lastHeight: start,
        lastNodeBlockHash: start ? `b${start}` : null,
        lastExecutionBlockHash: start ? `e${start}` : null,
        lastExecutionStateRoot: start ? `r${start}` : null,
      }),
    onCommit: (ctx) => {
      calls.push(ctx.height);
      if (failAt.delete(ctx.height)) {
        return Promise.reject(new AwrError("DRIVER_TIMEOUT", `height ${ctx.height} too slow`));
      }
      return Promise.resolve({
        executionHeight: ctx.height,
        executionBlockHash: `e${ctx.height}`,
        executionStateRoot: `r${ctx.height}`,
      });
    },
  };
  return { hook, calls };
}

Deno.test("bridge: starts at the driver's height and executes in order up to the limit per pass", async () => {
  const { hook, calls } = fakeHook(new Set(), 2);
  const bridge = await LegacyBridge.open(hook, fakeBlocks(20), "w", "n");
  const seen: Array<[number, string]> = [];
  bridge.onExecuted((r, nodeHash) => seen.push([r.executionHeight, nodeHash]));
  assertEquals(bridge.progress.height, 2);
  assertEquals(await bridge.catchUp(20, 5), 5);
  assertEquals(calls, [3, 4, 5, 6, 7]);
  assertEquals(seen.map(([h]) => h), [3, 4, 5, 6, 7]);
  assertEquals(seen[0][1], "b3");
  assertEquals(await bridge.catchUp(9), 2);
  assertEquals(bridge.progress, { height: 9, executionBlockHash: "e9", executionStateRoot: "r9" });
  assertEquals(bridge.executions, 7);
  assertEquals(await bridge.catchUp(9), 0, "nothing above the committed height");
});

Deno.test("bridge: a driver error rejects with the driver's code; the next pass retries the same height", async () => {
  const { hook, calls } = fakeHook(new Set([3]));
  const bridge = await LegacyBridge.open(hook, fakeBlocks(5), "w", "n");
  const err = await assertRejects(() => bridge.catchUp(5), AwrError);
  assertEquals(err.code, "DRIVER_TIMEOUT");
  assertEquals(err.context.height, 3);
  assertEquals(bridge.progress.height, 2, "heights before the failure were kept");
  assertEquals(await bridge.catchUp(5), 3);
  assertEquals(calls, [1, 2, 3, 3, 4, 5]);
});

Deno.test("bridge: a block missing from the store fails with BRIDGE_BLOCK_MISSING naming the height", async () => {
  const { hook } = fakeHook(new Set());
  const bridge = await LegacyBridge.open(hook, fakeBlocks(2), "w", "n");
  const err = await assertRejects(() => bridge.catchUp(4), AwrError);
  assertEquals(err.code, "BRIDGE_BLOCK_MISSING");
  assertEquals(err.message.includes("block 3"), true);
  assertEquals(bridge.progress.height, 2);
});
