/**
 * Drop-in drivers are sandboxed: a hostile driver is denied the token, writes
 * outside its folder, programs and sockets (and says so through the hook error and
 * the node's error events) while the node keeps committing; a plugin cannot import
 * code from outside its folder; listing plugins runs no code with the node's
 * permissions; `--driver-allow` grants more.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { DriverError } from "../../src/driver/host.ts";
import { listDrivers } from "../../src/driver/loader.ts";
import {
  driverPermissions,
  MAX_DRIVER_ALLOW,
  MAX_PLUGIN_TREE_ENTRIES,
  parseDriverAllow,
  pluginReadPaths,
  SandboxError,
  workerSandboxAvailable,
} from "../../src/driver/sandbox.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { buildChain } from "../support/chain.ts";
import { awr } from "../support/cli.ts";
import { contextOf } from "../support/drivers.ts";
import { waitFor } from "../support/hooks.ts";

const WORLD = "world-1";
const NODE = "node-1";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-sandbox-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A hostile driver. The first attempt at height 1..4 tries one attack (read the
 * token, write outside, run a program, connect to `port`); the attack's error
 * escapes. A marker in its own folder makes the next attempt a plain, honest
 * execution, so the node can go on.
 */
function evilDriverSource(outside: string, port: number): string {
  return `
const ATTACKS = {
  1: (host) => Deno.readTextFile(host.dataDir + "/api_token"),
  2: () => Deno.writeTextFile(${JSON.stringify(outside)}, "pwned"),
  3: () => new Deno.Command("id").output(),
  4: async () => (await Deno.connect({ hostname: "127.0.0.1", port: ${port} })).close(),
};
export default {
  name: "evil",
  apiVersion: 1,
  async create(host) {
    const dir = host.dataDir + "/drivers/evil";
    await Deno.mkdir(dir, { recursive: true });
    const core = await host.openExecutionCore();
    return {
      async onCommit(ctx) {
        const attack = ATTACKS[ctx.height];
        const marker = dir + "/tried-" + ctx.height;
        if (attack) {
          let first = false;
          try { await Deno.stat(marker); } catch { first = true; }
          if (first) {
            await Deno.writeTextFile(marker, "");
            const loot = await attack(host);
            await Deno.writeTextFile(dir + "/loot-" + ctx.height, String(loot ?? "done"));
          }
        }
        return await core.executeThrough(ctx);
      },
      info: () => Promise.resolve(core.info()),
      close: () => core.close(),
    };
  },
};
`;
}

interface Evil {
  plugins: string;
  data: string;
  outside: string;
  listener: Deno.Listener;
  port: number;
}

async function withEvil(fn: (e: Evil) => Promise<void>): Promise<void> {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    const outside = join(tmp, "outside.txt");
    await Deno.mkdir(plugins);
    await Deno.mkdir(data);
    await Deno.writeTextFile(join(data, "api_token"), "secret-token\n");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    await Deno.writeTextFile(join(plugins, "evil.js"), evilDriverSource(outside, port));
    try {
      await fn({ plugins, data, outside, listener, port });
    } finally {
      listener.close();
    }
  });
}

Deno.test("sandbox: a drop-in is denied the token, writing outside, programs and sockets", async () => {
  await withEvil(async ({ plugins, data, outside }) => {
    const blocks = await buildChain(data, NODE, 5);
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "evil",
      pluginsDir: plugins,
      durable: false,
    });
    try {
      const denied = [
        `Requires read access to "${join(data, "api_token")}"`,
        `Requires write access to "${outside}"`,
        `Requires run access to "id"`,
        `Requires net access to "127.0.0.1:`,
      ];
      for (let h = 1; h <= 4; h++) {
        const ctx = contextOf(blocks[h - 1], WORLD, NODE);
        const err = await assertRejects(() => hook.onCommit(ctx), DriverError);
        assertStringIncludes(err.message, denied[h - 1]);
        // The next attempt executes honestly: the denial did not break the driver.
        assertEquals((await hook.onCommit(ctx)).executionHeight, h);
      }
      assertEquals(hook.restarts, 0);
    } finally {
      await hook.close!();
    }
    assertEquals(await exists(outside), false);
    for (let h = 1; h <= 4; h++) {
      assertEquals(await exists(join(data, "drivers", "evil", `loot-${h}`)), false);
    }
  });
});

Deno.test("sandbox: the node keeps committing while a drop-in's attacks are denied", async () => {
  await withEvil(async ({ plugins, data, outside }) => {
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "evil",
      pluginsDir: plugins,
      durable: false,
    });
    const node = new NodeRuntime(
      { nodeId: NODE, worldId: WORLD, dataDir: data, tickIntervalMs: 10, durable: false },
      { executionHook: hook },
    );
    const errors: string[] = [];
    const off = node.events.on("error", (e) => errors.push(e.message));
    await node.start();
    const done = await waitFor(() => node.snapshot().consensus.lastExecutionHeight >= 6, 30_000);
    await node.stop();
    off();
    assert(done, `execution did not reach height 6: ${JSON.stringify(node.snapshot().consensus)}`);
    const all = errors.join("\n");
    for (const needle of ["api_token", outside, `run access to "id"`, "net access"]) {
      assertStringIncludes(all, needle);
    }
    assertEquals(await exists(outside), false);
  });
});

Deno.test("sandbox: --driver-allow net lets the driver open its socket", async () => {
  await withEvil(async ({ plugins, data, listener, port }) => {
    const blocks = await buildChain(data, NODE, 4);
    const hook = await createExecutionHook({
      dataDir: data,
      nodeId: NODE,
      worldId: WORLD,
      driver: "evil",
      pluginsDir: plugins,
      durable: false,
      driverAllow: parseDriverAllow([`net=127.0.0.1:${port}`, "read", "run=id"]),
    });
    try {
      const accepted = listener.accept();
      for (let h = 1; h <= 4; h++) {
        if (h === 2) {
          // write was not granted: still denied.
          const ctx = contextOf(blocks[1], WORLD, NODE);
          await assertRejects(() => hook.onCommit(ctx), DriverError, "Requires write access");
        }
        assertEquals(
          (await hook.onCommit(contextOf(blocks[h - 1], WORLD, NODE))).executionHeight,
          h,
        );
      }
      (await accepted).close();
      // Granted reads and programs happened (token read, `id` ran).
      const loot = await Deno.readTextFile(join(data, "drivers", "evil", "loot-1"));
      assertEquals(loot, "secret-token\n");
      assert(await exists(join(data, "drivers", "evil", "loot-3")));
      assert(await exists(join(data, "drivers", "evil", "loot-4")));
    } finally {
      await hook.close!();
    }
  });
});

Deno.test("sandbox: a plugin re-exporting code from outside its folder is refused", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const outsideDir = join(tmp, "outside");
    const marker = join(tmp, "outside-ran");
    await Deno.mkdir(plugins);
    await Deno.mkdir(outsideDir);
    await Deno.writeTextFile(
      join(outsideDir, "evil.js"),
      `Deno.writeTextFileSync(${JSON.stringify(marker)}, "ran");\n` +
        `export default { name: "outsider", apiVersion: 1, create() { return {}; } };\n`,
    );
    await Deno.writeTextFile(
      join(plugins, "reexport.js"),
      `export { default } from "../outside/evil.js";\n`,
    );
    await Deno.writeTextFile(
      join(plugins, "dynamic.js"),
      `const m = await import("../outside/evil.js");\nexport default m.default;\n`,
    );
    // A symlink out of the folder, imported by a plugin that is itself inside.
    await Deno.symlink(join(outsideDir, "evil.js"), join(plugins, "link.js"));
    await Deno.writeTextFile(
      join(plugins, "via-link.js"),
      `export { default } from "./link.js";\n`,
    );
    const catalog = await listDrivers({ pluginsDir: plugins });
    assertEquals(catalog.drivers.map((d) => d.name), ["bridge"]);
    assertEquals(
      catalog.problems.map((p) => [p.file.slice(plugins.length + 1), p.code]).sort(),
      [
        ["dynamic.js", "PLUGIN_OUTSIDE_FOLDER"],
        ["link.js", "PLUGIN_OUTSIDE_FOLDER"],
        ["reexport.js", "PLUGIN_OUTSIDE_FOLDER"],
        ["via-link.js", "PLUGIN_OUTSIDE_FOLDER"],
      ],
    );
    for (const p of catalog.problems.filter((p) => !p.file.endsWith("link.js"))) {
      assertStringIncludes(p.message, join(outsideDir, "evil.js"));
    }
    const viaLink = catalog.problems.find((p) => p.file.endsWith("via-link.js"))!;
    assertStringIncludes(viaLink.message, `imports ${join(plugins, "link.js")}`);
    const err = await assertRejects(
      () =>
        createExecutionHook({
          dataDir: join(tmp, "data"),
          nodeId: NODE,
          worldId: WORLD,
          driver: "outsider",
          pluginsDir: plugins,
        }),
      DriverError,
    );
    assertEquals(err.code, "DRIVER_NOT_FOUND");
    assertStringIncludes(err.message, "outside its folder");
    assertEquals(await exists(marker), false);
  });
});

Deno.test("sandbox: awr drivers list runs no plugin code with the node's permissions", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    const data = join(tmp, "data");
    const pwned = join(tmp, "pwned");
    await Deno.mkdir(plugins);
    await Deno.mkdir(data);
    await Deno.writeTextFile(join(data, "api_token"), "secret-token\n");
    // Top-level code that writes a file: the import fails, nothing is written.
    await Deno.writeTextFile(
      join(plugins, "writer.js"),
      `Deno.writeTextFileSync(${JSON.stringify(pwned)}, "x");\n` +
        `export default { name: "writer", apiVersion: 1, create() { return {}; } };\n`,
    );
    // Top-level code that hides its failures: listed, but it read and wrote nothing.
    await Deno.writeTextFile(
      join(plugins, "quiet.js"),
      `let stolen = "";\n` +
        `try { stolen = Deno.readTextFileSync(${
          JSON.stringify(join(data, "api_token"))
        }); } catch { /* denied */ }\n` +
        `try { Deno.writeTextFileSync(${
          JSON.stringify(pwned)
        }, stolen || "tried"); } catch { /* denied */ }\n` +
        `export default { name: "quiet", apiVersion: 1, create() { return {}; } };\n`,
    );
    const run = await awr("drivers", "list", "--plugins-dir", plugins, "--json");
    assertEquals(run.code, 0, run.err);
    const json = JSON.parse(run.out) as {
      drivers: { name: string }[];
      problems: { code: string; message: string }[];
    };
    assertEquals(json.drivers.map((d) => d.name), ["bridge", "quiet"]);
    assertEquals(json.problems.map((p) => p.code), ["PLUGIN_IMPORT_FAILED"]);
    assertStringIncludes(json.problems[0].message, "Requires write access");
    assertEquals(await exists(pwned), false);
  });
});

Deno.test("sandbox: a plugin importing an npm: package is refused before it runs", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    await Deno.mkdir(plugins);
    // Not a dependency of awr. (A computed specifier is covered in tests/full: the
    // frozen lockfile refuses it, but that leaves the test process unable to load more.)
    await Deno.writeTextFile(
      join(plugins, "literal.js"),
      `import lp from "npm:left-pad@1.3.0";\n` +
        `export default { name: "lit", apiVersion: 1, create: () => lp };\n`,
    );
    const catalog = await listDrivers({ pluginsDir: plugins });
    assertEquals(catalog.drivers.map((d) => d.name), ["bridge"]);
    assertEquals(catalog.problems.map((p) => p.code), ["PLUGIN_IMPORT_FAILED"]);
    assertStringIncludes(catalog.problems[0].message, "imports an npm: package");
  });
});

Deno.test("sandbox: plugin inspection is bounded in time, files and folder size", async () => {
  await withTemp(async (tmp) => {
    const plugins = join(tmp, "plugins");
    await Deno.mkdir(plugins);
    const valid = (n: string) => `export default { name: "${n}", apiVersion: 1, create() {} };\n`;
    await Deno.writeTextFile(join(plugins, "a.js"), valid("a"));
    await Deno.writeTextFile(join(plugins, "b.js"), valid("b"));
    // Top-level code that never finishes loading.
    await Deno.writeTextFile(join(plugins, "c.js"), `await new Promise(() => {});\n${valid("c")}`);
    const catalog = await listDrivers({ pluginsDir: plugins, probeTimeoutMs: 2_000 });
    assertEquals(catalog.drivers.map((d) => d.name), ["bridge", "a", "b"]);
    assertEquals(catalog.problems.map((p) => p.code), ["PLUGIN_IMPORT_FAILED"]);
    assertStringIncludes(catalog.problems[0].message, "did not load within 2000 ms");
    const capped = await listDrivers({ pluginsDir: plugins, maxPluginFiles: 2 });
    assertEquals(capped.drivers.map((d) => d.name), ["bridge", "a", "b"]);
    assertEquals(capped.problems.map((p) => p.code), ["PLUGIN_TOO_MANY"]);
    assertEquals(capped.problems[0].file, join(plugins, "c.js"));

    const big = join(tmp, "big");
    await Deno.mkdir(big);
    for (let i = 0; i < MAX_PLUGIN_TREE_ENTRIES; i += 512) {
      await Promise.all(
        Array.from(
          { length: 512 },
          (_, j) => Deno.writeFile(join(big, `f${i + j}`), new Uint8Array()),
        ),
      );
    }
    assertEquals((await pluginReadPaths(big)).length, MAX_PLUGIN_TREE_ENTRIES);
    await Deno.writeFile(join(big, "one-more.txt"), new Uint8Array());
    const e = await assertRejects(() => pluginReadPaths(big), SandboxError);
    assertEquals(e.code, "PLUGIN_TREE_TOO_BIG");
  });
});

Deno.test("sandbox: --driver-allow parsing, its bound, and the default permissions", () => {
  assertEquals(parseDriverAllow([]), {});
  assertEquals(parseDriverAllow(["net,env"]), { net: true, env: true });
  assertEquals(parseDriverAllow(["net=127.0.0.1:9000,example.com", "net=a:1"]), {
    net: ["127.0.0.1:9000", "example.com", "a:1"],
  });
  assertEquals(parseDriverAllow(["env=HOME", "env"]), { env: true });
  for (const bad of ["disk", "net=", "net,,env"]) {
    const e = assertThrows(() => parseDriverAllow([bad]), SandboxError);
    assertEquals(e.code, "BAD_DRIVER_ALLOW");
    assertStringIncludes(e.message, "--driver-allow");
  }
  assertEquals(Object.keys(parseDriverAllow(Array(MAX_DRIVER_ALLOW).fill("net"))), ["net"]);
  assertThrows(() => parseDriverAllow(Array(MAX_DRIVER_ALLOW + 1).fill("net")), SandboxError);

  const p = driverPermissions({
    pluginFiles: ["/p/x.js"],
    dataDir: "/d",
    nodeId: "n",
    driverName: "x",
  });
  assertEquals(p.read, ["/p/x.js", "/d/node/n/blocks", "/d/execution", "/d/store", "/d/drivers/x"]);
  assertEquals(p.write, ["/d/execution", "/d/store", "/d/drivers/x"]);
  assertEquals([p.net, p.run, p.ffi, p.sys, p.import], [false, false, false, false, false]);
  assertEquals(p.env, ["CBOR_NATIVE_ACCELERATION_DISABLED"]);
  const g = driverPermissions({
    pluginFiles: ["/p/x.js"],
    dataDir: "/d",
    nodeId: "n",
    driverName: "x",
    grants: { net: ["h:1"], write: ["/w"], env: true },
  });
  assertEquals([g.net, g.env], [["h:1"], true]);
  assertEquals(g.write, ["/d/execution", "/d/store", "/d/drivers/x", "/w"]);
});

Deno.test("sandbox: awr live refuses a bad --driver-allow (exit 2) before touching the data dir", async () => {
  await withTemp(async (tmp) => {
    const data = join(tmp, "data");
    const run = await awr("live", "--data-dir", data, "--http", "off", "--driver-allow", "disk");
    assertEquals(run.code, 2);
    assertStringIncludes(run.err, `--driver-allow "disk"`);
    assertEquals(await exists(data), false);
  });
});

Deno.test("sandbox: a missing --unstable-worker-options is detected before Deno would exit", () => {
  const rt = (cmdline: string[] | null, configText: string | null = null) => ({
    standalone: false,
    cmdline,
    configText,
  });
  assertEquals(workerSandboxAvailable(rt(["deno", "run", "-A", "mod.ts"])), false);
  assertEquals(
    workerSandboxAvailable(rt(["deno", "run", "-A", "--unstable-worker-options", "mod.ts"])),
    true,
  );
  const config = `{ "unstable": ["worker-options"] }`;
  assertEquals(workerSandboxAvailable(rt(["deno", "test", "-A"], config)), true);
  assertEquals(workerSandboxAvailable(rt(["deno", "run", "--no-config", "m.ts"], config)), false);
  assertEquals(workerSandboxAvailable(rt(null)), true);
  assertEquals(workerSandboxAvailable({ standalone: true, cmdline: [], configText: null }), true);
});
