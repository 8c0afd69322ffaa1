// The README's code map, enforced: each src/ folder imports only the folders its
// line allows, and src/ has no bare specifier (so mod.ts imports from any project).
import { assertEquals } from "@std/assert";
import { fromFileUrl, join } from "@std/path";

const SRC = fromFileUrl(new URL("../../src/", import.meta.url));
const ALLOWED: Record<string, string[]> = {
  std: [],
  storage: ["std"],
  consensus: ["storage"],
  world: ["storage"],
  node: ["consensus", "storage", "std"],
  execution: ["consensus", "node", "world", "storage", "std"],
  live: ["consensus", "execution", "node", "world", "storage", "std"],
  cli: ["consensus", "execution", "node", "world", "storage", "std", "live"],
};

Deno.test("code map: folders import only what the README allows; no bare specifiers in src/", () => {
  const wrong: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const e of Deno.readDirSync(join(SRC, folder))) {
      if (!e.name.endsWith(".ts")) continue;
      const text = Deno.readTextFileSync(join(SRC, folder, e.name));
      for (const m of text.matchAll(/^(?:import|export)[^"']*from\s+"([^"]+)";/gm)) {
        const spec = m[1];
        const up = /^\.\.\/([a-z_]+)\//.exec(spec);
        if (up && !allowed.includes(up[1])) wrong.push(`${folder}/${e.name} imports ${spec}`);
        const bare = !spec.startsWith(".") && !spec.startsWith("npm:") && !spec.startsWith("node:");
        if (bare) wrong.push(`${folder}/${e.name} has the bare specifier ${spec}`);
      }
    }
  }
  assertEquals(wrong, []);
});
