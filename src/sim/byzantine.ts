/**
 * What a Byzantine validator does with each message its (ordinary) engine wants to
 * broadcast: equivocate (two validly signed conflicting versions), withhold, or send
 * malformed, forged or out-of-range messages. Its signatures bypass the double-sign
 * guard on purpose.
 * @module
 */
import { hashCanonical } from "../storage/hash.ts";
import {
  blockId,
  proposalSignBytes,
  type Signer,
  voteSignBytes,
} from "../consensus/bft/signing.ts";
import type { BftMessage } from "../consensus/bft/types.ts";
import type { Prng } from "./prng.ts";

/** The kinds of misbehaviour. */
export type ByzantineMode = "equivocate" | "withhold" | "malformed" | "split" | "mixed";

/** All modes, in the order a seed picks from. */
export const BYZANTINE_MODES: readonly ByzantineMode[] = [
  "equivocate",
  "withhold",
  "malformed",
  "split",
  "mixed",
];

/** One send: `message` (possibly junk) to validator `to`. */
export interface ByzantineSend {
  readonly to: string;
  readonly message: unknown;
}

/**
 * The sends a Byzantine validator makes instead of broadcasting `message` honestly.
 *
 * @example
 * ```ts
 * // see src/sim/simulator.ts: byzantineSends(mode, ...) replaces the broadcast
 * ```
 */
export function byzantineSends(
  mode: ByzantineMode,
  prng: Prng,
  worldId: string,
  signer: Signer,
  message: BftMessage,
  peers: readonly string[],
): ByzantineSend[] {
  const m: Exclude<ByzantineMode, "mixed"> = mode === "mixed"
    ? prng.pick(["equivocate", "withhold", "malformed"] as const)
    : mode;
  const out: ByzantineSend[] = [];
  if (m === "withhold") {
    for (const to of peers) if (prng.chance(0.3)) out.push({ to, message });
    return out;
  }
  if (m === "split") return splitSends(prng, worldId, signer, message, peers);
  if (m === "equivocate") {
    const alt = conflicting(prng, worldId, signer, message);
    for (const to of peers) {
      const k = prng.int(3);
      if (k !== 1) out.push({ to, message });
      if (k !== 0 && alt) out.push({ to, message: alt });
    }
    return out;
  }
  for (const to of peers) {
    if (prng.chance(0.5)) out.push({ to, message });
    out.push({ to, message: junk(prng, message) });
  }
  return out;
}

/**
 * "split": a targeted equivocation. Per height the peers are cut into a majority side
 * and the rest; the majority side gets the real proposal and prevote, the rest a
 * conflicting one, and the real precommit goes to one peer only — so that peer may
 * decide while the others cannot, and must rely on their locks in the next round.
 */
function splitSends(
  prng: Prng,
  worldId: string,
  signer: Signer,
  m: BftMessage,
  peers: readonly string[],
): ByzantineSend[] {
  const height = m.kind === "vote" ? m.vote.height : m.kind === "proposal" ? m.proposal.height : 0;
  const rotated = peers.map((_, i) => peers[(i + height) % peers.length]);
  const cut = Math.ceil((2 * rotated.length) / 3);
  const alt = conflicting(prng, worldId, signer, m);
  const out: ByzantineSend[] = [];
  rotated.forEach((to, i) => {
    const real = m.kind === "vote" && m.vote.type === "precommit" ? i === 0 : i < cut;
    if (real || !alt) out.push({ to, message: m });
    else out.push({ to, message: alt });
  });
  return out;
}

function conflicting(
  prng: Prng,
  worldId: string,
  signer: Signer,
  m: BftMessage,
): BftMessage | null {
  if (m.kind === "vote") {
    const block = m.vote.block === null ? hashCanonical(["evil", prng.next()]) : null;
    const vote = { ...m.vote, block };
    return { kind: "vote", vote, signature: signer.sign(voteSignBytes(worldId, vote)) };
  }
  if (m.kind === "proposal") {
    const block = { ...m.proposal.block, payload: { evil: prng.next() } };
    const proposal = { ...m.proposal, block, validRound: -1 };
    return {
      kind: "proposal",
      proposal,
      signature: signer.sign(proposalSignBytes(worldId, proposal)),
    };
  }
  return null;
}

function junk(prng: Prng, m: BftMessage): unknown {
  const flipped = (sig: Uint8Array) => {
    const s = new Uint8Array(sig);
    s[prng.int(s.length || 1)] ^= 1;
    return s;
  };
  switch (prng.int(8)) {
    case 0:
      return null;
    case 1:
      return { kind: "vote", vote: { type: "prevote", height: -1 }, signature: 3 };
    case 2:
      return m.kind === "vote" ? { ...m, signature: flipped(m.signature) } : "garbage";
    case 3: // impersonation: another validator's name, our signature
      return m.kind === "vote" ? { ...m, vote: { ...m.vote, validator: "v01" } } : [1, 2, 3];
    case 4: // far-future round (must be ignored, not stored)
      return m.kind === "vote" ? { ...m, vote: { ...m.vote, round: 1_000_000_000 } } : {};
    case 5:
      return m.kind === "proposal"
        ? { ...m, proposal: { ...m.proposal, block: { ...m.proposal.block, evidence: "x" } } }
        : { kind: "proposal", proposal: null };
    case 6: // a commit with a certificate nobody signed
      return m.kind === "proposal"
        ? {
          kind: "commit",
          block: m.proposal.block,
          certificate: {
            height: m.proposal.height,
            round: 0,
            block: blockId(m.proposal.block),
            precommits: [],
          },
        }
        : { kind: "commit" };
    default:
      return new Uint8Array([prng.int(256), prng.int(256)]);
  }
}
