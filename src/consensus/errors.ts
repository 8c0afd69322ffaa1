/**
 * Consensus error codes and the error class. The same codes name a rejected proposal
 * or attestation (returned, not thrown), so a caller branches on one vocabulary.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorArgs } from "../errors.ts";

/** Machine-readable reasons the consensus engine raises or reports. */
export type ConsensusErrorCode =
  /** Validator list empty, an id empty or repeated, a stake not a positive safe integer. */
  | "INVALID_VALIDATORS"
  /** Supermajority fraction or epoch length out of range. */
  | "INVALID_OPTIONS"
  /** Persisted (height, hash, slot) to resume from is inconsistent. */
  | "INVALID_RESTORE"
  /** A slot or timestamp is not a non-negative safe integer. */
  | "INVALID_ARGUMENT"
  /** A proposal's header has a missing or wrong-typed field. */
  | "BAD_HEADER"
  /** A proposal's actions are not a list of objects with a string `kind`, or cannot be encoded. */
  | "BAD_ACTIONS"
  /** An attestation has a missing or wrong-typed field. */
  | "BAD_ATTESTATION"
  /** Proposer or attester is not in the validator set. */
  | "UNKNOWN_VALIDATOR"
  /** Proposer is not the one scheduled for the slot. */
  | "WRONG_PROPOSER"
  /** Height is not committed height + 1 (or not the pending block's height). */
  | "WRONG_HEIGHT"
  /** Parent hash is not the last committed block's hash. */
  | "WRONG_PARENT"
  /** Slot is not after the last committed slot (or the pending proposal's slot). */
  | "STALE_SLOT"
  /** Epoch does not match the slot. */
  | "WRONG_EPOCH"
  /** Block hash is not the hash of its header. */
  | "BAD_HASH"
  /** Actions root is not the hash of the block's actions. */
  | "BAD_ACTIONS_ROOT"
  /** A second, different block for the slot of the pending proposal. */
  | "CONFLICTING_PROPOSAL"
  /** A pending proposal was replaced by a valid proposal for a later slot. */
  | "SUPERSEDED"
  /** Attestation for a block other than the pending one at that height. */
  | "WRONG_BLOCK"
  /** No proposal is pending. */
  | "NOT_PENDING";

/**
 * Error thrown by the consensus engine for bad configuration or a call the caller
 * should not have made (e.g. proposing for another validator's slot).
 *
 * @example
 * ```ts
 * import { ConsensusError } from "./errors.ts";
 * try {
 *   throw new ConsensusError("STALE_SLOT", "slot 3 is not after 5", { slot: 3, lastSlot: 5 });
 * } catch (e) {
 *   if (e instanceof ConsensusError && e.code === "STALE_SLOT") console.log(e.context.slot);
 * }
 * ```
 */
export class ConsensusError<C extends ConsensusErrorCode = ConsensusErrorCode>
  extends AwrError<C> {}

/**
 * Why a proposal or attestation was refused: returned as data (not thrown), because
 * a bad message from the network is an expected event, not a bug.
 *
 * @example
 * ```ts
 * import type { ConsensusRejection } from "./errors.ts";
 * const r: ConsensusRejection = { code: "WRONG_PARENT", message: "parent mismatch", context: {} };
 * ```
 */
export interface ConsensusRejection {
  readonly code: ConsensusErrorCode;
  readonly message: string;
  readonly context: Readonly<Record<string, unknown>>;
}

/**
 * Builds a {@link ConsensusRejection}.
 *
 * @example
 * ```ts
 * import { rejection } from "./errors.ts";
 * rejection("STALE_SLOT", "slot 2 is not after 4", { slot: 2, lastSlot: 4 }).code; // "STALE_SLOT"
 * ```
 */
export function rejection<C extends ConsensusErrorCode>(
  code: C,
  message: string,
  ...args: ErrorArgs<C>
): ConsensusRejection {
  return { code, message, context: args[0] ?? {} };
}
