/**
 * The lag limit's counters as status shows them: `lag_limit_engaged_count` (episodes
 * since start) and `execution_lag_peak` (highest lag seen at a tick), which let a
 * caller tell that the bound never engaged and how close the lag came to it.
 */
import { assertEquals } from "@std/assert";
import { NodeEvents } from "../../src/node/events.ts";
import { LagLimit } from "../../src/node/lag_limit.ts";
import { consensusFromState, type NodeSnapshot, snapshotToJson } from "../../src/node/snapshot.ts";
import { freshNodeState } from "../../src/node/state_file.ts";
import { silentLogger } from "../../src/logger.ts";

function statusOf(limit: LagLimit): ReturnType<typeof snapshotToJson> {
  const snap: NodeSnapshot = {
    nodeId: "node-1",
    worldId: "world-1",
    role: "sequencer",
    running: true,
    tickCount: 0,
    lastTickUnixMs: null,
    consensus: consensusFromState(freshNodeState("node-1", "world-1")),
    lastError: null,
    lagLimit: limit.snapshot(),
  };
  return snapshotToJson(snap);
}

Deno.test("lag below the bound: status counts no episode and reports the peak lag", () => {
  const limit = new LagLimit(20, silentLogger, new NodeEvents());
  const before = statusOf(limit);
  assertEquals([before.lag_limit_engaged_count, before.execution_lag_peak], [0, 0]);
  // Lags 0, 3, 19 (one below the bound: committing one more reaches it exactly), 2.
  for (const [committed, executed] of [[5, 5], [8, 5], [40, 21], [42, 40]]) {
    assertEquals(limit.allows(committed, executed), true);
  }
  const s = statusOf(limit);
  assertEquals(s.lag_limit_engaged, false);
  assertEquals(s.lag_limit_engaged_count, 0);
  assertEquals(s.execution_lag_peak, 19);
  assertEquals(s.max_execution_lag, 20);
});

Deno.test("each episode at the bound counts once; the peak never passes the bound", () => {
  const events = new NodeEvents();
  const changes: boolean[] = [];
  events.on("lag_limit", (e) => changes.push(e.engaged));
  const limit = new LagLimit(4, silentLogger, events);
  assertEquals(limit.allows(4, 0), false); // lag 4 = the bound: engaged
  assertEquals(limit.allows(4, 1), false); // 3 > 4/2: still engaged, same episode
  assertEquals(limit.allows(4, 2), true); // back to half: released
  assertEquals(limit.allows(6, 2), false); // at the bound again: a second episode
  assertEquals(changes, [true, false, true]);
  const s = statusOf(limit);
  assertEquals(s.lag_limit_engaged, true);
  assertEquals(s.lag_limit_engaged_count, 2);
  assertEquals(s.execution_lag_peak, 4);
});
