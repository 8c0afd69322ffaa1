import { assert, assertEquals } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { recordPath } from "../../src/execution/records.ts";

const MOD = fromFileUrl(new URL("../../mod.ts", import.meta.url));
const RUNS = 10;
const DEADLINE_MS = 120_000;

function awr(args: string[], stdout: "piped" | "null" = "piped"): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, ...args],
    stdin: "null",
    stdout,
    stderr: "piped",
  });
}

Deno.test("awr records verify on a running `awr live --tick-ms 20`: 10 of 10 runs pass", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-verify-live-" });
  const live = awr([
    "live",
    "--data-dir",
    dataDir,
    "--http",
    "off",
    "--tick-ms",
    "20",
    "--status-every",
    "0",
    "--log-level",
    "error",
  ], "null").spawn();
  const started = Date.now();
  try {
    // Wait (bounded) until the node has executed a few heights.
    for (;;) {
      // Record files are written as each height's pack group becomes durable.
      if (await Deno.stat(recordPath(dataDir, 5)).then(() => true, () => false)) break;
      assert(Date.now() - started < DEADLINE_MS, "the live node executed nothing");
      await new Promise((r) => setTimeout(r, 100));
    }
    const failures: string[] = [];
    const checked: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      assert(Date.now() - started < DEADLINE_MS, "out of time");
      const out = await awr(["records", "verify", "--data-dir", dataDir, "--json"]).output();
      const text = new TextDecoder().decode(out.stdout);
      if (out.code !== 0) {
        failures.push(
          `run ${i}: exit ${out.code}: ${text} ${new TextDecoder().decode(out.stderr)}`,
        );
        continue;
      }
      const report = JSON.parse(text);
      assertEquals(report.ok, true);
      checked.push(report.heights);
    }
    assertEquals(failures, []);
    assertEquals(checked.length, RUNS);
    // The node kept running under the verifier: later runs saw more heights.
    assert(checked[RUNS - 1] > checked[0], `heights checked: ${checked.join(", ")}`);
  } finally {
    live.kill("SIGTERM");
    const status = await live.status;
    await new Response(live.stderr).arrayBuffer();
    await Deno.remove(dataDir, { recursive: true });
    assert(status.code === 0 || status.signal === "SIGTERM", `live ended with ${status.code}`);
  }
});
