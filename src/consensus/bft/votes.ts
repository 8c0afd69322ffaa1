/**
 * Bookkeeping for one height: the first vote of each validator per (round, type),
 * stake tallies per block id, the senders of each round (for the f+1 round skip), and
 * a bounded pool of duplicate-vote evidence. Pure.
 * @module
 */
import type { DuplicateVoteEvidence, SignedVote, VoteType } from "./types.ts";
import { evidenceKey } from "./checks.ts";

const NIL = "nil";

/** Distinct blocks one validator may be counted for per (round, type): its first vote
 * plus two conflicting ones (enough to expose and tally an equivocation; bounds memory). */
export const MAX_BLOCKS_PER_VALIDATOR = 3;

class RoundBook {
  /** First vote of each validator per type. */
  readonly first: Record<VoteType, Map<string, SignedVote>> = {
    prevote: new Map(),
    precommit: new Map(),
  };
  /** Block key → validator → vote; an equivocator counts once for each block it named. */
  readonly byBlock: Record<VoteType, Map<string, Map<string, SignedVote>>> = {
    prevote: new Map(),
    precommit: new Map(),
  };
  readonly tally: Record<VoteType, Map<string, number>> = {
    prevote: new Map(),
    precommit: new Map(),
  };
  readonly perValidator: Record<VoteType, Map<string, number>> = {
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
 * Votes of one height. A validator's votes count at most once per (round, type, block);
 * "any" tallies count each validator once. Counting an equivocator for both blocks is
 * what it could achieve anyway by sending each vote to different peers, so quorum
 * intersection (and safety) is unchanged, while a polka it took part in stays visible
 * to everyone (CometBFT's vote set does the same for blocks peers claim +2/3 for).
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

  /** Adds a verified vote; a vote naming another block than the validator's first conflicts. */
  add(sv: SignedVote, stake: number): AddVoteResult {
    const v = sv.vote;
    const b = this.#book(v.round);
    const key = v.block ?? NIL;
    let forBlock = b.byBlock[v.type].get(key);
    if (forBlock?.has(v.validator)) return { kind: "duplicate" };
    const count = b.perValidator[v.type].get(v.validator) ?? 0;
    if (count >= MAX_BLOCKS_PER_VALIDATOR) return { kind: "duplicate" };
    b.perValidator[v.type].set(v.validator, count + 1);
    if (!forBlock) {
      forBlock = new Map();
      b.byBlock[v.type].set(key, forBlock);
    }
    forBlock.set(v.validator, sv);
    b.tally[v.type].set(key, (b.tally[v.type].get(key) ?? 0) + stake);
    const first = b.first[v.type].get(v.validator);
    if (first) return { kind: "conflict", first };
    b.first[v.type].set(v.validator, sv);
    b.anyStake[v.type] += stake;
    this.addSender(v.round, v.validator, stake);
    return { kind: "added" };
  }

  /** Stake voting `block` (null = nil) at (round, type). */
  stakeFor(round: number, type: VoteType, block: string | null): number {
    return this.#rounds.get(round)?.tally[type].get(block ?? NIL) ?? 0;
  }

  /** Stake voting anything at (round, type), each validator once. */
  stakeAny(round: number, type: VoteType): number {
    return this.#rounds.get(round)?.anyStake[type] ?? 0;
  }

  /** Every counted vote of (round, type) (for `block` when given), sorted by validator. */
  votesOf(round: number, type: VoteType, block?: string | null): SignedVote[] {
    const b = this.#rounds.get(round);
    if (!b) return [];
    const maps = block === undefined
      ? [...b.byBlock[type].values()]
      : [b.byBlock[type].get(block ?? NIL) ?? new Map<string, SignedVote>()];
    return maps.flatMap((m) => [...m.values()])
      .sort((x, y) => x.vote.validator < y.vote.validator ? -1 : 1);
  }

  /** The precommits for `block` at `round`, sorted by validator id (the certificate). */
  precommitsFor(round: number, block: string): SignedVote[] {
    return this.votesOf(round, "precommit", block);
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
