/**
 * One Ctrl-C through `npx --yes deno@2.9.6 task live` stops the node cleanly, every
 * time: the process group gets SIGINT twice within 100 ms (the terminal's and a
 * second one, as `deno task` forwards signals to its child), the node says it
 * stopped, and the state file's execution height equals the newest execution
 * record. Each run is bounded; a run that hangs is SIGKILLed and fails.
 */
import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { listRecordHeights } from "../../src/execution/records.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";

const REPO = fromFileUrl(new URL("../../", import.meta.url));
const RUNS = 10;
const RUN_BUDGET_MS = 60_000;

async function hasSetsid(): Promise<boolean> {
  try {
    return (await new Deno.Command("setsid", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}

async function committed(dataDir: string): Promise<number> {
  try {
    return (await readNodeState(nodeStatePath(dataDir, "node-1")))?.value.committedHeight ?? 0;
  } catch {
    return 0; // Not written yet.
  }
}

Deno.test({
  name: "deno task live: SIGINT twice to the process group stops cleanly, 10 of 10 runs",
  ignore: Deno.build.os === "windows" || !(await hasSetsid()),
  fn: async () => {
    for (let run = 0; run < RUNS; run++) {
      const dataDir = await Deno.makeTempDir({ prefix: "awr-sigint-" });
      // setsid makes the child a process-group leader: its pid is the group id.
      const child = new Deno.Command("setsid", {
        args: [
          "npx",
          "--yes",
          "deno@2.9.6",
          "task",
          "live",
          "--data-dir",
          dataDir,
          "--http",
          "off",
          "--tick-ms",
          "20",
          "--status-every",
          "0",
        ],
        cwd: REPO,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const group = -child.pid;
      const guard = setTimeout(() => {
        try {
          Deno.kill(group, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, RUN_BUDGET_MS);
      const out = new Response(child.stdout).text();
      const err = new Response(child.stderr).text();
      try {
        // Let it commit a few heights (start-up through npx takes a while).
        const until = Date.now() + RUN_BUDGET_MS / 2;
        while ((await committed(dataDir)) < 5 + run && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assertGreater(await committed(dataDir), 0, `run ${run}: the node never committed`);
        try {
          Deno.kill(group, "SIGINT");
        } catch (e) {
          // The group is gone before any signal: say how the node ended, with its output.
          const [stdout, stderr] = await Promise.all([out, err]);
          const status = await child.status;
          throw new Error(
            `run ${run}: process group ${-group} gone before SIGINT (${e}); exit ${status.code} ` +
              `signal ${status.signal}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          );
        }
        await new Promise((r) => setTimeout(r, 30 + run * 7)); // 30..93 ms apart
        try {
          Deno.kill(group, "SIGINT");
        } catch (e) {
          // A node that stopped within the gap took its whole group with it: the first
          // signal was enough. Anything else is a failure.
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
        // Both pipes end when every process of the group has exited.
        const [stdout, stderr] = await Promise.all([out, err]);
        await child.status;
        assertStringIncludes(stdout, "awr live: stopped", `run ${run}: ${stdout}\n${stderr}`);
        assert(!/forced exit|Uncaught|^\s+at /m.test(stdout + stderr), `run ${run}: ${stderr}`);
        const state = await readNodeState(nodeStatePath(dataDir, "node-1"));
        const heights = await listRecordHeights(dataDir);
        const newest = heights.length ? heights[heights.length - 1] : 0;
        assertGreater(newest, 0, `run ${run}: no records`);
        assertEquals(
          state?.value.lastExecutionHeight,
          newest,
          `run ${run}: state execution height vs newest record`,
        );
      } finally {
        clearTimeout(guard);
        await Promise.allSettled([out, err]);
        await Deno.remove(dataDir, { recursive: true });
      }
    }
  },
});
