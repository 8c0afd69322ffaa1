/// <reference lib="deno.worker" />
/**
 * Worker for sim_full_test.ts: runs the seeds it is given and posts back counts and
 * the first violation (with its trace).
 * @module
 */
import { maxByzantine } from "../../src/sim/options.ts";
import { seedLine } from "../../src/sim/report.ts";
import { runSimulation } from "../../src/sim/simulator.ts";

/** Heights per seed by validator count (kept small so 2,000 seeds fit the time budget). */
export const FULL_HEIGHTS: Record<number, number> = { 4: 8, 7: 6, 10: 5 };

self.onmessage = (e: MessageEvent<{ seeds: number[] }>) => {
  const counts: Record<string, number> = {};
  const violations: string[] = [];
  let byzantineRuns = 0;
  for (const seed of e.data.seeds) {
    const nodes = [4, 7, 10][seed % 3];
    const byzantine = seed % (maxByzantine(nodes) + 1);
    const r = runSimulation({ seed, nodes, heights: FULL_HEIGHTS[nodes], byzantine });
    counts[nodes] = (counts[nodes] ?? 0) + 1;
    if (byzantine > 0) byzantineRuns++;
    if (r.violation !== null) violations.push([seedLine(r), ...r.trace].join("\n"));
  }
  self.postMessage({ counts, violations, byzantineRuns });
};
