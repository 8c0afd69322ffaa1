/**
 * Options of the BFT engine with their defaults (documented in README "BFT consensus").
 * @module
 */

/** Round timeouts: each grows linearly with the round, `base + deltaMs × round`. */
export interface BftTimeouts {
  /** timeoutPropose base (ms). */
  readonly proposeMs: number;
  /** timeoutPrevote base (ms). */
  readonly prevoteMs: number;
  /** timeoutPrecommit base (ms). */
  readonly precommitMs: number;
  /** Added per round to each timeout (ms). */
  readonly deltaMs: number;
}

/** Tunables and bounds of the engine. */
export interface BftOptions {
  readonly timeouts: BftTimeouts;
  /** Messages for rounds beyond current + this are ignored (bounds memory per height). */
  readonly maxRoundsAhead: number;
  /** Messages buffered for the next height (beyond: dropped). */
  readonly maxFutureMessages: number;
  /** Catch-up commits kept for heights above the current one (one per height). */
  readonly maxCommitsAhead: number;
  /** Pending duplicate-vote evidence kept (beyond: new evidence dropped). */
  readonly evidencePoolSize: number;
  /** Evidence entries a proposer puts into one block (≤ MAX_EVIDENCE_PER_BLOCK). */
  readonly maxEvidencePerBlock: number;
}

/** The defaults. */
export const defaultBftOptions: BftOptions = Object.freeze({
  timeouts: Object.freeze({ proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 250 }),
  maxRoundsAhead: 64,
  maxFutureMessages: 1024,
  maxCommitsAhead: 16,
  evidencePoolSize: 256,
  maxEvidencePerBlock: 8,
});

/**
 * Duration of a timeout at `round` (the paper's timeoutX(r)).
 *
 * @example
 * ```ts
 * import { defaultBftOptions, timeoutMs } from "./options.ts";
 * timeoutMs(defaultBftOptions.timeouts, "propose", 2); // 1500
 * ```
 */
export function timeoutMs(
  t: BftTimeouts,
  step: "propose" | "prevote" | "precommit",
  round: number,
): number {
  const base = step === "propose" ? t.proposeMs : step === "prevote" ? t.prevoteMs : t.precommitMs;
  return base + t.deltaMs * round;
}
