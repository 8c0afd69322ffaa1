/**
 * What gets signed and who signs: canonical CBOR sign bytes (domain-separated by the
 * world id), the injected {@link Signer} / {@link Verifier} interfaces, and a cheap
 * deterministic key scheme for the simulator.
 * @module
 */
import { blake3 } from "@noble/hashes/blake3.js";
import { encodeCanonical } from "../../storage/cbor.ts";
import { hashCanonical, toHex } from "../../storage/hash.ts";
import type { BftBlock, Proposal, Vote } from "./types.ts";

/** Signs bytes with one validator's private key. */
export interface Signer {
  /** Signature over `bytes`. */
  sign(bytes: Uint8Array): Uint8Array;
}

/** Checks a validator's signature. */
export interface Verifier {
  /** True when `signature` is `validatorId`'s signature over `bytes`. */
  verify(validatorId: string, bytes: Uint8Array, signature: Uint8Array): boolean;
}

/**
 * Id of a block: BLAKE3 of its canonical CBOR.
 *
 * @example
 * ```ts
 * import { blockId } from "./signing.ts";
 * blockId({ height: 1, parent: "genesis", proposer: "a", payload: null, evidence: [] });
 * ```
 */
export function blockId(block: BftBlock): string {
  return hashCanonical(["awr-bft-block", block]);
}

/** Bytes a validator signs for a vote. */
export function voteSignBytes(worldId: string, v: Vote): Uint8Array {
  return encodeCanonical([
    "awr-bft-vote",
    worldId,
    v.type,
    v.height,
    v.round,
    v.block,
    v.validator,
  ]);
}

/** Bytes a proposer signs for a proposal (the block enters through its id). */
export function proposalSignBytes(worldId: string, p: Proposal): Uint8Array {
  return encodeCanonical([
    "awr-bft-proposal",
    worldId,
    p.height,
    p.round,
    blockId(p.block),
    p.validRound,
    p.proposer,
  ]);
}

/**
 * SIMULATION ONLY: the secret of validator `id` in a simulated world, derived from the
 * world id, so anyone can recompute it. Never use outside the simulator and tests.
 */
export function simSecret(worldId: string, id: string): Uint8Array {
  return blake3(encodeCanonical(["awr-sim-secret", worldId, id]));
}

/** SIMULATION ONLY: the public key listed in a simulated genesis (hash of the secret). */
export function simPublicKey(worldId: string, id: string): string {
  return toHex(blake3(simSecret(worldId, id)));
}

/**
 * SIMULATION ONLY: a signer whose "signature" is a BLAKE3 keyed MAC with a secret
 * derived from the world id. Deterministic and cheap; not a signature scheme.
 *
 * @example
 * ```ts
 * import { simSigner, simVerifier } from "./signing.ts";
 * const sig = simSigner("w", "a").sign(new Uint8Array([1]));
 * simVerifier("w").verify("a", new Uint8Array([1]), sig); // true
 * ```
 */
export function simSigner(worldId: string, id: string): Signer {
  const key = simSecret(worldId, id);
  return { sign: (bytes) => blake3(bytes, { key }) };
}

/** SIMULATION ONLY: verifies {@link simSigner} MACs (it can recompute every secret). */
export function simVerifier(worldId: string): Verifier {
  const keys = new Map<string, Uint8Array>();
  return {
    verify(id, bytes, signature) {
      let key = keys.get(id);
      if (!key) {
        key = simSecret(worldId, id);
        if (keys.size < 4096) keys.set(id, key);
      }
      if (!(signature instanceof Uint8Array) || signature.length !== 32) return false;
      const want = blake3(bytes, { key });
      let diff = 0;
      for (let i = 0; i < 32; i++) diff |= want[i] ^ signature[i];
      return diff === 0;
    },
  };
}
