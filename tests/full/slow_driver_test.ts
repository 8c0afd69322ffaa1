/**
 * DESIGN invariant 6 (consensus keeps its cadence): a driver that burns 300 ms of
 * CPU per height, hosted in a Worker, must not delay the node's ticks, and once it
 * recovers execution catches up with consensus. A short in-process control run
 * shows the same measurement does catch a driver that blocks the loop.
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { join } from "@std/path";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { recoverMarker, writeCountingDriver } from "../support/drivers.ts";

const WORLD = "world-1";
const NODE = "node-1";
const DRIVER = "busy";
const TICK_MS = 50;
const BUSY_MS = 300;

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-slow-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

/** Runs a node with the busy driver for `ticks` ticks; returns each tick's lateness. */
async function runSlowPhase(
  tmp: string,
  ticks: number,
  inProcess: boolean,
): Promise<{ lateness: number[]; node: NodeRuntime; data: string }> {
  const plugins = join(tmp, "plugins");
  const data = join(tmp, "data");
  await Deno.mkdir(plugins, { recursive: true });
  await writeCountingDriver(plugins, "busy.js", { name: DRIVER, busyMsPerHeight: BUSY_MS });
  const hook = await createExecutionHook({
    dataDir: data,
    nodeId: NODE,
    worldId: WORLD,
    driver: DRIVER,
    pluginsDir: plugins,
    durable: false,
    inProcess,
  });
  const node = new NodeRuntime(
    // Unbounded lag on purpose: this test measures tick cadence while execution trails.
    {
      nodeId: NODE,
      worldId: WORLD,
      dataDir: data,
      tickIntervalMs: TICK_MS,
      durable: false,
      maxExecutionLag: 1_000_000,
    },
    { executionHook: hook },
  );
  const lateness: number[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => done = resolve);
  node.events.on("tick", (t) => {
    if (lateness.length < ticks) lateness.push(t.latenessMs);
    if (lateness.length === ticks) done();
  });
  await node.start();
  await finished;
  return { lateness, node, data };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("a 300 ms/height driver in a Worker does not delay ticks; execution catches up", async () => {
  await withTemp(async (tmp) => {
    const { lateness, node, data } = await runSlowPhase(tmp, 100, false);
    try {
      const during = node.snapshot().consensus;
      const worst = p99(lateness);
      console.log(
        `worker: 100 ticks at ${TICK_MS} ms, lateness p99 ${worst.toFixed(2)} ms, max ${
          Math.max(...lateness).toFixed(2)
        } ms; committed ${during.committedHeight}, executed ${during.lastExecutionHeight}`,
      );
      // The lateness figure is printed, not asserted: a loaded 2-core machine delays ticks
      // by itself (a p99 bound flaked at load 16). What a blocking driver would break, and
      // load cannot: commits kept their cadence while execution lagged far behind.
      assertGreater(during.committedHeight, 90);
      assert(
        during.lastExecutionHeight < during.committedHeight / 2,
        `execution ${during.lastExecutionHeight} should lag committed ${during.committedHeight}`,
      );
      assertGreater(during.lastExecutionHeight, 0);

      // The driver recovers; execution catches up while the node keeps committing.
      await Deno.writeFile(recoverMarker(data, DRIVER), new Uint8Array());
      await waitFor("execution to catch up", () => {
        const c = node.snapshot().consensus;
        return c.lastExecutionHeight >= during.committedHeight &&
          c.committedHeight - c.lastExecutionHeight <= 2;
      }, 30_000);
    } finally {
      await node.stop();
    }
    const after = node.snapshot().consensus;
    assertEquals(after.lastExecutionHeight, after.committedHeight);
    assert(after.lastExecutionBlockHash !== null);
    assertEquals(node.snapshot().lastError, null);
  });
});

Deno.test("control: the same driver in-process does delay ticks", async () => {
  await withTemp(async (tmp) => {
    const { lateness, node, data } = await runSlowPhase(tmp, 8, true);
    await Deno.writeFile(recoverMarker(data, DRIVER), new Uint8Array());
    await node.stop();
    const worst = p99(lateness);
    console.log(`in-process: 8 ticks, lateness p99 ${worst.toFixed(2)} ms`);
    assertGreater(worst, BUSY_MS / 2);
  });
});
