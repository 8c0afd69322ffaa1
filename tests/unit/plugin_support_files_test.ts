// Plugin folders may hold support files: only top-level .ts/.js/.mjs files whose
// names start with neither "." nor "_" (and are not *.d.ts) are taken for plugins.
import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { isPluginFileName, listDrivers } from "../../src/driver/loader.ts";

Deno.test("isPluginFileName: the support-file rule", () => {
  const yes = ["echo.js", "echo.ts", "echo.mjs", "Echo.TS"];
  const no = [
    "_plugin.ts",
    "_util.js",
    ".hidden.js",
    "types.d.ts",
    "x.d.mts",
    "notes.txt",
    "a.json",
  ];
  assertEquals(yes.filter(isPluginFileName), yes);
  assertEquals(no.filter(isPluginFileName), []);
});

Deno.test("a plugin folder with a contract copy, helpers and a types/ folder lists one driver and no problem; the driver imports its helpers in the sandbox", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "awr-support-" });
  const plugins = join(tmp, "plugins");
  const dataDir = join(tmp, "data");
  try {
    await Deno.mkdir(join(plugins, "types"), { recursive: true });
    // The README's advice: copy the contract beside the driver as _plugin.ts.
    await Deno.copyFile(
      new URL("../../src/driver/plugin.ts", import.meta.url),
      join(plugins, "_plugin.ts"),
    );
    await Deno.copyFile(
      new URL("../../src/driver/plugin.ts", import.meta.url),
      join(plugins, "types", "plugin.ts"),
    );
    await Deno.writeTextFile(join(plugins, "extra.d.ts"), "export type Extra = number;\n");
    await Deno.writeTextFile(
      join(plugins, "_hash.js"),
      "export const tag = (h, hash) => 'sup-' + h + '-' + hash.slice(0, 8);\n",
    );
    await Deno.writeTextFile(
      join(plugins, "support.ts"),
      `import type { DriverPlugin } from "./_plugin.ts";
import type { DriverInfo } from "./types/plugin.ts";
import { tag } from "./_hash.js";
const none: DriverInfo | null = null;
const plugin: DriverPlugin = {
  name: "support",
  apiVersion: 1,
  create: () => ({
    onCommit: (ctx) =>
      Promise.resolve({
        executionHeight: ctx.height,
        executionBlockHash: tag(ctx.height, ctx.nodeBlockHash) + String(none),
        executionStateRoot: "root",
      }),
  }),
};
export default plugin;
`,
    );
    const catalog = await listDrivers({ pluginsDir: plugins });
    assertEquals(catalog.problems, []);
    assertEquals(catalog.drivers.map((d) => d.name).sort(), ["bridge", "support"]);

    const hook = await createExecutionHook({
      dataDir,
      nodeId: "n1",
      worldId: "w1",
      driver: "support",
      pluginsDir: plugins,
      durable: false,
    });
    try {
      const r = await hook.onCommit({
        worldId: "w1",
        nodeId: "n1",
        height: 1,
        slot: 1,
        epoch: 0,
        nodeBlockHash: "abcdef0123456789",
        committedAtUnixMs: 0,
        actions: [],
      });
      assertEquals(r.executionBlockHash, "sup-1-abcdef01null");
      assertEquals(hook.capabilities, []);
    } finally {
      await hook.close?.();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
