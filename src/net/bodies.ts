/**
 * Checks of gossip bodies after their envelope verified: consensus messages (shape and
 * vote/proposal signatures against the genesis set), heads and action batches.
 * @module
 */
import { parseMessage, verifyVote } from "../consensus/bft/checks.ts";
import { proposalSignBytes, type Verifier } from "../consensus/bft/signing.ts";
import type { BftValidatorSet } from "../consensus/bft/validators.ts";
import type { BlockAction } from "../consensus/types.ts";
import { MAX_FRAME_BYTES, type RejectCode } from "./envelope.ts";

/**
 * Most consensus messages in one frame: what a node sends in one go (a proposal with its
 * proposer's prevote; the relays of a stuck round) travels as one envelope whose body is
 * the array of them, so a height costs fewer frames. A bigger array is `BAD_BODY`.
 */
export const MAX_CONSENSUS_BUNDLE = 16;

/**
 * The frames that carry `messages` in order: up to {@link MAX_CONSENSUS_BUNDLE} per
 * frame (`seal` makes a frame of a body: one message alone, several as their array).
 * A bundle whose frame would pass {@link MAX_FRAME_BYTES} (large proposals), or that
 * `seal` refuses, goes as one frame per message instead; a message `seal` refuses alone
 * is handed to `onError` and left out, the others still go.
 */
export function consensusFrames(
  messages: readonly unknown[],
  seal: (body: unknown) => Uint8Array,
  onError: (err: unknown, message: unknown) => void,
): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < messages.length; i += MAX_CONSENSUS_BUNDLE) {
    const part = messages.slice(i, i + MAX_CONSENSUS_BUNDLE);
    let bundle: Uint8Array | null = null;
    try {
      if (part.length > 1) bundle = seal(part);
    } catch {
      bundle = null; // one of them cannot be sealed: each alone finds which
    }
    if (bundle !== null && bundle.length <= MAX_FRAME_BYTES) {
      frames.push(bundle);
      continue;
    }
    for (const m of part) {
      try {
        frames.push(seal(m));
      } catch (err) {
        onError(err, m);
      }
    }
  }
  return frames;
}

/**
 * The consensus messages of a frame's body (one message, or an array of 1 to
 * {@link MAX_CONSENSUS_BUNDLE}) when every one is a vote or proposal of a genesis
 * validator with a valid signature; else why the whole frame is dropped.
 */
export function checkConsensusBody(
  body: unknown,
  worldId: string,
  set: BftValidatorSet,
  verifier: Verifier,
): unknown[] | RejectCode {
  const messages = Array.isArray(body) ? body : [body];
  if (messages.length === 0 || messages.length > MAX_CONSENSUS_BUNDLE) return "BAD_BODY";
  for (const m of messages) {
    const why = checkConsensusMessage(m, worldId, set, verifier);
    if (why !== null) return why;
  }
  return messages;
}

/**
 * Null when `body` is a vote or proposal of a genesis validator with a valid signature;
 * else why it is dropped. (Commits travel by sync, not gossip.)
 */
function checkConsensusMessage(
  body: unknown,
  worldId: string,
  set: BftValidatorSet,
  verifier: Verifier,
): RejectCode | null {
  const m = parseMessage(body);
  if (typeof m === "string" || m.kind === "commit") return "BAD_BODY";
  if (m.kind === "vote") {
    if (set.stakeOf(m.vote.validator) === 0) return "UNKNOWN_VALIDATOR";
    return verifyVote(worldId, set, verifier, { vote: m.vote, signature: m.signature })
      ? null
      : "BAD_SIGNATURE";
  }
  const p = m.proposal;
  if (set.stakeOf(p.proposer) === 0) return "UNKNOWN_VALIDATOR";
  return verifier.verify(p.proposer, proposalSignBytes(worldId, p), m.signature)
    ? null
    : "BAD_SIGNATURE";
}

/** A peer's announced head. */
export interface HeadBody {
  readonly height: number;
  readonly blockHash: string | null;
  readonly executionHeight: number;
  readonly stateRoot: string | null;
}

const isHeight = (x: unknown): x is number =>
  typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const isHashOrNull = (x: unknown): x is string | null =>
  x === null || (typeof x === "string" && /^[0-9a-f]{1,128}$/.test(x));

/** The head in a heads body, or null when malformed. */
export function parseHeadBody(body: unknown): HeadBody | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (!isHeight(b.height) || !isHeight(b.execution_height)) return null;
  if (!isHashOrNull(b.block_hash) || !isHashOrNull(b.state_root)) return null;
  return {
    height: b.height,
    blockHash: b.block_hash,
    executionHeight: b.execution_height,
    stateRoot: b.state_root,
  };
}

/** The key and actions of an actions body (≤ `max` actions), or null when malformed. */
export function parseActionsBody(
  body: unknown,
  max: number,
): { key: string; actions: BlockAction[] } | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (typeof b.key !== "string" || b.key.length === 0 || b.key.length > 256) return null;
  if (!Array.isArray(b.actions) || b.actions.length === 0 || b.actions.length > max) return null;
  for (const a of b.actions) {
    if (a === null || typeof a !== "object" || Array.isArray(a)) return null;
    if (typeof (a as { kind?: unknown }).kind !== "string") return null;
  }
  return { key: b.key, actions: b.actions as BlockAction[] };
}
