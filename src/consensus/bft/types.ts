/**
 * Data types of the BFT protocol (Tendermint rounds: propose → prevote → precommit).
 * Wire names equal the in-memory names (all single words), so a message is its own
 * canonical CBOR form.
 * @module
 */
import type { CborValue } from "../../storage/cbor.ts";

/** Parent id of the block at height 1. */
export const BFT_GENESIS_PARENT = "genesis";

/** The two vote types. */
export type VoteType = "prevote" | "precommit";

/** A round step, in the order a validator walks them within one round. */
export type RoundStep = "propose" | "prevote" | "precommit";

/** Order of steps inside a round (used by the double-sign guard). */
export const STEP_ORDER: Readonly<Record<RoundStep, number>> = {
  propose: 1,
  prevote: 2,
  precommit: 3,
};

/** A block as the BFT engine sees it: the host's payload plus evidence to punish. */
export interface BftBlock {
  /** Height this block decides (1 for the first block). */
  readonly height: number;
  /** Id of the block at `height - 1`, or {@link BFT_GENESIS_PARENT}. */
  readonly parent: string;
  /** Validator that built the block (informational: a re-proposed valid value keeps it). */
  readonly proposer: string;
  /** Host-defined content (actions, timestamps); the engine only hashes it. */
  readonly payload: CborValue;
  /** Duplicate-vote evidence included for punishment. */
  readonly evidence: readonly DuplicateVoteEvidence[];
}

/** A proposal ⟨PROPOSAL, h, r, v, vr⟩ of the paper. */
export interface Proposal {
  readonly height: number;
  readonly round: number;
  readonly block: BftBlock;
  /** The round of the polka that made `block` a valid value, or -1. */
  readonly validRound: number;
  readonly proposer: string;
}

/** A vote ⟨PREVOTE|PRECOMMIT, h, r, id(v)⟩; `block` null is a vote for nil. */
export interface Vote {
  readonly type: VoteType;
  readonly height: number;
  readonly round: number;
  readonly block: string | null;
  readonly validator: string;
}

/** A vote and its signature over {@link voteSignBytes}. */
export interface SignedVote {
  readonly vote: Vote;
  readonly signature: Uint8Array;
}

/** The precommits (> 2/3 of stake) that decided a block: stored with the block. */
export interface CommitCertificate {
  readonly height: number;
  readonly round: number;
  /** Id of the decided block. */
  readonly block: string;
  readonly precommits: readonly SignedVote[];
}

/** Two validly signed, conflicting votes by one validator at one (height, round, type). */
export interface DuplicateVoteEvidence {
  readonly kind: "duplicate-vote";
  readonly a: SignedVote;
  readonly b: SignedVote;
}

/** A message between validators. */
export type BftMessage =
  | { readonly kind: "proposal"; readonly proposal: Proposal; readonly signature: Uint8Array }
  | { readonly kind: "vote"; readonly vote: Vote; readonly signature: Uint8Array }
  /** A decided block with its certificate, sent to a peer that is behind. */
  | {
    readonly kind: "commit";
    readonly block: BftBlock;
    readonly certificate: CommitCertificate;
  };

/** A timeout the engine asked for, named by what it guards. */
export interface TimeoutEvent {
  readonly step: RoundStep;
  readonly height: number;
  readonly round: number;
}

/** What the host feeds the engine. */
export type EngineInput =
  /** Begin: StartRound(0) at the start height (or the restored round). */
  | { readonly kind: "start" }
  /** A message from the network: untrusted, checked field by field. */
  | { readonly kind: "message"; readonly message: unknown }
  /** A timeout the engine scheduled has fired. */
  | { readonly kind: "timeout"; readonly timeout: TimeoutEvent }
  /** A gossip tick: when (height, round) has not moved since the previous tick, the
   * engine relays what it holds for the round, so dropped messages are made up for. */
  | { readonly kind: "gossip" }
  /** getValue() answered: the payload to propose at (height, round). */
  | {
    readonly kind: "value";
    readonly height: number;
    readonly round: number;
    readonly payload: CborValue;
  };

/** A committed block and its certificate. */
export interface BftCommit {
  readonly block: BftBlock;
  readonly blockId: string;
  readonly certificate: CommitCertificate;
}

/** What the engine asks the host to do, in order. */
export type EngineOutput =
  /** Persist this signer state durably BEFORE performing any later output. */
  | { readonly kind: "persist"; readonly state: SignerState }
  /** Send to every other validator. */
  | { readonly kind: "broadcast"; readonly message: BftMessage }
  /** Send to every other validator a message this validator did not sign now (a relay). */
  | { readonly kind: "relay"; readonly message: BftMessage }
  /** Schedule a timeout input after `delayMs`. */
  | { readonly kind: "schedule"; readonly timeout: TimeoutEvent; readonly delayMs: number }
  /** This validator proposes at (height, round): answer with a "value" input. */
  | {
    readonly kind: "request-value";
    readonly height: number;
    readonly round: number;
    /** Evidence the block should carry (already verified). */
    readonly evidence: readonly DuplicateVoteEvidence[];
  }
  /** A block is decided; store it with its certificate before acting on it. */
  | { readonly kind: "commit"; readonly commit: BftCommit }
  /** New duplicate-vote evidence entered the pool. */
  | { readonly kind: "evidence"; readonly evidence: DuplicateVoteEvidence }
  /** A peer sent a message for an older height: send it the commit of `height`. */
  | { readonly kind: "peer-behind"; readonly peer: string; readonly height: number }
  /** A message was refused (malformed, bad signature, unknown validator, …). */
  | { readonly kind: "rejected"; readonly code: string; readonly detail: string }
  /** The double-sign guard refused to sign. */
  | { readonly kind: "sign-refused"; readonly detail: string };

/**
 * What a validator last signed (CometBFT's priv_validator_state), plus its lock so a
 * restart cannot forget it. Persisted before the signed message leaves.
 */
export interface SignerState {
  readonly height: number;
  readonly round: number;
  /** Step of the last signature (0 = nothing signed yet). */
  readonly step: number;
  /** BLAKE3 hex of the last signed bytes, "" when nothing was signed. */
  readonly signBytesHash: string;
  /** The signature of those bytes (re-signing identical bytes returns it). */
  readonly signature: Uint8Array;
  /** lockedRound_p at `height` (-1 when not locked). */
  readonly lockedRound: number;
  /** Proof of lockedValue_p at `height` (null when not locked). */
  readonly lockProof: LockProof | null;
}

/** A lock and its justification: the proposal and the polka (> 2/3 prevotes) for it. */
export interface LockProof {
  readonly proposal: Extract<BftMessage, { kind: "proposal" }>;
  readonly prevotes: readonly SignedVote[];
}
