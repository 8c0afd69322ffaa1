/**
 * What the PoS consensus engine ({@link ./engine.ts}) answers: a commit, the pending
 * proposal, and the outcome of a proposal or an attestation from outside.
 * @module
 */
import type { ConsensusRejection } from "./errors.ts";
import type { Attestation, Block } from "./types.ts";

/** A block that reached the supermajority, with the attestations that got it there. */
export interface ConsensusCommit {
  readonly block: Block;
  readonly attestations: readonly Attestation[];
}

/** The proposal waiting for attestations. */
export interface PendingProposal {
  readonly block: Block;
  readonly attestations: readonly Attestation[];
  readonly attestedStake: number;
}

/** Outcome of `ConsensusEngine.onProposal`. */
export type ProposalResult =
  | {
    readonly status: "Pending";
    readonly block: Block;
    /** The same block was already pending (its attestations are kept). */
    readonly duplicate: boolean;
    /** The older pending proposal this one replaced, if any. */
    readonly superseded: Block | null;
  }
  | { readonly status: "Rejected"; readonly reason: ConsensusRejection };

/** Outcome of `ConsensusEngine.onAttestation`. */
export type AttestationResult =
  | {
    readonly status: "Pending";
    /** The validator had already attested; nothing was counted. */
    readonly duplicate: boolean;
    readonly attestedStake: number;
    readonly requiredStake: number;
  }
  | ({ readonly status: "Committed" } & ConsensusCommit)
  | { readonly status: "Rejected"; readonly reason: ConsensusRejection };
