/**
 * The fixed rules of the agent world: its size, energy economy and limits. They are
 * part of the consensus rules — changing one changes every state root after it.
 * @module
 */

/** Rule constants of the world (all integers). */
export interface WorldRules {
  /** The grid is `size × size`; positions are `0 ≤ x, y < size`. */
  readonly size: number;
  /** Energy a new agent starts with. */
  readonly initialEnergy: number;
  /** Energy never exceeds this. */
  readonly maxEnergy: number;
  /** Energy a `rest` action restores (capped at `maxEnergy`). */
  readonly restEnergy: number;
  /** Energy per grid step of a move (`(|dx| + |dy|) × moveCost`). */
  readonly moveCost: number;
  /** Largest amount one grant or transfer may carry. */
  readonly maxAmount: number;
  /** Longest agent id, in UTF-16 code units. */
  readonly maxAgentIdLength: number;
  /** Longest resource name. */
  readonly maxResourceLength: number;
}

/**
 * The rules every node runs.
 *
 * @example
 * ```ts
 * import { WORLD_RULES } from "./rules.ts";
 * const inside = (x: number) => x >= 0 && x < WORLD_RULES.size;
 * ```
 */
export const WORLD_RULES: WorldRules = Object.freeze({
  size: 1024,
  initialEnergy: 100,
  maxEnergy: 100,
  restEnergy: 10,
  moveCost: 1,
  maxAmount: 1_000_000_000_000,
  maxAgentIdLength: 64,
  maxResourceLength: 32,
});

/** Buckets (state chunks) of a new world unless told otherwise; a power of two. */
export const DEFAULT_MIN_BUCKETS = 4096;
/**
 * When agents exceed `bucketCount × BUCKET_GROWTH_LOAD` (an average of this many per
 * bucket), the bucket count doubles at the end of that height. A consensus rule.
 */
export const BUCKET_GROWTH_LOAD = 32;
