/**
 * Text of a simulation run for people and for byte-for-byte replay checks: one line
 * per seed, the trace on a violation, and the closing `N seeds, K violations` line.
 * @module
 */
import type { SimResult } from "./simulator.ts";

/**
 * One line summarising a run (deterministic: no wall-clock values).
 *
 * @example
 * ```ts
 * import { runSimulation } from "./simulator.ts";
 * import { seedLine } from "./report.ts";
 * seedLine(runSimulation({ seed: 1, nodes: 4, heights: 3 }));
 * ```
 */
export function seedLine(r: SimResult): string {
  const o = r.options;
  const s = r.stats;
  const head = `seed ${o.seed} nodes ${o.nodes} heights ${o.heights} byzantine ${o.byzantine}`;
  const body = `commits ${s.commits}, max round ${s.maxRound}, messages ${s.messages}, ` +
    `crashes ${s.crashes}, rejected ${s.rejected}, evidence ${s.evidence}/${s.evidenceCommitted}, ` +
    `sim ${(s.simTimeMs / 1000).toFixed(1)} s, digest ${r.digest.slice(0, 16)}`;
  const byz = r.byzantine.length ? ` [${r.byzantine.join(" ")}]` : "";
  return r.violation === null
    ? `${head}: ok, ${body}${byz}`
    : `${head}: VIOLATION ${r.violation}; ${body}${byz}`;
}

/** The closing line: `N seeds, K violations`. */
export function summaryLine(seeds: number, violations: number): string {
  return `${seeds} seeds, ${violations} violations`;
}
