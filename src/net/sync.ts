/**
 * Block sync over a libp2p request/response protocol (`/awr/<world>/sync/1`): a node
 * that is behind asks a peer for `count` committed blocks from height `from`; the peer
 * answers with the BFT blocks and their commit certificates (CometBFT's blocksync,
 * one request per stream). The asker checks each certificate against the genesis
 * validator set before it hands the commit to the node, whose engine checks it again
 * and stores it through the normal commit path.
 *
 * Frames: request = canonical CBOR `{from, count}` (≤ {@link MAX_SYNC_REQUEST_BYTES});
 * response = CBOR array of `{block, certificate}` (≤ `maxResponseBytes`).
 * @module
 */
import { checkCertificate, parseMessage } from "../consensus/bft/checks.ts";
import { blockId, type Verifier } from "../consensus/bft/signing.ts";
import type { BftBlock, BftMessage, CommitCertificate } from "../consensus/bft/types.ts";
import type { BftValidatorSet } from "../consensus/bft/validators.ts";
import { decodeCbor, encodeCanonical } from "../storage/cbor.ts";

/** Largest sync request frame (bytes). */
export const MAX_SYNC_REQUEST_BYTES = 64;

/** A committed block as sync carries it. */
export interface SyncCommit {
  readonly block: BftBlock;
  readonly certificate: CommitCertificate;
}

/** Reads the commit at a height from the local store (null when not committed). */
export type CommitSource = (height: number) => Promise<SyncCommit | null>;

/** A parsed sync request. */
export interface SyncRequest {
  readonly from: number;
  readonly count: number;
}

/** Encodes a request. */
export function encodeSyncRequest(r: SyncRequest): Uint8Array {
  return encodeCanonical({ from: r.from, count: r.count });
}

/** Parses a request frame; null when malformed or asking for more than `maxBatch`. */
export function parseSyncRequest(bytes: Uint8Array, maxBatch: number): SyncRequest | null {
  if (bytes.length === 0 || bytes.length > MAX_SYNC_REQUEST_BYTES) return null;
  let raw: unknown;
  try {
    raw = decodeCbor(bytes);
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return null;
  const { from, count } = raw as Record<string, unknown>;
  if (typeof from !== "number" || !Number.isSafeInteger(from) || from < 1) return null;
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 1) return null;
  if (count > maxBatch) return null;
  return { from, count };
}

/**
 * The response to a request: the stored commits from `from` on, stopping at the first
 * missing height or before `maxBytes` would be exceeded (at least one commit is sent
 * when it alone fits).
 */
export async function buildSyncResponse(
  r: SyncRequest,
  source: CommitSource,
  maxBytes: number,
): Promise<Uint8Array> {
  const items: Uint8Array[] = [];
  let size = 9; // the array head, at most
  for (let h = r.from; h < r.from + r.count; h++) {
    const c = await source(h);
    if (!c) break;
    const bytes = encodeCanonical({ block: c.block, certificate: c.certificate });
    if (size + bytes.length > maxBytes) break;
    size += bytes.length;
    items.push(bytes);
  }
  return concatArray(items);
}

// A CBOR array of already-encoded items (avoids decoding and re-encoding them).
function concatArray(items: Uint8Array[]): Uint8Array {
  const n = items.length;
  const head = n < 24 ? [0x80 | n] : n < 256 ? [0x98, n] : [0x99, n >> 8, n & 0xff];
  const out = new Uint8Array(head.length + items.reduce((s, b) => s + b.length, 0));
  out.set(head, 0);
  let at = head.length;
  for (const b of items) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** What a response is checked against. */
export interface SyncCheck {
  readonly worldId: string;
  readonly validators: BftValidatorSet;
  readonly verifier: Verifier;
  /** The height asked for first. */
  readonly from: number;
  /** Most commits accepted. */
  readonly count: number;
}

/**
 * Parses a response and verifies it: consecutive heights from `from`, each a
 * well-formed commit whose certificate proves its block (> 2/3 of the genesis stake,
 * valid signatures). Returns the commit messages to feed to the node, or why not.
 */
export function verifySyncResponse(bytes: Uint8Array, c: SyncCheck): BftMessage[] | string {
  let raw: unknown;
  try {
    raw = decodeCbor(bytes);
  } catch {
    return "response is not CBOR";
  }
  if (!Array.isArray(raw)) return "response is not an array";
  if (raw.length > c.count) return `response has ${raw.length} commits, asked ${c.count}`;
  const out: BftMessage[] = [];
  for (const [i, item] of raw.entries()) {
    const m = parseMessage({ kind: "commit", ...(item as object) });
    if (typeof m === "string" || m.kind !== "commit") return `commit ${i}: ${m as string}`;
    const h = c.from + i;
    if (m.block.height !== h) return `commit ${i} is height ${m.block.height}, expected ${h}`;
    if (i > 0) {
      const prev = out[i - 1] as Extract<BftMessage, { kind: "commit" }>;
      if (m.block.parent !== prev.certificate.block) return `commit ${h} does not extend ${h - 1}`;
    }
    const why = checkCertificate(
      c.worldId,
      c.validators,
      c.verifier,
      h,
      blockId(m.block),
      m.certificate,
    );
    if (why !== null) return `commit ${h}: ${why}`;
    out.push(m);
  }
  return out;
}
