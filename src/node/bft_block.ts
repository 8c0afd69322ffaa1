/**
 * How local mode maps the node's blocks onto the BFT engine's: the proposal payload
 * (`{slot, epoch, timestamp_ms, actions}` plus the proposer's execution claim), the
 * committed block built from a decided BFT block (the claim goes into its header, as
 * CometBFT's app hash goes into the next header), and the stored certificate and
 * evidence read back from a block file.
 *
 * The node's block hash stays BLAKE3 of the header only. The commit certificate is
 * NOT covered by it (as in CometBFT, where the commit of height h is carried
 * separately); the certificate's precommits sign the BFT block id (payload, parent
 * id, proposer, evidence), so the evidence a block carries is covered by its id.
 * @module
 */
import { makeBlock } from "../consensus/block.ts";
import { parseMessage } from "../consensus/bft/checks.ts";
import type {
  BftBlock,
  BftCommit,
  CommitCertificate,
  DuplicateVoteEvidence,
} from "../consensus/bft/types.ts";
import type { BlockAction, CommittedBlock } from "../consensus/types.ts";
import { GENESIS_PARENT } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import type { CborValue } from "../storage/cbor.ts";

/**
 * What a local-mode proposal carries: the slot, its epoch, the time, the actions and,
 * since execution agreement, the proposer's latest execution claim (both `execution_*`
 * fields or neither; a payload without them is a block with no claim).
 */
export interface LocalPayload {
  readonly slot: number;
  readonly epoch: number;
  readonly timestamp_ms: number;
  readonly actions: readonly BlockAction[];
  readonly execution_height?: number;
  readonly execution_state_root?: string;
}

/** A proposer's claim: "after executing `height` my state root is `stateRoot`". */
export interface ExecutionClaim {
  readonly height: number;
  readonly stateRoot: string;
}

/** Longest state root a claim may carry (characters). */
export const MAX_CLAIM_ROOT_CHARS = 256;

/** The payload a local proposer proposes (`claim` null/absent = no execution claim). */
export function makePayload(
  slot: number,
  epoch: number,
  timestampMs: number,
  actions: readonly BlockAction[],
  claim?: ExecutionClaim | null,
): CborValue {
  const p: LocalPayload = {
    slot,
    epoch,
    timestamp_ms: timestampMs,
    actions,
    ...(claim ? { execution_height: claim.height, execution_state_root: claim.stateRoot } : {}),
  };
  return p as unknown as CborValue;
}

/** The claim of a parsed payload, or null when it carries none. */
export function payloadClaim(p: LocalPayload): ExecutionClaim | null {
  if (p.execution_height === undefined || p.execution_state_root === undefined) return null;
  return { height: p.execution_height, stateRoot: p.execution_state_root };
}

const isU64 = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function claimFieldsValid(o: Record<string, unknown>): boolean {
  const h = o.execution_height, r = o.execution_state_root;
  if (h === undefined && r === undefined) return true;
  return isU64(h) && (h as number) >= 1 && typeof r === "string" && r.length > 0 &&
    r.length <= MAX_CLAIM_ROOT_CHARS;
}

/** The payload's fields, or null when it is not a local-mode payload (valid(v) is false). */
export function parsePayload(p: CborValue): LocalPayload | null {
  if (p === null || typeof p !== "object" || Array.isArray(p) || p instanceof Uint8Array) {
    return null;
  }
  const o = p as Record<string, unknown>;
  if (!isU64(o.slot) || (o.slot as number) < 1 || !isU64(o.epoch) || !isU64(o.timestamp_ms)) {
    return null;
  }
  if (!Array.isArray(o.actions) || !claimFieldsValid(o)) return null;
  for (const a of o.actions) {
    if (a === null || typeof a !== "object" || typeof (a as { kind?: unknown }).kind !== "string") {
      return null;
    }
  }
  return o as unknown as LocalPayload;
}

/**
 * The node's committed block for a BFT decision: header from the payload, parent =
 * the previous node block hash, attestations = the certificate's precommitters.
 *
 * @example
 * ```ts ignore
 * import { committedFromBft } from "./bft_block.ts";
 * const block = committedFromBft(commit, state.lastBlockHash, Date.now());
 * ```
 */
export function committedFromBft(
  commit: BftCommit,
  parentHash: string | null,
  committedAtUnixMs: number,
): CommittedBlock {
  const b = commit.block;
  const p = parsePayload(b.payload);
  if (!p) {
    throw new AwrError(
      "BFT_PAYLOAD_INVALID",
      `decided block ${b.height} has a payload that is not {slot, epoch, timestamp_ms, actions}`,
      { height: b.height },
    );
  }
  const block = makeBlock({
    height: b.height,
    slot: p.slot,
    epoch: p.epoch,
    parentHash: parentHash ?? GENESIS_PARENT,
    proposer: b.proposer,
    timestampMs: p.timestamp_ms,
    ...claimHeader(payloadClaim(p)),
  }, p.actions);
  return {
    ...block,
    attestations: commit.certificate.precommits.map((sv) => ({
      height: b.height,
      slot: p.slot,
      blockHash: block.hash,
      validator: sv.vote.validator,
    })),
    committedAtUnixMs,
    certificate: commit.certificate,
    evidence: b.evidence,
  };
}

function claimHeader(c: ExecutionClaim | null) {
  return c ? { executionHeight: c.height, executionStateRoot: c.stateRoot } : {};
}

/** The execution claim a committed block's header carries, or null. */
export function blockClaim(block: CommittedBlock): ExecutionClaim | null {
  const h = block.header;
  if (h.executionHeight === undefined || h.executionStateRoot === undefined) return null;
  return { height: h.executionHeight, stateRoot: h.executionStateRoot };
}

/** The BFT block a stored committed block was decided as (`parent` = the previous BFT id). */
export function bftBlockOf(block: CommittedBlock, parent: string): BftBlock {
  const h = block.header;
  return {
    height: h.height,
    parent,
    proposer: h.proposer,
    payload: makePayload(h.slot, h.epoch, h.timestampMs, block.actions, blockClaim(block)),
    evidence: block.evidence ?? [],
  };
}

/**
 * Parses the `certificate` and `evidence` fields of a block file. An empty certificate
 * map is a block written before BFT (no certificate). Throws naming the file.
 */
export function parseStoredBft(
  certificate: unknown,
  evidence: unknown,
  height: number,
  path: string,
): { certificate?: CommitCertificate; evidence?: readonly DuplicateVoteEvidence[] } {
  const none = certificate !== null && typeof certificate === "object" &&
    Object.keys(certificate).length === 0;
  if (none && Array.isArray(evidence) && evidence.length === 0) return {};
  const m = parseMessage({
    kind: "commit",
    block: { height, parent: "", proposer: "", payload: null, evidence },
    certificate: none ? { height, round: 0, block: "0".repeat(64), precommits: [] } : certificate,
  });
  if (typeof m === "string" || m.kind !== "commit") {
    throw new AwrError(
      "BLOCK_FILE_INCONSISTENT",
      `${path}: field certificate/evidence is malformed (${m as string})`,
      { path, height },
    );
  }
  return {
    ...(none ? {} : { certificate: m.certificate }),
    evidence: m.block.evidence,
  };
}
