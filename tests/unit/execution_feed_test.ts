import { assertEquals } from "@std/assert";
import { ExecutionFeed, type ExecutionFeedDeps } from "../../src/node/execution_feed.ts";
import type { NodeExecutionCommitContext } from "../../src/node/execution_hook.ts";

function ctxFor(height: number): NodeExecutionCommitContext {
  return {
    worldId: "w",
    nodeId: "n",
    height,
    slot: height,
    epoch: 0,
    nodeBlockHash: `b${height}`,
    committedAtUnixMs: 0,
    actions: [],
  };
}

function feedWith(over: Partial<ExecutionFeedDeps>, committed: number) {
  let clock = 1_000;
  const executed: number[] = [];
  const errors: string[] = [];
  const deps: ExecutionFeedDeps = {
    hook: {
      onCommit: (ctx) => {
        executed.push(ctx.height);
        return Promise.resolve({
          executionHeight: ctx.height,
          executionBlockHash: `e${ctx.height}`,
          executionStateRoot: `r${ctx.height}`,
        });
      },
    },
    committedHeight: () => committed,
    contextFor: (h) => Promise.resolve(ctxFor(h)),
    onResult: () => {},
    onError: (_h, m) => errors.push(m),
    retryBaseMs: 100,
    retryMaxMs: 1_000,
    now: () => clock,
    ...over,
  };
  const feed = new ExecutionFeed(deps, {
    height: 0,
    executionBlockHash: null,
    executionStateRoot: null,
  });
  return { feed, executed, errors, advance: (ms: number) => (clock += ms) };
}

Deno.test("feed: a throwing onError does not leave the call in flight; retry after backoff", async () => {
  let failContext = true;
  const t = feedWith({
    contextFor: (h) =>
      failContext ? Promise.reject(new Error("no block")) : Promise.resolve(ctxFor(h)),
    onError: () => {
      throw new Error("reporter broke");
    },
  }, 2);
  t.feed.kick();
  await t.feed.idle();
  assertEquals(t.feed.inFlightHeight, 0);
  assertEquals(t.feed.errorCount, 1);
  failContext = false;
  t.feed.kick(); // still inside the 100 ms backoff of the injected clock: nothing happens
  await t.feed.idle();
  assertEquals(t.executed, []);
  t.advance(100);
  t.feed.kick();
  await t.feed.idle();
  assertEquals(t.executed, [1, 2]);
});

Deno.test("feed: a throwing onResult is reported and the next heights still go out", async () => {
  const t = feedWith({
    onResult: (r) => {
      if (r.executionHeight === 1) throw new Error("persist failed");
    },
  }, 3);
  t.feed.kick();
  await t.feed.idle();
  assertEquals(t.feed.inFlightHeight, 0);
  assertEquals(t.executed, [1, 2, 3]);
  assertEquals(t.errors.length, 1);
  assertEquals(t.errors[0].includes("height 1") && t.errors[0].includes("persist failed"), true);
});

Deno.test("feed: a throwing contextFor is a failed call, not a stall", async () => {
  const t = feedWith({
    contextFor: () => {
      throw new Error("sync throw");
    },
  }, 1);
  t.feed.kick();
  await t.feed.idle();
  assertEquals(t.feed.inFlightHeight, 0);
  assertEquals(t.errors, ["sync throw"]);
  assertEquals(await t.feed.catchUp(), false);
});
