/**
 * The driver off the consensus thread: the bridge driver in a Worker gives the same
 * results (and record bytes) as the execution core run in-process; a hung driver
 * times out, is restarted and recovers; driver errors and crashes come back as
 * typed rejections.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { DriverError } from "../../src/driver/host.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { nodeDir } from "../../src/node/state_file.ts";
import { buildChain } from "../support/chain.ts";
import { contextOf, countingExpected, writeCountingDriver } from "../support/drivers.ts";

const WORLD = "world-1";
const NODE = "node-1";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-worker-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const actionsAt = (h: number) => [
  { kind: "register", agent: `agent-${h}` },
  { kind: "grant", agent: `agent-${h}`, resource: "wood", amount: h },
  ...(h > 1
    ? [{ kind: "transfer", from: `agent-${h}`, to: `agent-${h - 1}`, resource: "wood", amount: 1 }]
    : []),
  { kind: "move", agent: `agent-${h}`, dx: 1, dy: -1 },
];

async function listRecords(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, "execution", "records");
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("bridge driver in a Worker matches the in-process execution core", async () => {
  await withTemp(async (tmp) => {
    const viaWorker = join(tmp, "worker");
    const direct = join(tmp, "direct");
    const n = 6;
    const blocks = await buildChain(viaWorker, NODE, n, actionsAt);
    const directStore = new BlockStore(join(nodeDir(direct, NODE), "blocks"), { durable: false });
    for (const b of blocks) await directStore.put(b);

    const hook = await createExecutionHook({
      dataDir: viaWorker,
      nodeId: NODE,
      worldId: WORLD,
      durable: false,
    });
    const got = [];
    try {
      assertEquals(hook.driverName, "bridge");
      assertEquals((await hook.info!()).lastHeight, 0);
      for (const b of blocks) got.push(await hook.onCommit(contextOf(b, WORLD, NODE)));
      // An applied height again: its recorded result.
      assertEquals(await hook.onCommit(contextOf(blocks[2], WORLD, NODE)), got[2]);
      // The same height with another node block hash: the core's typed error, via the worker.
      const conflict = await assertRejects(
        () =>
          hook.onCommit({ ...contextOf(blocks[3], WORLD, NODE), nodeBlockHash: "ff".repeat(32) }),
        DriverError,
      );
      assertEquals(conflict.code, "CONFLICTING_BLOCK");
      const info = await hook.info!();
      assertEquals(info.lastHeight, n);
      assertEquals(info.lastNodeBlockHash, blocks[n - 1].hash);
      assertEquals(info.lastExecutionBlockHash, got[n - 1].executionBlockHash);
      assertEquals(hook.restarts, 0);
    } finally {
      await hook.close!();
    }

    const core = await ExecutionCore.open({
      dataDir: direct,
      worldId: WORLD,
      blocks: directStore,
      durable: false,
    });
    const want = [];
    try {
      for (const b of blocks) want.push(await core.executeThrough(contextOf(b, WORLD, NODE)));
    } finally {
      await core.close();
    }
    assertEquals(got.map((r) => r.executionHeight), [1, 2, 3, 4, 5, 6]);
    assertEquals(got, want);
    assertEquals(new Set(got.map((r) => r.executionBlockHash)).size, n);
    // Byte-identical records either way.
    const names = await listRecords(viaWorker);
    assertEquals(names, await listRecords(direct));
    assertEquals(names.length, n);
    for (const name of names) {
      const rel = join("execution", "records", name);
      assertEquals(
        await Deno.readFile(join(viaWorker, rel)),
        await Deno.readFile(join(direct, rel)),
      );
    }
  });
});

Deno.test("a driver that hangs is timed out, restarted, and recovers", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    await Deno.mkdir(plugins);
    await writeCountingDriver(plugins, "hang.js", { name: "hang-once", hangOnceAt: 3 });
    const blocks = await buildChain(data, NODE, 5, actionsAt);
    const expected = countingExpected(WORLD, blocks);
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "hang-once",
      pluginsDir: plugins,
      // Generous: heights 1 and 2 must fit in it on a loaded machine.
      heightTimeoutMs: 2_000,
      durable: false,
    });
    try {
      assertEquals(await hook.onCommit(contextOf(blocks[0], WORLD, NODE)), expected[0]);
      assertEquals(await hook.onCommit(contextOf(blocks[1], WORLD, NODE)), expected[1]);
      const started = performance.now();
      const err = await assertRejects(
        () => hook.onCommit(contextOf(blocks[2], WORLD, NODE)),
        DriverError,
      );
      const waited = performance.now() - started;
      assertEquals(err.code, "DRIVER_TIMEOUT");
      assertStringIncludes(err.message, "height 3");
      assertStringIncludes(err.message, "2000 ms");
      assert(waited >= 1_990, `rejected after ${waited} ms, before the budget`);
      assertEquals(hook.restarts, 1);
      // The restarted driver reopened its state from disk: height 2 applied.
      assertEquals((await hook.info!()).lastHeight, 2);
      // The node hands height 3 over again; this time it goes through.
      assertEquals(await hook.onCommit(contextOf(blocks[2], WORLD, NODE)), expected[2]);
      assertEquals(await hook.onCommit(contextOf(blocks[3], WORLD, NODE)), expected[3]);
      assertEquals(hook.restarts, 1);
    } finally {
      await hook.close!();
    }
  });
});

Deno.test("an uncaught error in the driver is reported and the worker restarted", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    await Deno.mkdir(plugins);
    await writeCountingDriver(plugins, "crash.js", { name: "crash-once", crashOnceAt: 2 });
    const blocks = await buildChain(data, NODE, 3);
    const expected = countingExpected(WORLD, blocks);
    const logged: string[] = [];
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "crash-once",
      pluginsDir: plugins,
      durable: false,
      logger: {
        debug() {},
        info() {},
        warn() {},
        error: (msg, fields) => logged.push(`${msg} ${JSON.stringify(fields)}`),
      },
    });
    try {
      assertEquals(await hook.onCommit(contextOf(blocks[0], WORLD, NODE)), expected[0]);
      const err = await assertRejects(
        () => hook.onCommit(contextOf(blocks[1], WORLD, NODE)),
        DriverError,
      );
      assertEquals(err.code, "DRIVER_CRASHED");
      assertStringIncludes(err.message, "driver crashed on purpose");
      assert(logged.some((l) => l.includes("crashed")), logged.join("\n"));
      assertEquals(hook.restarts, 1);
      assertEquals(await hook.onCommit(contextOf(blocks[1], WORLD, NODE)), expected[1]);
      assertEquals(await hook.onCommit(contextOf(blocks[2], WORLD, NODE)), expected[2]);
    } finally {
      await hook.close!();
    }
  });
});

Deno.test("an unknown driver fails at start with the loader's message", async () => {
  await withTemp(async (tmp) => {
    const err = await assertRejects(
      () => createExecutionHook({ dataDir: tmp, nodeId: NODE, worldId: WORLD, driver: "nope" }),
      DriverError,
    );
    assertEquals(err.code, "DRIVER_NOT_FOUND");
    assertStringIncludes(err.message, `no driver named "nope"`);
  });
});

Deno.test("a request that cannot be sent fails alone and leaves no timer to kill the worker", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    await Deno.mkdir(plugins);
    await writeCountingDriver(plugins, "counting.js", { name: "counting-js" });
    const blocks = await buildChain(data, NODE, 2);
    const budgetMs = 300;
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "counting-js",
      pluginsDir: plugins,
      heightTimeoutMs: budgetMs,
      durable: false,
    });
    try {
      // A function cannot be structured-cloned: postMessage throws.
      const bad = { ...contextOf(blocks[0], WORLD, NODE), actions: [{ kind: "x", f: () => 1 }] };
      const err = await assertRejects(
        () => hook.onCommit(bad as unknown as ReturnType<typeof contextOf>),
        DriverError,
      );
      assertEquals(err.code, "DRIVER_BAD_REQUEST");
      // Well past the budget: a leftover timer would have terminated the worker.
      await new Promise((r) => setTimeout(r, budgetMs * 3));
      assertEquals(hook.restarts, 0);
      assertEquals((await hook.info!()).lastHeight, 0);
      assertEquals(hook.restarts, 0);
    } finally {
      await hook.close!();
    }
  });
});
