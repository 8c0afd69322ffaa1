/**
 * Deterministic stake-weighted proposer schedule and slot → epoch arithmetic.
 * Pure: the schedule depends only on the validator set and the slot number.
 * @module
 */
import { hashCanonical } from "../storage/hash.ts";
import { isUint } from "./_uint.ts";
import { ConsensusError } from "./errors.ts";
import type { Validator } from "./types.ts";

/**
 * Checks a validator set: at least one validator, ids non-empty and unique, stakes
 * positive safe integers, total stake a safe integer. Throws a
 * {@link ConsensusError} (`INVALID_VALIDATORS`) naming the first bad validator.
 *
 * @example
 * ```ts
 * import { validateValidators } from "./proposer.ts";
 * validateValidators([{ id: "v1", stake: 10 }, { id: "v2", stake: 5 }]); // ok
 * ```
 */
export function validateValidators(validators: readonly Validator[]): void {
  if (!Array.isArray(validators) || validators.length === 0) {
    throw new ConsensusError("INVALID_VALIDATORS", "the validator set is empty", {
      count: Array.isArray(validators) ? 0 : null,
    });
  }
  const seen = new Set<string>();
  let total = 0;
  validators.forEach((v, index) => {
    const id: unknown = v?.id;
    if (typeof id !== "string" || id.length === 0) {
      throw new ConsensusError(
        "INVALID_VALIDATORS",
        `validator #${index} has no id (ids must be non-empty strings)`,
        { index, id },
      );
    }
    if (seen.has(id)) {
      throw new ConsensusError("INVALID_VALIDATORS", `validator id "${id}" appears twice`, {
        index,
        id,
      });
    }
    seen.add(id);
    const stake: unknown = v.stake;
    if (typeof stake !== "number" || !Number.isSafeInteger(stake) || stake <= 0) {
      throw new ConsensusError(
        "INVALID_VALIDATORS",
        `validator "${id}" has stake ${String(stake)}; stakes must be positive safe integers`,
        { index, id, stake },
      );
    }
    total += stake;
    if (!Number.isSafeInteger(total)) {
      throw new ConsensusError(
        "INVALID_VALIDATORS",
        `total stake exceeds the safe integer range at validator "${id}"`,
        { index, id },
      );
    }
  });
}

/**
 * Epoch of a slot: `floor(slot / epochLengthSlots)`.
 *
 * @example
 * ```ts
 * import { epochOf } from "./proposer.ts";
 * epochOf(65, 32); // 2
 * ```
 */
export function epochOf(slot: number, epochLengthSlots: number): number {
  checkSlot(slot);
  if (!Number.isSafeInteger(epochLengthSlots) || epochLengthSlots <= 0) {
    throw new ConsensusError(
      "INVALID_OPTIONS",
      `epoch length must be a positive integer number of slots, got ${epochLengthSlots}`,
      { epochLengthSlots },
    );
  }
  return Math.floor(slot / epochLengthSlots);
}

function checkSlot(slot: number): void {
  if (!isUint(slot)) {
    throw new ConsensusError(
      "INVALID_ARGUMENT",
      `slot must be a non-negative safe integer, got ${slot}`,
      { slot },
    );
  }
}

// Code-unit order, not localeCompare: the schedule must not depend on the host locale.
function byId(a: Validator, b: Validator): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * A validator set prepared for per-slot proposer lookups: sorted by id, cumulative
 * stakes computed once, so each lookup is one small hash plus a binary search.
 *
 * The slot's seed is BLAKE3 of the canonical CBOR of `["proposer", slot]`; its first
 * 8 bytes (big-endian) modulo the total stake pick a point on the cumulative stake
 * line, and the validator whose stake interval holds that point proposes.
 *
 * @example
 * ```ts
 * import { ProposerSchedule } from "./proposer.ts";
 * const s = new ProposerSchedule([{ id: "b", stake: 1 }, { id: "a", stake: 3 }]);
 * s.proposerFor(7); // "a" or "b", the same on every machine
 * s.totalStake; // 4
 * ```
 */
export class ProposerSchedule {
  /** Validators sorted by id (copies; the caller's array is not kept). */
  readonly validators: readonly Validator[];
  /** Sum of all stakes. */
  readonly totalStake: number;
  readonly #cumulative: number[];
  readonly #stakeById: Map<string, number>;
  readonly #totalBig: bigint;
  // One-entry memo: the node asks for the same slot several times within a tick.
  #memoSlot = -1;
  #memoProposer = "";

  /** @param validators the validator set (any order; validated here) */
  constructor(validators: readonly Validator[]) {
    validateValidators(validators);
    this.validators = Object.freeze(
      validators.map((v) => Object.freeze({ id: v.id, stake: v.stake })).sort(byId),
    );
    this.#cumulative = [];
    this.#stakeById = new Map();
    let total = 0;
    for (const v of this.validators) {
      total += v.stake;
      this.#cumulative.push(total);
      this.#stakeById.set(v.id, v.stake);
    }
    this.totalStake = total;
    this.#totalBig = BigInt(total);
  }

  /** Stake of validator `id`, or undefined when it is not in the set. */
  stakeOf(id: string): number | undefined {
    return this.#stakeById.get(id);
  }

  /** Whether `id` is in the validator set. */
  has(id: string): boolean {
    return this.#stakeById.has(id);
  }

  /** Id of the validator scheduled to propose at `slot`. */
  proposerFor(slot: number): string {
    if (slot === this.#memoSlot) return this.#memoProposer;
    checkSlot(slot);
    const seed = hashCanonical(["proposer", slot]);
    const id = this.validators[stakeWeightedIndex(seed, this.#cumulative, this.#totalBig)].id;
    this.#memoSlot = slot;
    this.#memoProposer = id;
    return id;
  }
}

/**
 * The stake-weighted draw of both proposer schedules (slots here, BFT rounds in
 * `bft/validators.ts`): the first 64 bits of the hex `seed` modulo the total stake
 * pick a point, and the answer is the smallest index `i` with `point < cumulative[i]`
 * (validator `i` owns the interval `[cumulative[i-1], cumulative[i])`).
 *
 * @example
 * ```ts
 * import { stakeWeightedIndex } from "./proposer.ts";
 * stakeWeightedIndex("00".repeat(32), [1, 3], 3n); // 0
 * ```
 */
export function stakeWeightedIndex(
  seed: string,
  cumulative: readonly number[],
  total: bigint,
): number {
  const point = Number(BigInt("0x" + seed.slice(0, 16)) % total);
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (point < cumulative[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Proposer scheduled for `slot` in a validator set. Builds a fresh schedule on each
 * call; hot paths should keep a {@link ProposerSchedule} instead.
 *
 * @example
 * ```ts
 * import { proposerForSlot } from "./proposer.ts";
 * proposerForSlot([{ id: "v1", stake: 1 }], 5); // "v1"
 * ```
 */
export function proposerForSlot(validators: readonly Validator[], slot: number): string {
  return new ProposerSchedule(validators).proposerFor(slot);
}
