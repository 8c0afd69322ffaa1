import { assertEquals, assertNotEquals } from "@std/assert";
import { dirname, join } from "@std/path";
import { createExecutionHook } from "../../src/driver/create_hook.ts";
import { buildChain } from "../support/chain.ts";
import {
  contextOf,
  countingExpected,
  divergeMarker,
  writeCountingDriver,
} from "../support/drivers.ts";

const WORLD = "world-1";
const NODE = "node-1";

// The test hook for execution divergence: a drop-in driver whose roots differ from a
// height written in its data dir (nothing an operator's flags or env can trip).
Deno.test("divergeable test driver: roots equal the others' below diverge_at, differ from it on", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "awr-diverge-" });
  try {
    const plugins = join(tmp, "plugins");
    await Deno.mkdir(plugins);
    await writeCountingDriver(plugins, "counting.js", { name: "counting", divergeable: true });
    for (const divergeAt of [0, 3]) {
      const data = join(tmp, `data-${divergeAt}`);
      const blocks = await buildChain(data, NODE, 5, (h) => [{ kind: "register", agent: `a${h}` }]);
      if (divergeAt > 0) {
        await Deno.mkdir(dirname(divergeMarker(data, "counting")), { recursive: true });
        await Deno.writeTextFile(divergeMarker(data, "counting"), `${divergeAt}\n`);
      }
      const hook = await createExecutionHook({
        dataDir: data,
        nodeId: NODE,
        worldId: WORLD,
        driver: "counting",
        pluginsDir: plugins,
        durable: false,
        inProcess: true, // the sandboxed Worker is tested in plugins_test.ts
      });
      try {
        const expected = countingExpected(WORLD, blocks).map((r) => r.executionStateRoot);
        const got = [];
        for (const b of blocks) {
          got.push((await hook.onCommit(contextOf(b, WORLD, NODE))).executionStateRoot);
        }
        const same = divergeAt === 0 ? 5 : divergeAt - 1;
        assertEquals(got.slice(0, same), expected.slice(0, same));
        for (let i = same; i < 5; i++) assertNotEquals(got[i], expected[i], `height ${i + 1}`);
      } finally {
        await hook.close?.();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
