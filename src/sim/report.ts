/**
 * Text of a simulation run for people and for byte-for-byte replay checks: one line
 * per seed, the trace on a violation, and the closing `N seeds, K violations` line.
 * @module
 */
import type { SimOptions } from "./options.ts";

/** Counters of a run. */
export interface SimStats {
  events: number;
  messages: number;
  commits: number;
  maxRound: number;
  crashes: number;
  rejected: number;
  evidence: number;
  evidenceCommitted: number;
  simTimeMs: number;
}

/** The outcome of one run. */
export interface SimResult {
  readonly options: SimOptions;
  /** The first violated invariant, or null. */
  readonly violation: string | null;
  /** The last events before the violation (empty when none). */
  readonly trace: readonly string[];
  readonly stats: SimStats;
  /** BLAKE3 over the decided block ids, heights 1..max (same run → same digest). */
  readonly digest: string;
  /** Every honest commit: (node, height, simulated time). */
  readonly commits: readonly { node: string; height: number; timeMs: number }[];
  readonly byzantine: readonly string[];
}

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
