/**
 * Consensus options and the persisted state an engine resumes from, with the checks
 * that turn a bad value into a clear {@link ConsensusError}. Pure.
 * @module
 */
import { isUint } from "./_uint.ts";
import { ConsensusError } from "./errors.ts";
import { GENESIS_PARENT, type Validator } from "./types.ts";

/** Consensus parameters. */
export interface ConsensusOptions {
  /** The validator set (any order; the engine sorts a copy by id). */
  readonly validators: readonly Validator[];
  /** A block commits when attested stake / total stake >= numerator / denominator. */
  readonly supermajorityNumerator: number;
  /** See {@link ConsensusOptions.supermajorityNumerator}. */
  readonly supermajorityDenominator: number;
  /** Slots per epoch. */
  readonly epochLengthSlots: number;
}

/**
 * Defaults for everything but the validator set: a 2/3 supermajority, 32-slot epochs.
 *
 * @example
 * ```ts
 * import { defaultConsensusOptions } from "./options.ts";
 * defaultConsensusOptions.epochLengthSlots; // 32
 * ```
 */
export const defaultConsensusOptions: Readonly<Omit<ConsensusOptions, "validators">> = Object
  .freeze({
    supermajorityNumerator: 2,
    supermajorityDenominator: 3,
    epochLengthSlots: 32,
  });

/** Engine options: the validator set plus any overrides of the defaults. */
export type ConsensusEngineOptions =
  & Pick<ConsensusOptions, "validators">
  & Partial<Omit<ConsensusOptions, "validators">>;

/** The persisted values an engine resumes from after a restart. */
export interface ConsensusResumeState {
  /** Height of the last committed block (0: none yet). */
  readonly committedHeight: number;
  /** Hash of the last committed block ({@link GENESIS_PARENT} when none). */
  readonly lastBlockHash: string;
  /** Slot of the last committed block (0 when none). */
  readonly lastSlot: number;
}

/**
 * Fills in defaults and checks the supermajority fraction (positive integers,
 * numerator <= denominator) and the epoch length (positive integer). The validator
 * set is checked by the proposer schedule. Throws `INVALID_OPTIONS`.
 *
 * @example
 * ```ts
 * import { resolveConsensusOptions } from "./options.ts";
 * resolveConsensusOptions({ validators: [{ id: "v1", stake: 1 }] }).supermajorityNumerator; // 2
 * ```
 */
export function resolveConsensusOptions(options: ConsensusEngineOptions): ConsensusOptions {
  const o: ConsensusOptions = { ...defaultConsensusOptions, ...options };
  const num = o.supermajorityNumerator;
  const den = o.supermajorityDenominator;
  const fraction = { supermajorityNumerator: num, supermajorityDenominator: den };
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den) || num <= 0 || den <= 0) {
    throw new ConsensusError(
      "INVALID_OPTIONS",
      `supermajority must be a fraction of positive integers, got ${num}/${den}`,
      fraction,
    );
  }
  if (num > den) {
    throw new ConsensusError(
      "INVALID_OPTIONS",
      `supermajority ${num}/${den} exceeds 1, so no stake could ever reach it`,
      fraction,
    );
  }
  if (!Number.isSafeInteger(o.epochLengthSlots) || o.epochLengthSlots <= 0) {
    throw new ConsensusError(
      "INVALID_OPTIONS",
      `epochLengthSlots must be a positive integer, got ${o.epochLengthSlots}`,
      { epochLengthSlots: o.epochLengthSlots },
    );
  }
  return o;
}

/**
 * Fills in defaults (height 0, {@link GENESIS_PARENT}, slot 0) and checks that the
 * values fit together: only height 0 has the genesis parent, and each committed
 * block took its own slot (slot >= height). Throws `INVALID_RESTORE`.
 *
 * @example
 * ```ts
 * import { resolveResumeState } from "./options.ts";
 * resolveResumeState({}).lastBlockHash; // "genesis"
 * ```
 */
export function resolveResumeState(resume: Partial<ConsensusResumeState>): ConsensusResumeState {
  const state: ConsensusResumeState = {
    committedHeight: resume.committedHeight ?? 0,
    lastBlockHash: resume.lastBlockHash ?? GENESIS_PARENT,
    lastSlot: resume.lastSlot ?? 0,
  };
  const { committedHeight: height, lastBlockHash: hash, lastSlot: slot } = state;
  const context = { ...state };
  for (const [name, value] of [["committedHeight", height], ["lastSlot", slot]] as const) {
    if (!isUint(value)) {
      throw new ConsensusError(
        "INVALID_RESTORE",
        `${name} must be a non-negative safe integer, got ${value}`,
        context,
      );
    }
  }
  if (typeof hash !== "string" || hash.length === 0) {
    throw new ConsensusError(
      "INVALID_RESTORE",
      "lastBlockHash must be a non-empty string",
      context,
    );
  }
  if ((height === 0) !== (hash === GENESIS_PARENT)) {
    throw new ConsensusError(
      "INVALID_RESTORE",
      `committed height ${height} does not fit last block hash "${hash}" ` +
        `(only height 0 has the genesis parent)`,
      context,
    );
  }
  if (slot < height) {
    throw new ConsensusError(
      "INVALID_RESTORE",
      `last slot ${slot} is below committed height ${height}; each block takes its own slot`,
      context,
    );
  }
  return state;
}
