/**
 * Output cannot kill the node: `awr live … | head -c 200` (stdout closed after 200
 * bytes) and stdout on `/dev/full` (every write fails with ENOSPC). The node keeps
 * committing, prints no stack trace, and stops cleanly on SIGTERM.
 */
import { assert, assertEquals, assertGreaterOrEqual, assertStringIncludes } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { listRecordHeights } from "../../src/execution/records.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";

const MOD = fromFileUrl(new URL("../../mod.ts", import.meta.url));
const LIVE = ["run", "-A", MOD, "live", "--http", "off", "--tick-ms", "20", "--status-every", "50"];

async function committed(dataDir: string): Promise<number> {
  try {
    return (await readNodeState(nodeStatePath(dataDir, "node-1")))?.value.committedHeight ?? 0;
  } catch {
    return 0;
  }
}

async function waitUntil(cond: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The live node's pid, from the data dir's lock file. */
async function nodePid(dataDir: string): Promise<number> {
  let pid = 0;
  await waitUntil(async () => {
    pid = Number((await Deno.readTextFile(join(dataDir, "awr.lock")).catch(() => "")).trim());
    return pid > 0;
  }, "the lock file");
  return pid;
}

/** Commits continue for `n` more heights, then SIGTERM; checks a clean stop. */
async function keepsCommittingThenStops(dataDir: string, pid: number, n: number): Promise<void> {
  const from = await committed(dataDir);
  await waitUntil(async () => (await committed(dataDir)) >= from + n, `${n} more commits`);
  Deno.kill(pid, "SIGTERM");
}

async function assertCleanState(dataDir: string): Promise<void> {
  const state = (await readNodeState(nodeStatePath(dataDir, "node-1")))!.value;
  const heights = await listRecordHeights(dataDir);
  assertGreaterOrEqual(heights.length, 1);
  assertEquals(state.lastExecutionHeight, heights[heights.length - 1]);
}

function assertNoCrash(stderr: string): void {
  assert(!/Uncaught|panicked|^\s+at /m.test(stderr), `a crash or stack trace:\n${stderr}`);
}

Deno.test({
  name: "awr live | head -c 200: no crash, no stack trace, commits go on, clean stop",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "awr-output-" });
    const dataDir = join(dir, "data");
    const [errFile, outFile, codeFile] = ["err", "out", "code"].map((f) => join(dir, f));
    try {
      const sh = new Deno.Command("sh", {
        args: [
          "-c",
          '{ "$0" "$@" 2>"$ERR"; echo $? >"$CODE"; } | head -c 200 >"$OUT"',
          Deno.execPath(),
          ...LIVE,
          "--data-dir",
          dataDir,
        ],
        env: { ERR: errFile, OUT: outFile, CODE: codeFile },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const pid = await nodePid(dataDir);
      try {
        await waitUntil(
          async () => (await Deno.stat(outFile).catch(() => null))?.size === 200,
          "head to take 200 bytes",
        );
        // Status lines every 50 ms now hit a closed pipe; the node must not care.
        await keepsCommittingThenStops(dataDir, pid, 20);
      } finally {
        await sh.status;
      }
      const stderr = await Deno.readTextFile(errFile);
      assertNoCrash(stderr);
      assertStringIncludes(stderr, "standard output is closed or full");
      assertEquals((await Deno.readTextFile(codeFile)).trim(), "0", stderr);
      await assertCleanState(dataDir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "awr live with stdout on /dev/full: starts, commits, stops cleanly, no stack trace",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "awr-devfull-" });
    const dataDir = join(dir, "data");
    try {
      const child = new Deno.Command("sh", {
        args: ["-c", 'exec "$0" "$@" >/dev/full', Deno.execPath(), ...LIVE, "--data-dir", dataDir],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      try {
        await keepsCommittingThenStops(dataDir, await nodePid(dataDir), 20);
      } finally {
        const status = await child.status;
        const text = await stderr;
        assertNoCrash(text);
        assertEquals(status.code, 0, text);
        assertEquals(text.split("standard output is closed or full").length, 2, "said once");
      }
      await assertCleanState(dataDir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
