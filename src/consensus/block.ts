/**
 * Canonical block bytes: header ⇄ snake_case wire form, header hash, actions root.
 * Pure: no I/O, no clock.
 * @module
 */
import { hashCanonical } from "../storage/hash.ts";
import type { Attestation, Block, BlockAction, BlockHeader, CommittedBlock } from "./types.ts";

/** Wire (snake_case) form of a header; this exact map is what gets hashed. */
export interface BlockHeaderWire {
  height: number;
  slot: number;
  epoch: number;
  parent_hash: string;
  proposer: string;
  actions_root: string;
  timestamp_ms: number;
  /** The proposer's execution claim; both absent when the block carries none. */
  execution_height?: number;
  execution_state_root?: string;
}

/** Header to its wire form. */
export function headerToWire(h: BlockHeader): BlockHeaderWire {
  return {
    height: h.height,
    slot: h.slot,
    epoch: h.epoch,
    parent_hash: h.parentHash,
    proposer: h.proposer,
    actions_root: h.actionsRoot,
    timestamp_ms: h.timestampMs,
    // Only when present, so a header without a claim hashes as it always did.
    ...(h.executionHeight !== undefined && h.executionStateRoot !== undefined
      ? { execution_height: h.executionHeight, execution_state_root: h.executionStateRoot }
      : {}),
  };
}

/** Header from its wire form (fields are assumed checked by the caller's schema). */
export function headerFromWire(w: BlockHeaderWire): BlockHeader {
  return {
    height: w.height,
    slot: w.slot,
    epoch: w.epoch,
    parentHash: w.parent_hash,
    proposer: w.proposer,
    actionsRoot: w.actions_root,
    timestampMs: w.timestamp_ms,
    ...(w.execution_height !== undefined && w.execution_state_root !== undefined
      ? { executionHeight: w.execution_height, executionStateRoot: w.execution_state_root }
      : {}),
  };
}

/**
 * Block hash: BLAKE3 of the header's canonical CBOR (wire names).
 *
 * @example
 * ```ts
 * import { hashHeader } from "./block.ts";
 * const h = hashHeader({
 *   height: 1, slot: 1, epoch: 0, parentHash: "genesis", proposer: "v1",
 *   actionsRoot: "00", timestampMs: 0,
 * });
 * ```
 */
export function hashHeader(h: BlockHeader): string {
  return hashCanonical(headerToWire(h));
}

/** Hash of the canonical CBOR of the ordered action list. */
export function actionsRoot(actions: readonly BlockAction[]): string {
  return hashCanonical(actions);
}

/** Builds a block (computes the actions root and hash). */
export function makeBlock(
  fields: Omit<BlockHeader, "actionsRoot">,
  actions: readonly BlockAction[],
): Block {
  const header: BlockHeader = { ...fields, actionsRoot: actionsRoot(actions) };
  return { header, hash: hashHeader(header), actions };
}

/** Wire form of an attestation. */
export interface AttestationWire {
  height: number;
  slot: number;
  block_hash: string;
  validator: string;
}

/** Attestation to its wire form. */
export function attestationToWire(a: Attestation): AttestationWire {
  return { height: a.height, slot: a.slot, block_hash: a.blockHash, validator: a.validator };
}

/** Attestation from its wire form. */
export function attestationFromWire(w: AttestationWire): Attestation {
  return { height: w.height, slot: w.slot, blockHash: w.block_hash, validator: w.validator };
}

/** Wire form of a committed block, as the block store keeps it. */
export interface CommittedBlockWire {
  height: number;
  hash: string;
  header: BlockHeaderWire;
  actions: BlockAction[];
  attestations: AttestationWire[];
  committed_at_unix_ms: number;
}

/** Committed block to its wire form. */
export function committedBlockToWire(b: CommittedBlock): CommittedBlockWire {
  return {
    height: b.header.height,
    hash: b.hash,
    header: headerToWire(b.header),
    actions: [...b.actions],
    attestations: b.attestations.map(attestationToWire),
    committed_at_unix_ms: b.committedAtUnixMs,
  };
}

/** Committed block from its wire form. */
export function committedBlockFromWire(w: CommittedBlockWire): CommittedBlock {
  return {
    header: headerFromWire(w.header),
    hash: w.hash,
    actions: w.actions,
    attestations: w.attestations.map(attestationFromWire),
    committedAtUnixMs: w.committed_at_unix_ms,
  };
}

/**
 * A copy of `b` with only the known header fields, so nothing a sender attached to a
 * block from outside rides along.
 */
export function copyBlock(b: Block): Block {
  const h = b.header;
  const header: BlockHeader = {
    height: h.height,
    slot: h.slot,
    epoch: h.epoch,
    parentHash: h.parentHash,
    proposer: h.proposer,
    actionsRoot: h.actionsRoot,
    timestampMs: h.timestampMs,
  };
  return { header, hash: b.hash, actions: [...b.actions] };
}
