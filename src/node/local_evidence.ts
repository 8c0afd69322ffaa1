/**
 * Duplicate-vote evidence as the node reports it: each piece counted once across the
 * local engines (by its key, bounded), the most recent few kept for status.
 * @module
 */
import { evidenceKey } from "../consensus/bft/checks.ts";
import type { DuplicateVoteEvidence } from "../consensus/bft/types.ts";

/** One piece of evidence as the node reports it. */
export interface EvidenceSummary {
  readonly validator: string;
  readonly height: number;
  readonly round: number;
  readonly type: string;
  /** The two block ids (null = nil) the validator signed. */
  readonly blocks: readonly (string | null)[];
}

/** Most evidence entries kept for status. */
export const RECENT_EVIDENCE = 16;
/** Most evidence keys remembered to count each piece once across local engines. */
const EVIDENCE_KEYS = 4096;

/**
 * Evidence counted once and the recent pieces (bounded).
 *
 * @example
 * ```ts ignore
 * const log = new EvidenceLog();
 * log.note(evidence);
 * log.summary(); // { total: 1, recent: [{ validator, height, round, type, blocks }] }
 * ```
 */
export class EvidenceLog {
  #total = 0;
  readonly #keys = new Set<string>();
  readonly #recent: EvidenceSummary[] = [];

  /** Total pieces seen and the most recent ({@link RECENT_EVIDENCE}). */
  summary(): { total: number; recent: readonly EvidenceSummary[] } {
    return { total: this.#total, recent: [...this.#recent] };
  }

  /** Counts `e` unless an engine reported it already. */
  note(e: DuplicateVoteEvidence): void {
    const key = evidenceKey(e);
    if (this.#keys.has(key)) return;
    if (this.#keys.size >= EVIDENCE_KEYS) this.#keys.clear();
    this.#keys.add(key);
    this.#total++;
    const v = e.a.vote;
    this.#recent.push({
      validator: v.validator,
      height: v.height,
      round: v.round,
      type: v.type,
      blocks: [e.a.vote.block, e.b.vote.block],
    });
    if (this.#recent.length > RECENT_EVIDENCE) this.#recent.shift();
  }
}
