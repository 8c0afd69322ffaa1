import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";

const SCRIPT = fromFileUrl(new URL("../support/crash_node.ts", import.meta.url));

async function run(args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("killed after a commit is persisted but before the hook ran: restart executes the missing heights first", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-crash-" });
  try {
    const K = 5;
    const killed = await run([dataDir, "kill-at", String(K)]);
    assertEquals(killed.signal, "SIGKILL", new TextDecoder().decode(killed.stderr));
    const state = (await readNodeState(nodeStatePath(dataDir, "node-1")))!.value;
    assertGreaterOrEqual(state.committedHeight, K, "commit K was persisted before the hook ran");
    const hookState = JSON.parse(await Deno.readTextFile(`${dataDir}/hook_state.json`));
    assertEquals(hookState.lastHeight, K - 1, "the hook never applied K");

    const second = await run([dataDir, "run", String(state.committedHeight + 3)]);
    assertEquals(second.code, 0, new TextDecoder().decode(second.stderr));
    const out = JSON.parse(new TextDecoder().decode(second.stdout));
    const all: string[] = out.log;
    // The state file's height, or one more: a block file written before the kill but
    // after the last state write is adopted at start-up (README "adopted as committed").
    const atStart: number = out.committedAtStart;
    assert(
      atStart === state.committedHeight || atStart === state.committedHeight + 1,
      `committed at start ${atStart}, state file ${state.committedHeight}`,
    );
    console.log(`committed at start ${atStart}, state file ${state.committedHeight}`);
    // The adopted block's commit event (at start) is not a new commit.
    const log = all.filter((e) => !(e.startsWith("commit:") && Number(e.slice(7)) <= atStart));
    // The missing heights K..committed come first, before any new commit.
    const missing = Array.from(
      { length: atStart - K + 1 },
      (_, i) => `exec:${K + i}`,
    );
    assertEquals(log.slice(0, missing.length), missing);
    const firstCommit = log.findIndex((e) => e.startsWith("commit:"));
    assert(firstCommit === -1 || firstCommit >= missing.length);
    // And after that, every height exactly once, in order.
    const execs = log.filter((e) => e.startsWith("exec:")).map((e) => Number(e.slice(5)));
    execs.forEach((h, i) => assertEquals(h, K + i));
    assertEquals(
      out.snapshot.lastExecutionHeight,
      execs[execs.length - 1],
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
