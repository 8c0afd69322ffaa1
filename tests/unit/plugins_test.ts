/**
 * Driver plugins: the embedded bridge driver, drop-ins in .js and .ts that import
 * nothing from this repo, and each way a plugin file is refused.
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { Command } from "commander";
import { registerDriversCommands } from "../../src/cli/drivers.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { listDrivers, loadDriver, PluginError } from "../../src/driver/loader.ts";
import { DRIVER_API_VERSION } from "../../src/driver/plugin.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { buildChain } from "../support/chain.ts";
import { contextOf, countingExpected, writeCountingDriver } from "../support/drivers.ts";
import { waitFor } from "../support/hooks.ts";

const WORLD = "world-1";
const NODE = "node-1";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-plugins-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function captureIo(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), isTerminal: false };
}

Deno.test("the embedded bridge driver is listed once and loads", async () => {
  // Under `deno test` the default drop-in folder is the embedded folder itself.
  const catalog = await listDrivers();
  const bridges = catalog.drivers.filter((d) => d.name === "bridge");
  assertEquals(bridges.length, 1);
  assertEquals(bridges[0].source, "embedded");
  assertEquals(bridges[0].apiVersion, DRIVER_API_VERSION);
  assert(bridges[0].file.endsWith(join("plugins", "bridge-driver.ts")), bridges[0].file);
  assertEquals(catalog.dropInDir, null);
  assertEquals(catalog.problems, []);
  const { plugin, listing } = await loadDriver("bridge");
  assertEquals(plugin.name, "bridge");
  assertEquals(plugin.apiVersion, 1);
  assertEquals(typeof plugin.create, "function");
  assertEquals(listing.source, "embedded");
});

Deno.test("drop-in drivers in .js and .ts are listed and execute heights", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    await Deno.mkdir(plugins);
    await writeCountingDriver(plugins, "counting.js", { name: "counting-js" });
    await writeCountingDriver(plugins, "counting.ts", { name: "counting-ts", ts: true });
    const catalog = await listDrivers({ pluginsDir: plugins });
    assertEquals(catalog.problems, []);
    assertEquals(
      catalog.drivers.map((d) => [d.name, d.source]),
      [["bridge", "embedded"], ["counting-js", "drop-in"], ["counting-ts", "drop-in"]],
    );
    const blocks = await buildChain(
      data,
      NODE,
      5,
      (h) => Array.from({ length: h }, (_, i) => ({ kind: "register", agent: `a${h}-${i}` })),
    );
    const expected = countingExpected(WORLD, blocks);
    for (const [driver, inProcess] of [["counting-js", false], ["counting-ts", true]] as const) {
      const hook = await createExecutionHook({
        dataDir: data,
        nodeId: NODE,
        worldId: WORLD,
        driver,
        pluginsDir: plugins,
        durable: false,
        inProcess,
      });
      try {
        assertEquals(hook.driverName, driver);
        assertEquals((await hook.info!()).lastHeight, 0);
        const got = [];
        for (const b of blocks.slice(0, 3)) {
          got.push(await hook.onCommit(contextOf(b, WORLD, NODE)));
        }
        // A jump from 3 to 5: the driver reads block 4 through host.blocks.
        got.push(await hook.onCommit(contextOf(blocks[4], WORLD, NODE)));
        assertEquals(got, [...expected.slice(0, 3), expected[4]]);
        const info = await hook.info!();
        assertEquals(info.lastHeight, 5);
        assertEquals(info.lastNodeBlockHash, blocks[4].hash);
        assertEquals(info.lastExecutionBlockHash, expected[4].executionBlockHash);
      } finally {
        await hook.close!();
      }
      // Its own state file, written through host.cbor.
      const stat = await Deno.stat(join(data, "drivers", driver, "state.cbor"));
      assert(stat.isFile);
    }
  });
});

Deno.test("a drop-in driver drives a node (in its Worker)", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    await Deno.mkdir(plugins);
    await writeCountingDriver(plugins, "counting.js", { name: "counting-js" });
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "counting-js",
      pluginsDir: plugins,
      durable: false,
    });
    const node = new NodeRuntime(
      { nodeId: NODE, worldId: WORLD, dataDir: data, tickIntervalMs: 10, durable: false },
      { executionHook: hook },
    );
    await node.start();
    await node.submitActions([{ kind: "register", agent: "ada" }, {
      kind: "register",
      agent: "bob",
    }]);
    // Wait for progress, not for a fixed time: a loaded machine commits slower.
    const moved = await waitFor(() => node.snapshot().consensus.lastExecutionHeight > 3, 30_000);
    await node.stop();
    assert(moved, "the node did not execute 4 heights within 30 s");
    const c = node.snapshot().consensus;
    assertGreater(c.committedHeight, 3);
    assertEquals(c.lastExecutionHeight, c.committedHeight);
    const blocks = [];
    for (let h = 1; h <= c.committedHeight; h++) blocks.push((await node.blocks.getBlock(h))!);
    const expected = countingExpected(WORLD, blocks);
    assertEquals(c.lastExecutionBlockHash, expected[expected.length - 1].executionBlockHash);
    assertEquals(c.lastExecutionStateRoot, expected[expected.length - 1].executionStateRoot);
  });
});

async function writeBrokenPlugins(plugins: string, outside: string): Promise<void> {
  const write = (name: string, text: string) => Deno.writeTextFile(join(plugins, name), text);
  await write("no-default.js", "export const name = 'nameless';\n");
  await write(
    "old-api.js",
    "export default { name: 'old', apiVersion: 2, create() { return {}; } };\n",
  );
  await write("no-create.js", "export default { name: 'lazy', apiVersion: 1 };\n");
  await write("syntax.js", "export default { name: 'oops', apiVersion: 1,, };\n");
  await writeCountingDriver(plugins, "twin-a.js", { name: "twin" });
  await writeCountingDriver(plugins, "twin-b.mjs", { name: "twin" });
  await writeCountingDriver(plugins, "fake-bridge.js", { name: "bridge" });
  await writeCountingDriver(outside, "escape.js", { name: "escape" });
  await Deno.symlink(join(outside, "escape.js"), join(plugins, "escape.js"));
  await writeCountingDriver(plugins, "good.js", { name: "good" });
  // Not a candidate at all: wrong extension.
  await write("notes.txt", "not a plugin");
}

Deno.test("broken plugins are refused, each with a clear message", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const outside = join(tmp, "outside");
    await Deno.mkdir(plugins);
    await Deno.mkdir(outside);
    await writeBrokenPlugins(plugins, outside);
    const realPlugins = await Deno.realPath(plugins);
    const catalog = await listDrivers({ pluginsDir: plugins });
    assertEquals(catalog.drivers.map((d) => d.name), ["bridge", "good"]);
    assertEquals(catalog.drivers[0].source, "embedded");
    const byFile = new Map<string, { code: string; message: string }[]>();
    for (const p of catalog.problems) {
      const key = p.file.slice(realPlugins.length + 1);
      byFile.set(key, [...byFile.get(key) ?? [], p]);
    }
    const one = (file: string, code: string) => {
      const list = byFile.get(file);
      assert(list && list.length === 1, `one problem for ${file}: ${JSON.stringify(list)}`);
      assertEquals(list[0].code, code);
      assertStringIncludes(list[0].message, file);
      return list[0].message;
    };
    assertStringIncludes(one("no-default.js", "PLUGIN_NO_DEFAULT_EXPORT"), "no default export");
    const api = one("old-api.js", "PLUGIN_API_VERSION");
    assertStringIncludes(api, "apiVersion 2");
    assertStringIncludes(api, "supports apiVersion 1");
    assertStringIncludes(one("no-create.js", "PLUGIN_BAD_SHAPE"), "create(host)");
    assertStringIncludes(one("syntax.js", "PLUGIN_IMPORT_FAILED"), "cannot import");
    const escape = one("escape.js", "PLUGIN_OUTSIDE_FOLDER");
    assertStringIncludes(escape, await Deno.realPath(join(outside, "escape.js")));
    assertStringIncludes(escape, "outside the plugins folder");
    // Two drop-ins with one name: both refused, each naming the other.
    assertStringIncludes(one("twin-a.js", "PLUGIN_DUPLICATE_NAME"), "twin-b.mjs");
    assertStringIncludes(one("twin-b.mjs", "PLUGIN_DUPLICATE_NAME"), "twin-a.js");
    // A drop-in claiming an embedded name: the embedded driver wins.
    const fake = one("fake-bridge.js", "PLUGIN_DUPLICATE_NAME");
    assertStringIncludes(fake, "bridge-driver.ts");
    assertStringIncludes(fake, "is used");
    assertEquals(byFile.has("notes.txt"), false);
    assertEquals(catalog.problems.length, 8);

    const dup = await assertRejects(() => loadDriver("twin", { pluginsDir: plugins }), PluginError);
    assertEquals(dup.code, "PLUGIN_DUPLICATE_NAME");
    const missing = await assertRejects(
      () => loadDriver("nope", { pluginsDir: plugins }),
      PluginError,
    );
    assertEquals(missing.code, "DRIVER_NOT_FOUND");
    assertStringIncludes(missing.message, "available: bridge, good");
    assertStringIncludes(missing.message, "syntax.js");
    assertEquals((await loadDriver("bridge", { pluginsDir: plugins })).listing.source, "embedded");
    const absent = await assertRejects(
      () => listDrivers({ pluginsDir: join(tmp, "absent") }),
      PluginError,
    );
    assertEquals(absent.code, "PLUGINS_DIR_MISSING");
  });
});

Deno.test("awr drivers list prints drivers and refused files, exit 0", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const outside = join(tmp, "outside");
    await Deno.mkdir(plugins);
    await Deno.mkdir(outside);
    await writeBrokenPlugins(plugins, outside);
    const run = async (args: string[]) => {
      const io = captureIo();
      const program = new Command().exitOverride();
      registerDriversCommands(program, io);
      await program.parseAsync(["drivers", "list", "--plugins-dir", plugins, ...args], {
        from: "user",
      });
      return io.lines.join("\n");
    };
    const text = await run([]);
    assertStringIncludes(text, "NAME");
    assert(/^bridge\s+1\s+embedded\s/m.test(text), text);
    assert(/^good\s+1\s+drop-in\s/m.test(text), text);
    assertStringIncludes(text, "8 plugin file(s) refused");
    assertStringIncludes(text, "[PLUGIN_API_VERSION]");
    const json = JSON.parse(await run(["--json"]));
    assertEquals(json.drivers.map((d: { name: string }) => d.name), ["bridge", "good"]);
    assertEquals(json.drivers[1].api_version, 1);
    assertEquals(json.problems.length, 8);
    assertEquals(json.drop_in_dir, plugins);
  });
});

Deno.test("compiled-binary paths: drop-ins default to plugins/ beside the binary; a .ts that cannot load says what to do", async () => {
  const root = await Deno.makeTempDir({ prefix: "awr-standalone-" });
  try {
    const bin = join(root, "bin");
    const pluginsDir = join(bin, "plugins");
    await Deno.mkdir(pluginsDir, { recursive: true });
    await writeCountingDriver(pluginsDir, "counter.js", { name: "counter" });
    await Deno.writeTextFile(
      join(pluginsDir, "broken.ts"),
      "export default { name: 'x', apiVersion: 1,, };\n",
    );
    const runtime = { standalone: true, execPath: join(bin, "awr") };
    const catalog = await listDrivers({ runtime });
    assertEquals(catalog.dropInDir, await Deno.realPath(pluginsDir));
    const names = catalog.drivers.map((d) => `${d.name}:${d.source}`).sort();
    assertEquals(names, ["bridge:embedded", "counter:drop-in"]);
    const broken = catalog.problems.find((p) => p.file.endsWith("broken.ts"));
    assertEquals(broken?.code, "PLUGIN_IMPORT_FAILED");
    assertStringIncludes(broken!.message, "compile the driver to .js");
    const loaded = await loadDriver("counter", { runtime });
    assertEquals(loaded.listing.source, "drop-in");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
