import { assertEquals } from "@std/assert";
import { COMMIT_LATENCY_WINDOW, CommitLatency } from "../../src/live/commit_latency.ts";
import { LiveMetrics } from "../../src/live/metrics.ts";
import { NodeEvents } from "../../src/node/events.ts";
import type { CommittedBlock } from "../../src/consensus/types.ts";

Deno.test("CommitLatency: median of proposal → commit on an injected clock; the window is bounded", () => {
  let now = 0;
  const l = new CommitLatency(() => now);
  assertEquals(l.quantile(0.5), null);
  for (const [proposed, committed] of [[100, 130], [200, 210], [300, 400], [400, 390]]) {
    now = committed;
    l.observe(proposed);
  }
  // 30, 10, 100 and a clock skew clamped to 0.
  assertEquals(l.lastMs, 0);
  assertEquals(l.count, 4);
  assertEquals(l.sumMs, 140);
  assertEquals(l.quantile(0.5), 10);
  assertEquals(l.quantile(0.9), 100);
  // At the bound: the oldest latencies leave the window, the totals keep counting.
  for (let i = 0; i < COMMIT_LATENCY_WINDOW; i++) {
    now = 10_000 + i;
    l.observe(now - 7);
  }
  assertEquals(l.size, COMMIT_LATENCY_WINDOW);
  assertEquals(l.count, COMMIT_LATENCY_WINDOW + 4);
  assertEquals(l.quantile(0.5), 7);
  assertEquals(l.quantile(1), 7);
});

Deno.test("LiveMetrics: awr_commit_latency_seconds from commit events and block timestamps", () => {
  let now = 5_000;
  const events = new NodeEvents();
  const metrics = new LiveMetrics(() => now);
  const detach = metrics.attach(events);
  const commit = (height: number, timestampMs: number) =>
    events.emit("commit", {
      block: { header: { height, timestampMs } } as unknown as CommittedBlock,
    });
  assertEquals(metrics.render().includes('awr_commit_latency_seconds{quantile="0.5"}'), false);
  commit(1, 4_980); // 20 ms
  now = 6_000;
  commit(2, 5_940); // 60 ms
  now = 7_000;
  commit(3, 6_960); // 40 ms
  const text = metrics.render();
  const line = (name: string) =>
    text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1];
  assertEquals(line('awr_commit_latency_seconds{quantile="0.5"}'), "0.04");
  assertEquals(line('awr_commit_latency_seconds{quantile="0.9"}'), "0.06");
  assertEquals(line("awr_commit_latency_seconds_sum"), "0.12");
  assertEquals(line("awr_commit_latency_seconds_count"), "3");
  detach();
});
