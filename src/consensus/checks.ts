/**
 * Validity checks for proposals and attestations against the chain as the engine
 * sees it. They return a {@link ConsensusRejection} instead of throwing, because a
 * bad message from outside is an expected event, not a bug. Pure.
 * @module
 */
import { isUint } from "./_uint.ts";
import { actionsRoot, hashHeader } from "./block.ts";
import { type ConsensusRejection, rejection } from "./errors.ts";
import { epochOf, type ProposerSchedule } from "./proposer.ts";
import type { Attestation, Block, BlockHeader } from "./types.ts";

/** What a check needs to know about the chain. */
export interface ChainView {
  readonly committedHeight: number;
  readonly lastBlockHash: string;
  readonly lastSlot: number;
  readonly epochLengthSlots: number;
  readonly schedule: ProposerSchedule;
  /** The pending proposal, if any. */
  readonly pendingBlock: Block | null;
}

function checkShape(block: Block): ConsensusRejection | null {
  const h = (block as Partial<Block> | null)?.header as Partial<BlockHeader> | undefined;
  if (!h || typeof h !== "object") return rejection("BAD_HEADER", "proposal has no header");
  for (const f of ["height", "slot", "epoch", "timestampMs"] as const) {
    if (!isUint(h[f])) {
      return rejection("BAD_HEADER", `header field ${f} is not a non-negative integer`, {
        field: f,
        value: h[f],
      });
    }
  }
  for (const f of ["parentHash", "proposer", "actionsRoot"] as const) {
    if (typeof h[f] !== "string") {
      return rejection("BAD_HEADER", `header field ${f} is not a string`, { field: f });
    }
  }
  if (typeof block.hash !== "string") return rejection("BAD_HEADER", "block hash is missing");
  return null;
}

// Position in the chain: height, parent, slot, proposer, epoch.
function checkPlace(header: BlockHeader, chain: ChainView): ConsensusRejection | null {
  const { height, slot, parentHash, proposer } = header;
  const expected = chain.committedHeight + 1;
  if (height !== expected) {
    return rejection("WRONG_HEIGHT", `proposal height ${height}, expected ${expected}`, {
      height,
      expected,
    });
  }
  if (parentHash !== chain.lastBlockHash) {
    return rejection(
      "WRONG_PARENT",
      `proposal at height ${height} has parent ${parentHash}, ` +
        `last committed block is ${chain.lastBlockHash}`,
      { height, parentHash, expected: chain.lastBlockHash },
    );
  }
  if (slot <= chain.lastSlot) {
    return rejection("STALE_SLOT", `proposal slot ${slot} is not after ${chain.lastSlot}`, {
      slot,
      lastSlot: chain.lastSlot,
    });
  }
  if (!chain.schedule.has(proposer)) {
    return rejection("UNKNOWN_VALIDATOR", `proposer "${proposer}" is not a validator`, {
      proposer,
    });
  }
  const scheduled = chain.schedule.proposerFor(slot);
  if (proposer !== scheduled) {
    return rejection(
      "WRONG_PROPOSER",
      `"${proposer}" proposed at slot ${slot}; "${scheduled}" is scheduled`,
      { slot, proposer, scheduled },
    );
  }
  const epoch = epochOf(slot, chain.epochLengthSlots);
  if (header.epoch !== epoch) {
    return rejection("WRONG_EPOCH", `slot ${slot} is in epoch ${epoch}, not ${header.epoch}`, {
      slot,
      epoch: header.epoch,
      expected: epoch,
    });
  }
  return null;
}

// Content: the actions and the header must hash to what the block claims.
function checkHashes(block: Block): ConsensusRejection | null {
  const actions: unknown = block.actions;
  if (!Array.isArray(actions)) {
    return rejection("BAD_ACTIONS", "block actions are not a list", { index: -1 });
  }
  const index = actions.findIndex((a) =>
    a === null || typeof a !== "object" || typeof (a as { kind?: unknown }).kind !== "string"
  );
  if (index !== -1) {
    return rejection("BAD_ACTIONS", `action #${index} is not an object with a string kind`, {
      index,
    });
  }
  let root: string;
  try {
    root = actionsRoot(block.actions);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return rejection("BAD_ACTIONS", `actions cannot be encoded: ${why}`, {});
  }
  const header = block.header;
  if (root !== header.actionsRoot) {
    return rejection(
      "BAD_ACTIONS_ROOT",
      `actions hash to ${root}, header says ${header.actionsRoot}`,
      { actionsRoot: header.actionsRoot, computed: root },
    );
  }
  const hash = hashHeader(header);
  if (hash !== block.hash) {
    return rejection("BAD_HASH", `block claims hash ${block.hash}, header hashes to ${hash}`, {
      hash: block.hash,
      computed: hash,
    });
  }
  return null;
}

// A valid block must still be newer than, or identical to, the pending proposal.
function checkAgainstPending(block: Block, pending: Block | null): ConsensusRejection | null {
  if (!pending || pending.hash === block.hash) return null;
  const slot = block.header.slot;
  const pendingSlot = pending.header.slot;
  if (slot < pendingSlot) {
    return rejection("STALE_SLOT", `proposal slot ${slot} is before pending slot ${pendingSlot}`, {
      slot,
      pendingSlot,
    });
  }
  if (slot === pendingSlot) {
    return rejection(
      "CONFLICTING_PROPOSAL",
      `a different block ${pending.hash} is already pending for slot ${slot}`,
      { slot, hash: block.hash, pendingHash: pending.hash },
    );
  }
  return null;
}

/**
 * Checks a proposal from outside: shape, height = committed + 1, parent hash, slot
 * after the last committed slot, scheduled proposer, epoch, actions root, header hash,
 * and that it is newer than (or the same as) the pending proposal. Null when valid.
 *
 * @example
 * ```ts
 * import { checkProposal } from "./checks.ts";
 * import { ProposerSchedule } from "./proposer.ts";
 * import { makeBlock } from "./block.ts";
 * const schedule = new ProposerSchedule([{ id: "v1", stake: 1 }]);
 * const block = makeBlock({
 *   height: 1, slot: 1, epoch: 0, parentHash: "genesis", proposer: "v1", timestampMs: 0,
 * }, []);
 * checkProposal(block, {
 *   committedHeight: 0, lastBlockHash: "genesis", lastSlot: 0, epochLengthSlots: 32,
 *   schedule, pendingBlock: null,
 * }); // null
 * ```
 */
export function checkProposal(block: Block, chain: ChainView): ConsensusRejection | null {
  return checkShape(block) ?? checkPlace(block.header, chain) ?? checkHashes(block) ??
    checkAgainstPending(block, chain.pendingBlock);
}

/**
 * Checks an attestation: well formed, from a known validator, for the pending block
 * (same height, hash and slot). Null when it may be counted.
 *
 * @example
 * ```ts
 * import { checkAttestation } from "./checks.ts";
 * import { ProposerSchedule } from "./proposer.ts";
 * const schedule = new ProposerSchedule([{ id: "v1", stake: 1 }]);
 * checkAttestation({ height: 1, slot: 1, blockHash: "ab", validator: "v1" }, {
 *   committedHeight: 0, lastBlockHash: "genesis", lastSlot: 0, epochLengthSlots: 32,
 *   schedule, pendingBlock: null,
 * })?.code; // "NOT_PENDING"
 * ```
 */
export function checkAttestation(att: Attestation, chain: ChainView): ConsensusRejection | null {
  const a = att as Partial<Attestation> | null;
  if (
    !a || typeof a.validator !== "string" || typeof a.blockHash !== "string" ||
    !isUint(a.height) || !isUint(a.slot)
  ) {
    return rejection("BAD_ATTESTATION", "attestation needs validator, blockHash, height and slot");
  }
  if (!chain.schedule.has(a.validator)) {
    return rejection("UNKNOWN_VALIDATOR", `attester "${a.validator}" is not a validator`, {
      validator: a.validator,
    });
  }
  const p = chain.pendingBlock;
  if (!p) {
    return rejection(
      "NOT_PENDING",
      `no proposal is pending (attestation for height ${a.height})`,
      { height: a.height, blockHash: a.blockHash },
    );
  }
  if (a.height !== p.header.height) {
    return rejection(
      "WRONG_HEIGHT",
      `attestation for height ${a.height}, pending block is at ${p.header.height}`,
      { height: a.height, expected: p.header.height },
    );
  }
  if (a.blockHash !== p.hash || a.slot !== p.header.slot) {
    return rejection(
      "WRONG_BLOCK",
      `attestation for ${a.blockHash} at slot ${a.slot}, pending is ${p.hash} ` +
        `at slot ${p.header.slot}`,
      { blockHash: a.blockHash, slot: a.slot, pendingHash: p.hash, pendingSlot: p.header.slot },
    );
  }
  return null;
}
