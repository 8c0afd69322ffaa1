import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { MAX_HEIGHT_TIMEOUT_MS, parseHeightTimeout } from "../../src/cli/live.ts";
import { CliError } from "../../src/cli/io.ts";
import { startLiveNode } from "../../src/live/live.ts";
import type { Logger } from "../../src/logger.ts";
import type { NodeEventMap } from "../../src/node/events.ts";
import { NodeEvents } from "../../src/node/events.ts";
import { LagGrowth } from "../../src/node/lag_growth.ts";
import { LagLimit } from "../../src/node/lag_limit.ts";
import { waitForAsync } from "../support/hooks.ts";

function recordingLogger(): Logger & {
  lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

Deno.test("--height-timeout-ms: accepted up to its bound, refused past it and at 0", () => {
  assertEquals(parseHeightTimeout("1"), 1);
  assertEquals(parseHeightTimeout(String(MAX_HEIGHT_TIMEOUT_MS)), MAX_HEIGHT_TIMEOUT_MS);
  assertThrows(() => parseHeightTimeout(String(MAX_HEIGHT_TIMEOUT_MS + 1)), CliError, "at most");
  assertThrows(() => parseHeightTimeout("0"), CliError, "--height-timeout-ms");
});

Deno.test("lag growth: warns once after `windows` rising windows, then once when it stops", () => {
  const log = recordingLogger();
  const events = new NodeEvents();
  const seen: NodeEventMap["lag_growing"][] = [];
  events.on("lag_growing", (e) => seen.push(e));
  const g = new LagGrowth(log, events, { windowTicks: 4, windows: 3 });
  // Lag +1 every 2 ticks: each 4-tick window ends 2 higher than it began.
  let tick = 0;
  const feed = (n: number, lagAt: (t: number) => number) => {
    for (let i = 0; i < n; i++, tick++) g.observe(lagAt(tick));
  };
  feed(12, (t) => Math.floor(t / 2)); // first observation + 11: two full windows only
  assertEquals([g.growing, seen.length], [false, 0]);
  feed(1, (t) => Math.floor(t / 2)); // the third window closes, still rising
  assertEquals(g.growing, true);
  assertEquals(seen, [{ growing: true, lag: 6, from: 0, ticks: 12 }]);
  feed(8, (t) => Math.floor(t / 2)); // keeps growing: no second warning
  assertEquals(seen.length, 1);
  assertEquals(log.lines.filter((l) => l.level === "warn").length, 1);
  feed(4, () => 3); // a window that ends lower: growth over
  assertEquals(g.growing, false);
  assertEquals(seen.at(-1)?.growing, false);
  assertEquals(log.lines.at(-1)?.msg, "execution lag stopped growing");
});

Deno.test("lag growth rides on the lag limit: the snapshot says growing before the bound engages", () => {
  const limit = new LagLimit(1_000, recordingLogger(), new NodeEvents(), {
    windowTicks: 2,
    windows: 2,
  });
  for (let committed = 0; committed < 6; committed++) limit.allows(committed, 0);
  assertEquals(limit.snapshot(), {
    max: 1_000,
    engaged: false,
    episodes: 0,
    peak: 5,
    growing: true,
  });
});

Deno.test("a driver over its --height-timeout-ms budget: DRIVER_TIMEOUT in last_error, the error event and the log", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-timeout-" });
  const pluginsDir = await Deno.makeTempDir({ prefix: "awr-timeout-plugins-" });
  await Deno.writeTextFile(
    join(pluginsDir, "stuck.js"),
    `export default {
  name: "stuck",
  apiVersion: 1,
  create: () => ({
    onCommit: (ctx) => ctx.height >= 2
      ? new Promise(() => {})
      : Promise.resolve({ executionHeight: ctx.height, executionBlockHash: "b" + ctx.height,
          executionStateRoot: "r" + ctx.height }),
  }),
};
`,
  );
  const log = recordingLogger();
  const live = await startLiveNode({
    dataDir,
    pluginsDir,
    driver: "stuck",
    heightTimeoutMs: 100,
    http: null,
    tickMs: 20,
    statusEveryMs: 0,
    rewardIntervalMs: 50,
  }, { logger: log });
  const errors: NodeEventMap["error"][] = [];
  const off = live.node.events.on("error", (e) => errors.push(e));
  try {
    let lastError = "";
    assert(
      await waitForAsync(async () => {
        lastError = String((await live.status()).last_error ?? "");
        return lastError.includes("DRIVER_TIMEOUT") && errors.length > 0;
      }, 15_000),
      `no timeout reported: ${lastError}`,
    );
    assertStringIncludes(lastError, "execution of height 2 failed: DRIVER_TIMEOUT: ");
    assertStringIncludes(lastError, "within 100 ms");
    assertEquals([errors[0].height, errors[0].code], [2, "DRIVER_TIMEOUT"]);
    const warn = log.lines.find((l) => l.msg === "execution failed");
    assertEquals(warn?.fields?.code, "DRIVER_TIMEOUT");
  } finally {
    off();
    await live.stop();
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(pluginsDir, { recursive: true });
  }
});
