/**
 * A drop-in whose top-level code imports an npm package by a computed specifier
 * cannot make `awr drivers list` install it: deno.json freezes the lockfile, so the
 * import fails and deno.lock and node_modules stay as they were. A separate process,
 * because a refused import leaves that process's module loader unusable.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";

const ROOT = new URL("../../", import.meta.url);
const PKG = "left-pad@1.3.0"; // not a dependency of awr

Deno.test("drivers list: a computed npm: import installs nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "awr-npm-" });
  try {
    await Deno.writeTextFile(
      join(tmp, "computed.js"),
      `const m = await import(["np", "m:${PKG}"].join(""));\n` +
        `export default { name: "comp", apiVersion: 1, create: () => m };\n`,
    );
    const lockUrl = new URL("deno.lock", ROOT);
    const lock = await Deno.readTextFile(lockUrl);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-worker-options",
        "mod.ts",
        "drivers",
        "list",
        "--plugins-dir",
        tmp,
        "--json",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const json = JSON.parse(text) as {
      drivers: { name: string }[];
      problems: { message: string }[];
    };
    assertEquals(json.drivers.map((d) => d.name), ["bridge"]);
    assertStringIncludes(json.problems[0].message, "lockfile");
    assertEquals(await Deno.readTextFile(lockUrl), lock);
    let installed = true;
    await Deno.lstat(new URL(`node_modules/.deno/${PKG}`, ROOT)).catch(() => (installed = false));
    assertEquals(installed, false);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
