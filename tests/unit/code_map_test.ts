// The README's code map, enforced: each src/ folder imports only the folders its
// line allows, and src/ has no bare specifier (so mod.ts imports from any project).
import { assertEquals } from "@std/assert";
import { dirname, fromFileUrl, join, relative, resolve } from "@std/path";

const SRC = fromFileUrl(new URL("../../src/", import.meta.url));
// A folder name allows the whole folder; "folder/file.ts" allows that one file (the
// node's hook contract and committed-block reader, not its internals).
const NODE_CONTRACT = ["node/execution_hook.ts", "node/block_store.ts"];
const ALLOWED: Record<string, string[]> = {
  std: [],
  storage: ["std"],
  consensus: ["storage"],
  world: ["storage"],
  state: ["world", "storage"],
  node: ["consensus", "storage", "std"],
  execution: ["consensus", ...NODE_CONTRACT, "state", "world", "storage", "std"],
  driver: [...NODE_CONTRACT, "execution", "state", "storage", "std"],
  sim: ["consensus", "storage"],
  live: ["consensus", "driver", "execution", "state", "node", "world", "storage", "std", "net"],
  net: ["consensus", "node", "storage", "std"],
  cli: [
    "consensus",
    "driver",
    "execution",
    "state",
    "node",
    "world",
    "storage",
    "std",
    "live",
    "sim",
    "net",
  ],
};

/** Every .ts file below `dir` (subfolders included), as paths. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...tsFiles(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

Deno.test("code map: folders import only what the README allows; no bare specifiers in src/", () => {
  const wrong: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const file of tsFiles(join(SRC, folder))) {
      const name = relative(SRC, file);
      const text = Deno.readTextFileSync(file);
      for (const m of text.matchAll(/^(?:import|export)[^"']*from\s+"([^"]+)";/gm)) {
        const spec = m[1];
        if (spec.startsWith(".")) {
          // The top-level src/ folder the import lands in (or "" for src/ itself).
          const target = relative(SRC, resolve(dirname(file), spec)).split(/[\\/]/);
          const top = target.length > 1 ? target[0] : "";
          const landed = target.join("/");
          const ok = top === "" || top === folder || allowed.includes(top) ||
            allowed.includes(landed);
          if (!ok) {
            wrong.push(`${name} imports ${spec}`);
          }
        }
        const bare = !spec.startsWith(".") && !spec.startsWith("npm:") && !spec.startsWith("node:");
        if (bare) wrong.push(`${name} has the bare specifier ${spec}`);
      }
    }
  }
  assertEquals(wrong, []);
});

Deno.test("code map: every src/ folder has a line (a new folder states what it may import)", () => {
  const folders = [...Deno.readDirSync(SRC)].filter((e) => e.isDirectory).map((e) => e.name);
  assertEquals(folders.sort(), Object.keys(ALLOWED).sort());
});
