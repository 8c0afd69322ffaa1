/**
 * A failed write halts commits; retries back off on an injected timer and the node
 * resumes by itself with no height skipped or written twice. The execution lag bound
 * pauses proposals and warns once per episode.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { AwrError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import type { NodeWriters } from "../../src/node/commit_writer.ts";
import { haltRetryDelayMs, type RetryTimer, writeErrorCode } from "../../src/node/halt.ts";
import type { NodeExecutionCommitContext } from "../../src/node/execution_hook.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { RecordingHook, waitFor } from "../support/hooks.ts";

/** Retries are queued here and fired by the test: no waiting. */
class FakeTimer implements RetryTimer {
  readonly delays: number[] = [];
  #queue = new Map<number, () => void>();
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = this.#next++;
    this.#queue.set(id, fn);
    return id;
  }
  clearTimeout(id: unknown): void {
    this.#queue.delete(id as number);
  }
  get pending(): number {
    return this.#queue.size;
  }
  /** Runs the queued retry. */
  fire(): void {
    const [id, fn] = [...this.#queue][0];
    this.#queue.delete(id);
    fn();
  }
}

function enospc(path: string): Error {
  return Object.assign(new Error(`No space left on device (os error 28): write '${path}'`), {
    code: "ENOSPC",
  });
}

function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string) => lines.push(`${level} ${msg}`);
  return {
    lines,
    log: { debug: at("DEBUG"), info: at("INFO"), warn: at("WARN"), error: at("ERROR") },
  };
}

/** Writers that throw ENOSPC while `failBlocks` / `failStates` are above 0. */
function faultyWriters(real: NodeWriters) {
  const f = { failBlocks: 0, failStates: 0, puts: [] as number[], states: 0 };
  const writers: NodeWriters = {
    putBlock: async (block: CommittedBlock) => {
      if (f.failBlocks > 0) {
        f.failBlocks--;
        throw enospc(`blocks/${block.header.height}`);
      }
      await real.putBlock(block);
      f.puts.push(block.header.height);
    },
    writeState: async (state, unknown) => {
      if (f.failStates > 0) {
        f.failStates--;
        throw enospc("node_pos_state.cbor");
      }
      await real.writeState(state, unknown);
      f.states++;
    },
  };
  return { f, writers };
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-halt-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("backoff doubles from the base and stops at the max", () => {
  assertEquals([0, 1, 2, 3, 4, 5, 60].map((r) => haltRetryDelayMs(r, 100, 1_000)), [
    100,
    200,
    400,
    800,
    1_000,
    1_000,
    1_000,
  ]);
  assertEquals(writeErrorCode(enospc("x")), "ENOSPC");
  assertEquals(writeErrorCode(new Deno.errors.PermissionDenied("read-only")), "PermissionDenied");
  assertEquals(writeErrorCode(new Error("boom")), "WRITE_FAILED");
});

for (const where of ["block", "state"] as const) {
  Deno.test(`${where} write fails 3 times: halt, retries at 10/20/40 ms, resume, no height lost or doubled`, async () => {
    await withTemp(async (dataDir) => {
      const timer = new FakeTimer();
      const { log, lines } = recordingLogger();
      let faults!: ReturnType<typeof faultyWriters>["f"];
      const hook = new RecordingHook();
      const node = new NodeRuntime(
        {
          nodeId: "node-h",
          worldId: "world-h",
          dataDir,
          tickIntervalMs: 2,
          durable: false,
          haltRetryBaseMs: 10,
          haltRetryMaxMs: 40,
        },
        {
          executionHook: hook,
          logger: log,
          retryTimer: timer,
          writers: (real) => {
            const w = faultyWriters(real);
            faults = w.f;
            return w.writers;
          },
        },
      );
      const commits: number[] = [];
      node.events.on("commit", (e) => commits.push(e.block.header.height));
      const halts: string[] = [];
      node.events.on("halt", (e) => halts.push(e.code));
      try {
        await node.start();
        assert(await waitFor(() => node.snapshot().consensus.committedHeight >= 3));
        // 1 failure in the tick + 2 failed retries; the third retry succeeds.
        if (where === "block") faults.failBlocks = 3;
        else faults.failStates = 3;
        assert(await waitFor(() => node.halted !== null), "the node halts");
        const h = node.snapshot().consensus.committedHeight;
        const snap = node.snapshot();
        assertEquals(snap.running, false);
        assertEquals(snap.halted?.code, "ENOSPC");
        assertEquals(snap.halted?.retries, 0);
        assert(snap.lastError?.startsWith("node halted: No space left"), snap.lastError ?? "");
        // Memory equals disk: the failed commit is not in the state, on disk or in memory.
        assertEquals(
          (await readNodeState(nodeStatePath(dataDir, "node-h")))?.value.committedHeight,
          h,
        );
        assertEquals(node.durableCommittedHeight, h);
        const blockOnDisk = await node.blocks.getBlock(h + 1);
        assertEquals(
          blockOnDisk !== null,
          where === "state",
          "block file h+1 exists iff its write succeeded",
        );
        const err = await assertRejects(() => node.submitActions([]), AwrError);
        assertEquals(err.code, "NODE_HALTED");

        timer.fire();
        await waitFor(() => node.halted?.retries === 1 && timer.pending === 1);
        timer.fire();
        await waitFor(() => node.halted?.retries === 2 && timer.pending === 1);
        assertEquals(node.snapshot().consensus.committedHeight, h, "nothing commits while halted");
        timer.fire();
        assert(await waitFor(() => node.halted === null), "the third retry succeeds");
        assertEquals(timer.delays, [10, 20, 40]);
        assert(await waitFor(() => node.snapshot().consensus.committedHeight >= h + 5));
        assertEquals(node.snapshot().running, true);
        assertEquals(node.snapshot().lastError, null);
      } finally {
        await node.stop();
      }
      const c = node.snapshot().consensus;
      // Every height committed exactly once, in order, each block file written once.
      assertEquals(commits, Array.from({ length: c.committedHeight }, (_, i) => i + 1));
      assertEquals(faults.puts.filter((x, i, a) => a.indexOf(x) !== i), []);
      assertEquals(hook.calls.map((x) => x.height), commits.slice(0, hook.calls.length));
      let prev: string | null = null;
      for (let height = 1; height <= c.committedHeight; height++) {
        const b = await node.blocks.getBlock(height);
        assert(b, `block ${height} on disk`);
        if (prev !== null) {
          assertEquals(b.header.parentHash, prev, `block ${height} links to ${height - 1}`);
        }
        prev = b.hash;
      }
      assertEquals((await readNodeState(node.statePath))?.value.committedHeight, c.committedHeight);
      assertEquals(halts, ["ENOSPC"]);
      assertEquals(lines.filter((l) => l.startsWith("ERROR")), [
        "ERROR node halted: a write failed; retrying with backoff",
      ]);
      assertEquals(lines.filter((l) => l.includes("resumed")), [
        "INFO node resumed: the failed write succeeded",
      ]);
    });
  });
}

Deno.test("stop while the disk still fails: no retry left behind, disk keeps the last good state", async () => {
  await withTemp(async (dataDir) => {
    const timer = new FakeTimer();
    let faults!: ReturnType<typeof faultyWriters>["f"];
    const node = new NodeRuntime(
      { nodeId: "node-s", worldId: "world-s", dataDir, tickIntervalMs: 2, durable: false },
      {
        retryTimer: timer,
        writers: (real) => {
          const w = faultyWriters(real);
          faults = w.f;
          return w.writers;
        },
      },
    );
    await node.start();
    assert(await waitFor(() => node.snapshot().consensus.committedHeight >= 2));
    faults.failBlocks = 1_000;
    assert(await waitFor(() => node.halted !== null));
    const h = node.durableCommittedHeight;
    await node.stop();
    assertEquals(timer.pending, 0, "the retry timer is cancelled");
    assertEquals((await readNodeState(node.statePath))?.value.committedHeight, h);
    assertEquals(await node.blocks.getBlock(h + 1), null);

    // Same object, disk healthy again: it restarts from the files, heights go on from h + 1.
    faults.failBlocks = 0;
    const commits: number[] = [];
    node.events.on("commit", (e) => commits.push(e.block.header.height));
    await node.start();
    assertEquals(node.halted, null);
    assert(await waitFor(() => commits.length >= 3));
    await node.stop();
    assertEquals(commits.slice(0, 3), [h + 1, h + 2, h + 3]);
  });
});

/** A hook that holds every call while `gated`. */
class GatedHook extends RecordingHook {
  gated = true;
  override async onCommit(ctx: NodeExecutionCommitContext) {
    await waitFor(() => !this.gated, 30_000, 2);
    return await super.onCommit(ctx);
  }
}

Deno.test("lag bound: proposals pause at max, ticks go on, one warning per episode", async () => {
  await withTemp(async (dataDir) => {
    const hook = new GatedHook();
    const { log, lines } = recordingLogger();
    const MAX = 6;
    const node = new NodeRuntime(
      {
        nodeId: "node-l",
        worldId: "world-l",
        dataDir,
        tickIntervalMs: 2,
        durable: false,
        maxExecutionLag: MAX,
      },
      { executionHook: hook, logger: log },
    );
    let worst = 0;
    const changes: boolean[] = [];
    node.events.on("lag_limit", (e) => changes.push(e.engaged));
    node.events.on("commit", (e) => {
      worst = Math.max(
        worst,
        e.block.header.height - node.snapshot().consensus.lastExecutionHeight,
      );
    });
    try {
      await node.start();
      assert(await waitFor(() => node.snapshot().lagLimit?.engaged === true), "engages");
      const at = node.snapshot();
      assertEquals(at.consensus.committedHeight - at.consensus.lastExecutionHeight, MAX);
      assert(await waitFor(() => node.snapshot().tickCount >= at.tickCount + 20), "ticks go on");
      const later = node.snapshot();
      assertEquals(later.consensus.committedHeight, at.consensus.committedHeight, "no commits");
      assert(later.consensus.slot > at.consensus.slot, "slots advance");

      hook.gated = false;
      assert(
        await waitFor(() =>
          node.snapshot().consensus.committedHeight >= at.consensus.committedHeight + 10
        ),
      );
      hook.gated = true;
      assert(await waitFor(() => (node.snapshot().lagLimit?.episodes ?? 0) >= 2), "second episode");
      hook.gated = false;
    } finally {
      await node.stop();
    }
    assert(worst <= MAX, `lag reached ${worst} > ${MAX}`);
    const episodes = node.snapshot().lagLimit!.episodes;
    assertEquals(changes.filter((e) => e).length, episodes);
    assertEquals(lines.filter((l) => l.startsWith("WARN")).length, episodes, lines.join("\n"));
  });
});

Deno.test("max_execution_lag and halt retry options are checked", () => {
  const base = { nodeId: "n", worldId: "w", dataDir: "/tmp/x" };
  for (
    const bad of [{ maxExecutionLag: 0 }, { haltRetryBaseMs: 0 }, {
      haltRetryBaseMs: 50,
      haltRetryMaxMs: 10,
    }]
  ) {
    assertThrows(() => new NodeRuntime({ ...base, ...bad }), AwrError);
  }
});

Deno.test("a start whose first write fails is refused loudly, with no retry left behind", async () => {
  await withTemp(async (dataDir) => {
    const timer = new FakeTimer();
    const node = new NodeRuntime(
      { nodeId: "node-r", worldId: "world-r", dataDir, durable: false },
      {
        retryTimer: timer,
        writers: (real) => ({ ...real, writeState: () => Promise.reject(enospc("state")) }),
      },
    );
    await assertRejects(() => node.start(), Error, "No space left");
    assertEquals(node.halted, null);
    assertEquals(timer.pending, 0);
  });
});

Deno.test("bridge mode (no hook): the lag bound reads the outside executor's height", async () => {
  await withTemp(async (dataDir) => {
    let executed: number | null = null;
    const node = new NodeRuntime(
      {
        nodeId: "node-b",
        worldId: "world-b",
        dataDir,
        tickIntervalMs: 2,
        durable: false,
        maxExecutionLag: 5,
      },
      { executedHeight: () => executed },
    );
    try {
      await node.start();
      assert(
        await waitFor(() => node.snapshot().consensus.committedHeight >= 8),
        "unknown = no bound",
      );
      executed = node.snapshot().consensus.committedHeight;
      assert(await waitFor(() => node.snapshot().lagLimit?.engaged === true));
      assertEquals(node.snapshot().consensus.committedHeight, executed + 5);
      executed += 3; // lag 2 <= 5/2: released
      // Engaged again: the tick after the commit that reached lag 5 sees it.
      assert(
        await waitFor(() =>
          node.snapshot().consensus.committedHeight === executed! + 5 &&
          node.snapshot().lagLimit?.engaged === true
        ),
      );
      assertEquals(node.snapshot().lagLimit?.episodes, 2);
    } finally {
      await node.stop();
    }
  });
});
