/**
 * Bookkeeping for one height: the first vote of each validator per (round, type),
 * stake tallies per block id, the senders of each round (for the f+1 round skip), and
 * a bounded pool of duplicate-vote evidence. Pure.
 * @module
 */
import type { DuplicateVoteEvidence, SignedVote, VoteType } from "./types.ts";
import { evidenceKey } from "./checks.ts";

const NIL = "nil";

class RoundBook {
  readonly votes: Record<VoteType, Map<string, SignedVote>> = {
    prevote: new Map(),
    precommit: new Map(),
  };
  readonly tally: Record<VoteType, Map<string, number>> = {
    prevote: new Map(),
    precommit: new Map(),
  };
  readonly anyStake: Record<VoteType, number> = { prevote: 0, precommit: 0 };
  readonly senders = new Set<string>();
  sendersStake = 0;
}

/** Result of {@link HeightVotes.add}. */
export type AddVoteResult =
  | { readonly kind: "added" }
  | { readonly kind: "duplicate" }
  | { readonly kind: "conflict"; readonly first: SignedVote };

/**
 * Votes of one height.
 *
 * @example
 * ```ts
 * import { HeightVotes } from "./votes.ts";
 * const book = new HeightVotes();
 * book.stakeFor(0, "prevote", null); // 0
 * ```
 */
export class HeightVotes {
  readonly #rounds = new Map<number, RoundBook>();

  #book(round: number): RoundBook {
    let b = this.#rounds.get(round);
    if (!b) {
      b = new RoundBook();
      this.#rounds.set(round, b);
    }
    return b;
  }

  /** Records that `validator` (with `stake`) sent something in `round`. */
  addSender(round: number, validator: string, stake: number): void {
    const b = this.#book(round);
    if (!b.senders.has(validator)) {
      b.senders.add(validator);
      b.sendersStake += stake;
    }
  }

  /** Stake of distinct validators that sent anything in `round`. */
  sendersStake(round: number): number {
    return this.#rounds.get(round)?.sendersStake ?? 0;
  }

  /** Rounds seen so far. */
  rounds(): number[] {
    return [...this.#rounds.keys()];
  }

  /** Adds a verified vote; the first vote per validator counts, a different second one conflicts. */
  add(sv: SignedVote, stake: number): AddVoteResult {
    const v = sv.vote;
    const b = this.#book(v.round);
    const first = b.votes[v.type].get(v.validator);
    if (first) {
      return first.vote.block === v.block ? { kind: "duplicate" } : { kind: "conflict", first };
    }
    b.votes[v.type].set(v.validator, sv);
    const key = v.block ?? NIL;
    b.tally[v.type].set(key, (b.tally[v.type].get(key) ?? 0) + stake);
    b.anyStake[v.type] += stake;
    this.addSender(v.round, v.validator, stake);
    return { kind: "added" };
  }

  /** Stake voting `block` (null = nil) at (round, type). */
  stakeFor(round: number, type: VoteType, block: string | null): number {
    return this.#rounds.get(round)?.tally[type].get(block ?? NIL) ?? 0;
  }

  /** Stake voting anything at (round, type). */
  stakeAny(round: number, type: VoteType): number {
    return this.#rounds.get(round)?.anyStake[type] ?? 0;
  }

  /** Every counted vote of (round, type), in arrival order. */
  votesOf(round: number, type: VoteType): SignedVote[] {
    const b = this.#rounds.get(round);
    return b ? [...b.votes[type].values()] : [];
  }

  /** The precommits for `block` at `round`, sorted by validator id (the certificate). */
  precommitsFor(round: number, block: string): SignedVote[] {
    const b = this.#rounds.get(round);
    if (!b) return [];
    return [...b.votes.precommit.values()]
      .filter((sv) => sv.vote.block === block)
      .sort((x, y) => x.vote.validator < y.vote.validator ? -1 : 1);
  }
}

/**
 * Duplicate-vote evidence waiting for a block, bounded: when full, new evidence is
 * dropped (the pool keeps the oldest, which are the first to be included).
 * Evidence already committed is remembered (bounded too) so it is not offered twice.
 *
 * @example
 * ```ts
 * import { EvidencePool } from "./votes.ts";
 * const pool = new EvidencePool(256);
 * pool.size; // 0
 * ```
 */
export class EvidencePool {
  readonly #pending = new Map<string, DuplicateVoteEvidence>();
  readonly #committed = new Set<string>();
  /** @param limit maximum pending entries */
  constructor(readonly limit: number) {}

  /** Pending entries. */
  get size(): number {
    return this.#pending.size;
  }

  /** Adds verified evidence; false when known, committed or the pool is full. */
  add(e: DuplicateVoteEvidence): boolean {
    const key = evidenceKey(e);
    if (this.#pending.has(key) || this.#committed.has(key)) return false;
    if (this.#pending.size >= this.limit) return false;
    this.#pending.set(key, e);
    return true;
  }

  /** Up to `max` pending entries, oldest first. */
  take(max: number): DuplicateVoteEvidence[] {
    return [...this.#pending.values()].slice(0, max);
  }

  /** Forgets entries a committed block carried. */
  markCommitted(evidence: readonly DuplicateVoteEvidence[]): void {
    for (const e of evidence) {
      const key = evidenceKey(e);
      this.#pending.delete(key);
      this.#committed.add(key);
      if (this.#committed.size > 4 * this.limit) {
        this.#committed.delete(this.#committed.values().next().value as string);
      }
    }
  }
}
