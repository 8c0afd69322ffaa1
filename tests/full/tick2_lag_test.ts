/**
 * Issue 10 acceptance: `awr live --tick-ms 2` for 30 s with no actions keeps the
 * execution lag under 20 heights without the lag limit engaging. A real process with
 * the default driver and bound (64); `/v1/status` is sampled every 100 ms, and the
 * node's own `execution_lag_peak` (the highest lag it saw at any tick) covers what
 * the samples miss. `lag_limit_engaged_count` 0 says the bound never engaged.
 */
import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import { join } from "@std/path";
import { type LiveProcess, spawnLive } from "../support/live_process.ts";

const RUN_MS = 30_000;
const SAMPLE_EVERY_MS = 100;
/** The acceptance line: lag stays under this many heights. */
const LAG_UNDER = 20;

/** One line per duration histogram: count, mean, and how many took over 0.1, 0.5, 1 s. */
function durations(metrics: string): string {
  const value = (prefix: string) =>
    Number(metrics.split("\n").find((l) => l.startsWith(prefix))?.split(" ").at(-1));
  return ["tick_duration", "tick_lateness", "execution_duration"].map((h) => {
    const name = `awr_${h}_seconds`;
    const count = value(`${name}_count `);
    const mean = (value(`${name}_sum `) / count) * 1000;
    const over = ["0.1", "0.5", "1"].map((le) =>
      `>${le}s=${count - value(`${name}_bucket{le="${le}"} `)}`
    );
    return `${h} n=${count} mean=${mean.toFixed(1)}ms ${over.join(" ")}`;
  }).join("; ");
}

Deno.test({
  name:
    "awr live --tick-ms 2, no actions, 30 s: execution lag < 20 heights, lag limit never engaged",
  // Measured: on the 2-core machine with nothing else running, peak lag 6 (3 sampled) at
  // 174 heights/s; under other engineers' load (average 8-10) peaks 4-8. Only loads of
  // 19-26, where ticks took 22-100 ms, broke it (peaks 20-40). Set AWR_TICK2_LAG=0 to
  // skip it on a machine shared like that.
  ignore: Deno.env.get("AWR_TICK2_LAG") === "0",
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "awr-tick2-" });
    let live: LiveProcess | null = null;
    try {
      live = await spawnLive(join(tmp, "data"), [
        "--tick-ms",
        "2",
        "--status-every",
        "0",
        "--log-level",
        "warn",
      ]);
      const node = live;
      let sampledMax = 0;
      let samples = 0;
      let first: Record<string, unknown> | null = null;
      let last: Record<string, unknown> = {};
      const started = performance.now();
      const until = started + RUN_MS;
      while (performance.now() < until) {
        last = await node.status();
        first ??= last;
        samples++;
        sampledMax = Math.max(sampledMax, Number(last.execution_lag));
        await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
      }
      const seconds = (performance.now() - started) / 1000;
      const c0 = first!.consensus as Record<string, number>;
      const c = last.consensus as Record<string, number>;
      const peak = Number(last.execution_lag_peak);
      console.log(
        `tick-ms 2 for ${
          seconds.toFixed(1)
        } s: ${samples} samples, sampled max lag ${sampledMax}, ` +
          `node peak ${peak}, committed ${c.committed_height} ` +
          `(${((c.committed_height - c0.committed_height) / seconds).toFixed(0)}/s), ` +
          `executed ${c.last_execution_height}, episodes ${last.lag_limit_engaged_count}`,
      );
      console.log(durations(await (await fetch(`${node.url}metrics`)).text()));
      assertGreater(c.last_execution_height, c0.last_execution_height, "execution progressed");
      assertEquals(last.max_execution_lag, 64, "the default bound");
      assertEquals(last.lag_limit_engaged_count, 0, "the lag limit never engaged");
      assertLess(sampledMax, LAG_UNDER, `sampled execution lag reached ${sampledMax}`);
      assertLess(peak, LAG_UNDER, `the node saw an execution lag of ${peak} at a tick`);
      const code = await node.stop();
      live = null;
      assertEquals(code, 0);
      const warns = node.logLines.filter((l) => l.startsWith("WARN"));
      assert(!warns.some((l) => l.includes("lag at its bound")), warns.join("\n"));
    } finally {
      await live?.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
