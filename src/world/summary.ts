/**
 * A small, cheap picture of the world for status pages: every number is kept
 * incrementally by the world, so a summary costs O(resource kinds), not O(agents).
 * @module
 */
import type { World } from "./world.ts";

/** World figures for a viewer (camelCase; JSON-ready). */
export interface WorldSummary {
  /** Height of the last applied step. */
  readonly clock: number;
  readonly agentCount: number;
  readonly chunkCount: number;
  /** Journal events so far. */
  readonly journalLen: number;
  readonly energyTotal: number;
  /** Resource → total held by all agents, sorted by name. */
  readonly resourceTotals: Readonly<Record<string, number>>;
}

/**
 * Summarises `world`.
 *
 * @example
 * ```ts
 * import { World } from "./world.ts";
 * import { worldSummary } from "./summary.ts";
 * worldSummary(new World()).agentCount; // 0
 * ```
 */
export function worldSummary(world: World): WorldSummary {
  return {
    clock: world.clock,
    agentCount: world.agentCount,
    chunkCount: world.bucketCount,
    journalLen: world.journalLen,
    energyTotal: world.energyTotal,
    resourceTotals: world.resourceTotals(),
  };
}
