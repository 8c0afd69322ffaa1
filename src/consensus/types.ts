/**
 * Consensus data types. In memory the names are camelCase; on disk and on the wire
 * they are the snake_case names (see `encodeHeader` in `block.ts`).
 * @module
 */
import type { CommitCertificate, DuplicateVoteEvidence } from "./bft/types.ts";

/** A world action carried in a block: a plain JSON-like object with a `kind`. */
export type BlockAction = Readonly<Record<string, unknown>> & { readonly kind: string };

/** A validator and its stake. */
export interface Validator {
  /** Stable id (also the proposer name in headers). */
  readonly id: string;
  /** Positive integer stake. */
  readonly stake: number;
}

/** The hashed part of a block. */
export interface BlockHeader {
  readonly height: number;
  readonly slot: number;
  readonly epoch: number;
  /** Hash of the parent block, or {@link GENESIS_PARENT} at height 1. */
  readonly parentHash: string;
  /** Validator id of the proposer scheduled for `slot`. */
  readonly proposer: string;
  /** Hash of the canonical CBOR of the action list. */
  readonly actionsRoot: string;
  /** Proposer's timestamp: the slot's start time (unix ms). */
  readonly timestampMs: number;
  /**
   * The proposer's latest executed height when it proposed (execution agreement);
   * absent (with {@link executionStateRoot}) in blocks without a claim.
   */
  readonly executionHeight?: number;
  /** The proposer's state root after executing {@link executionHeight}. */
  readonly executionStateRoot?: string;
}

/** A proposed block. */
export interface Block {
  readonly header: BlockHeader;
  /** Hash of the header's canonical CBOR. */
  readonly hash: string;
  readonly actions: readonly BlockAction[];
}

/** A validator's vote for a block. */
export interface Attestation {
  readonly height: number;
  readonly slot: number;
  readonly blockHash: string;
  readonly validator: string;
}

/** A block with the attestations that committed it. */
export interface CommittedBlock extends Block {
  readonly attestations: readonly Attestation[];
  /** Wall-clock time the commit was observed (unix ms); carried to the execution hook. */
  readonly committedAtUnixMs: number;
  /**
   * The BFT commit certificate (precommits of > 2/3 of stake for the BFT block id);
   * absent in blocks written before BFT. NOT covered by `hash` (carried beside the
   * block, like CometBFT's commit).
   */
  readonly certificate?: CommitCertificate;
  /** Duplicate-vote evidence the block carries (covered by the certificate's block id). */
  readonly evidence?: readonly DuplicateVoteEvidence[];
}

/** Status of the latest proposal the engine handled. */
export type BlockStatus = "Pending" | "Committed" | "Rejected";

/** Parent hash of the first block. */
export const GENESIS_PARENT = "genesis";
