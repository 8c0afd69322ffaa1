/**
 * Checks shared by the engine and the simulator's invariants: message shapes from the
 * network (untrusted), evidence, certificates. Pure.
 * @module
 */
import type { CborValue } from "../../storage/cbor.ts";
import type { Verifier } from "./signing.ts";
import { voteSignBytes } from "./signing.ts";
import type {
  BftBlock,
  BftMessage,
  CommitCertificate,
  DuplicateVoteEvidence,
  SignedVote,
  Vote,
} from "./types.ts";
import type { BftValidatorSet } from "./validators.ts";

const isInt = (v: unknown, min: number): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= min;
const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
const isHash = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

/** Upper bound on evidence entries a block may carry (checked in {@link parseBlock}). */
export const MAX_EVIDENCE_PER_BLOCK = 16;

/** A vote of the right shape, or an error string naming the field. */
export function parseVote(v: unknown): Vote | string {
  if (!isObj(v)) return "vote is not an object";
  if (v.type !== "prevote" && v.type !== "precommit") return "vote.type";
  if (!isInt(v.height, 1)) return "vote.height";
  if (!isInt(v.round, 0)) return "vote.round";
  if (v.block !== null && !isHash(v.block)) return "vote.block";
  if (typeof v.validator !== "string") return "vote.validator";
  return { type: v.type, height: v.height, round: v.round, block: v.block, validator: v.validator };
}

function parseSignedVote(v: unknown, field: string): SignedVote | string {
  if (!isObj(v)) return field;
  const vote = parseVote(v.vote);
  if (typeof vote === "string") return `${field}.${vote}`;
  if (!(v.signature instanceof Uint8Array)) return `${field}.signature`;
  return { vote, signature: v.signature };
}

/** A block of the right shape, or an error string naming the field. */
export function parseBlock(b: unknown): BftBlock | string {
  if (!isObj(b)) return "block is not an object";
  if (!isInt(b.height, 1)) return "block.height";
  if (typeof b.parent !== "string") return "block.parent";
  if (typeof b.proposer !== "string") return "block.proposer";
  if (!("payload" in b)) return "block.payload";
  if (!Array.isArray(b.evidence) || b.evidence.length > MAX_EVIDENCE_PER_BLOCK) {
    return "block.evidence";
  }
  const evidence: DuplicateVoteEvidence[] = [];
  for (const [i, e] of b.evidence.entries()) {
    if (!isObj(e) || e.kind !== "duplicate-vote") return `block.evidence[${i}].kind`;
    const a = parseSignedVote(e.a, `block.evidence[${i}].a`);
    if (typeof a === "string") return a;
    const bb = parseSignedVote(e.b, `block.evidence[${i}].b`);
    if (typeof bb === "string") return bb;
    evidence.push({ kind: "duplicate-vote", a, b: bb });
  }
  // Already exactly a block: keep the object (its id is memoised by identity).
  if (
    Object.keys(b).length === 5 &&
    evidence.every((e, i) => sameEvidence(e, (b.evidence as unknown[])[i]))
  ) {
    return b as unknown as BftBlock;
  }
  return {
    height: b.height,
    parent: b.parent,
    proposer: b.proposer,
    payload: b.payload as CborValue,
    evidence,
  };
}

function sameEvidence(e: DuplicateVoteEvidence, raw: unknown): boolean {
  const r = raw as Record<string, Record<string, unknown>>;
  return Object.keys(r).length === 3 && Object.keys(r.a).length === 2 &&
    Object.keys(r.b).length === 2 && Object.keys(r.a.vote as object).length === 5 &&
    Object.keys(r.b.vote as object).length === 5 && e.a.signature === r.a.signature;
}

/** A message of the right shape (signatures not checked yet), or an error string. */
export function parseMessage(m: unknown): BftMessage | string {
  if (!isObj(m)) return "message is not an object";
  if (m.kind === "vote") {
    const sv = parseSignedVote(m, "vote");
    return typeof sv === "string" ? sv : { kind: "vote", vote: sv.vote, signature: sv.signature };
  }
  if (m.kind === "proposal") {
    const p = m.proposal;
    if (!isObj(p)) return "proposal";
    if (!isInt(p.height, 1)) return "proposal.height";
    if (!isInt(p.round, 0)) return "proposal.round";
    if (!isInt(p.validRound, -1) || p.validRound >= p.round) return "proposal.validRound";
    if (typeof p.proposer !== "string") return "proposal.proposer";
    const block = parseBlock(p.block);
    if (typeof block === "string") return `proposal.${block}`;
    if (!(m.signature instanceof Uint8Array)) return "proposal.signature";
    return {
      kind: "proposal",
      proposal: {
        height: p.height,
        round: p.round,
        block,
        validRound: p.validRound,
        proposer: p.proposer,
      },
      signature: m.signature,
    };
  }
  if (m.kind === "commit") {
    const block = parseBlock(m.block);
    if (typeof block === "string") return `commit.${block}`;
    const c = m.certificate;
    if (!isObj(c) || !isInt(c.height, 1) || !isInt(c.round, 0) || !isHash(c.block)) {
      return "commit.certificate";
    }
    if (!Array.isArray(c.precommits) || c.precommits.length > 4096) {
      return "commit.certificate.precommits";
    }
    const precommits: SignedVote[] = [];
    for (const [i, pc] of c.precommits.entries()) {
      const sv = parseSignedVote(pc, `commit.certificate.precommits[${i}]`);
      if (typeof sv === "string") return sv;
      precommits.push(sv);
    }
    return {
      kind: "commit",
      block,
      certificate: { height: c.height, round: c.round, block: c.block, precommits },
    };
  }
  return "message.kind";
}

/** True when the signed vote's signature verifies and its validator is in the set. */
export function verifyVote(
  worldId: string,
  set: BftValidatorSet,
  verifier: Verifier,
  sv: SignedVote,
): boolean {
  return set.stakeOf(sv.vote.validator) > 0 &&
    verifier.verify(sv.vote.validator, voteSignBytes(worldId, sv.vote), sv.signature);
}

/** Null when the evidence is two valid conflicting votes of one validator, else why not. */
export function checkEvidence(
  worldId: string,
  set: BftValidatorSet,
  verifier: Verifier,
  e: DuplicateVoteEvidence,
): string | null {
  const a = e.a.vote;
  const b = e.b.vote;
  if (a.validator !== b.validator || a.type !== b.type) {
    return "evidence votes differ in validator/type";
  }
  if (a.height !== b.height || a.round !== b.round) return "evidence votes differ in height/round";
  if (a.block === b.block) return "evidence votes do not conflict";
  if (!verifyVote(worldId, set, verifier, e.a) || !verifyVote(worldId, set, verifier, e.b)) {
    return "evidence signature does not verify";
  }
  return null;
}

/** Key identifying one equivocation (validator, height, round, type). */
export function evidenceKey(e: DuplicateVoteEvidence): string {
  const v = e.a.vote;
  return `${v.validator}/${v.height}/${v.round}/${v.type}`;
}

/**
 * Null when `cert` proves `blockId` decided at `height`: precommits for that block at the
 * certificate's round, distinct validators, valid signatures, > 2/3 of the stake.
 */
export function checkCertificate(
  worldId: string,
  set: BftValidatorSet,
  verifier: Verifier,
  height: number,
  blockIdHex: string,
  cert: CommitCertificate,
): string | null {
  if (cert.height !== height || cert.block !== blockIdHex) return "certificate names another block";
  const seen = new Set<string>();
  let stake = 0;
  for (const sv of cert.precommits) {
    const v = sv.vote;
    if (v.type !== "precommit" || v.height !== height || v.round !== cert.round) {
      return `precommit of ${v.validator} is not for (${height}, ${cert.round})`;
    }
    if (v.block !== blockIdHex) return `precommit of ${v.validator} names another block`;
    if (seen.has(v.validator)) return `validator ${v.validator} appears twice`;
    seen.add(v.validator);
    if (!verifyVote(worldId, set, verifier, sv)) return `signature of ${v.validator} fails`;
    stake += set.stakeOf(v.validator);
  }
  return set.isQuorum(stake)
    ? null
    : `certificate stake ${stake} is not > 2/3 of ${set.totalStake}`;
}
