/**
 * Bounded execution lag, for real: `awr live` at `--tick-ms 5` with a drop-in driver
 * taking 50 ms per height for 20 s. Sampled from `/v1/status`, the lag never exceeds
 * `--max-execution-lag` (no slack: the node checks the bound before each proposal
 * and status reads both heights in one pass), and the engaged limit shows in status
 * and metrics.
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { join } from "@std/path";
import { writeSlowDriver } from "../support/live_helpers.ts";
import { type LiveProcess, spawnLive } from "../support/live_process.ts";

const MAX_LAG = 16;
const RUN_MS = 20_000;

Deno.test("a 50 ms/height driver at --tick-ms 5: lag stays <= --max-execution-lag for 20 s, warning in status", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "awr-laglimit-" });
  let live: LiveProcess | null = null;
  try {
    const plugins = join(tmp, "plugins");
    const logFile = join(tmp, "heights.log");
    await writeSlowDriver(plugins, 50, logFile);
    const data = join(tmp, "data");
    live = await spawnLive(data, [
      "--tick-ms",
      "5",
      "--driver",
      "slow",
      "--plugins-dir",
      plugins,
      "--max-execution-lag",
      String(MAX_LAG),
      // The sandbox lets a driver write only its own folders; this one also logs heights.
      "--driver-allow",
      `write=${logFile}`,
      "--status-every",
      "0",
      "--log-level",
      "info",
      // The sandbox lets the driver write only its own folders: grant its log file.
      "--driver-allow",
      `write=${join(tmp, "heights.log")}`,
    ]);
    const node = live;
    let worst = 0;
    let samples = 0;
    let engagedSeen = false;
    let last: Record<string, unknown> = {};
    const until = performance.now() + RUN_MS;
    while (performance.now() < until) {
      last = await node.status();
      samples++;
      worst = Math.max(worst, Number(last.execution_lag));
      engagedSeen ||= last.lag_limit_engaged === true;
      await new Promise((r) => setTimeout(r, 25));
    }
    const c = last.consensus as Record<string, unknown>;
    console.log(
      `${samples} samples over ${RUN_MS} ms: worst lag ${worst} (max ${MAX_LAG}), committed ${c.committed_height}, ` +
        `executed ${c.last_execution_height}, episodes ${last.lag_limit_engaged_count}, slot ${c.slot}`,
    );
    assert(worst <= MAX_LAG, `lag ${worst} exceeded --max-execution-lag ${MAX_LAG}`);
    assertEquals(last.max_execution_lag, MAX_LAG);
    assert(engagedSeen, "lag_limit_engaged was seen true in status");
    assertGreater(Number(last.lag_limit_engaged_count), 0);
    // Execution progressed, and ticks kept going while proposals paused (slots >> heights).
    assertGreater(Number(c.last_execution_height), 50);
    assertGreater(Number(c.slot), Number(c.committed_height) * 2);
    const metrics = await (await fetch(`${node.url}metrics`)).text();
    assert(/\nawr_lag_limit_episodes_total [1-9]/.test(metrics), "episodes counted in metrics");
    const episodes = Number((await node.status()).lag_limit_engaged_count);
    const code = await node.stop();
    live = null;
    assertEquals(code, 0);
    // One WARN per episode, not one per tick (one more episode may start before the stop).
    const warns = node.logLines.filter((l) => l.includes("execution lag at its bound")).length;
    assert(
      warns >= episodes && warns <= episodes + 1,
      `${warns} warnings for ${episodes} episodes`,
    );
  } finally {
    if (live) await live.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
