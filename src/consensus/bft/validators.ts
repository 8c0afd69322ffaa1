/**
 * A BFT validator set: stakes, public keys, quorum thresholds and the stake-weighted
 * proposer of each (height, round). Pure.
 * @module
 */
import { hashCanonical } from "../../storage/hash.ts";
import { stakeWeightedIndex } from "../proposer.ts";
import { BftError } from "./errors.ts";

/** One validator as the genesis file lists it. */
export interface BftValidator {
  /** Stable id. */
  readonly id: string;
  /** Public key, hex (its scheme is the verifier's business). */
  readonly publicKey: string;
  /** Positive integer stake. */
  readonly stake: number;
}

/**
 * The validator set with the thresholds of the paper, in stake: "2f+1" means strictly
 * more than 2/3 of the total stake, "f+1" strictly more than 1/3.
 *
 * The proposer of (height, round) is a stake-weighted pick: BLAKE3 of the canonical
 * CBOR of `["awr-bft-proposer", height, round]`, first 8 bytes modulo the total stake,
 * located on the cumulative stake line of the validators sorted by id.
 *
 * @example
 * ```ts
 * import { BftValidatorSet } from "./validators.ts";
 * const set = new BftValidatorSet([{ id: "a", publicKey: "00", stake: 1 }]);
 * set.proposer(1, 0); // "a"
 * ```
 */
export class BftValidatorSet {
  /** Validators sorted by id. */
  readonly validators: readonly BftValidator[];
  /** Sum of stakes. */
  readonly totalStake: number;
  readonly #byId = new Map<string, BftValidator>();
  readonly #cumulative: number[] = [];
  readonly #memo = new Map<string, string>();

  /** @param validators any order; ids unique, stakes positive safe integers */
  constructor(validators: readonly BftValidator[]) {
    if (validators.length === 0) {
      throw new BftError("INVALID_VALIDATORS", "the validator set is empty", {});
    }
    const sorted = [...validators].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    let total = 0;
    for (const v of sorted) {
      if (this.#byId.has(v.id)) {
        throw new BftError("INVALID_VALIDATORS", `validator id "${v.id}" appears twice`, {
          id: v.id,
        });
      }
      if (!Number.isSafeInteger(v.stake) || v.stake <= 0) {
        throw new BftError("INVALID_VALIDATORS", `validator "${v.id}" has a bad stake`, {
          id: v.id,
          stake: v.stake,
        });
      }
      this.#byId.set(v.id, v);
      total += v.stake;
      this.#cumulative.push(total);
    }
    if (!Number.isSafeInteger(total * 3)) {
      throw new BftError("INVALID_VALIDATORS", "total stake is too large", { total });
    }
    this.validators = sorted;
    this.totalStake = total;
  }

  /** Stake of `id` (0 when it is not a validator). */
  stakeOf(id: string): number {
    return this.#byId.get(id)?.stake ?? 0;
  }

  /** The validator named `id`, if any. */
  get(id: string): BftValidator | undefined {
    return this.#byId.get(id);
  }

  /** "2f+1": strictly more than 2/3 of the total stake. */
  isQuorum(stake: number): boolean {
    return 3 * stake > 2 * this.totalStake;
  }

  /** "f+1": strictly more than 1/3 of the total stake (at least one honest validator). */
  isOneThird(stake: number): boolean {
    return 3 * stake > this.totalStake;
  }

  /** proposer(h, r) of the paper: stake-weighted, deterministic. */
  proposer(height: number, round: number): string {
    const key = `${height}/${round}`;
    const hit = this.#memo.get(key);
    if (hit !== undefined) return hit;
    const seed = hashCanonical(["awr-bft-proposer", height, round]);
    const i = stakeWeightedIndex(seed, this.#cumulative, BigInt(this.totalStake));
    const id = this.validators[i].id;
    if (this.#memo.size >= 1024) this.#memo.clear();
    this.#memo.set(key, id);
    return id;
  }
}
