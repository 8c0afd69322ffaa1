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

Deno.test({
  name:
    "awr live --tick-ms 2, no actions, 30 s: execution lag < 20 heights, lag limit never engaged",
  // On this 2-core machine the line is not met yet (see the report of issue 10: max lag
  // measured at ...); kept here, excluded, until per-height cost of empty heights drops.
  ignore: false,
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
