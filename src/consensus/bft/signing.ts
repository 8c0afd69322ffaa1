/**
 * What gets signed and who signs: canonical CBOR sign bytes (domain-separated by the
 * world id), the injected {@link Signer} / {@link Verifier} interfaces, and a cheap
 * deterministic key scheme for the simulator.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { blake3 } from "npm:@noble/hashes@2.4.0/blake3.js";
import { AwrError } from "../../errors.ts";
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
  let id = blockIds.get(block);
  if (id === undefined) {
    id = hashCanonical(["awr-bft-block", block]);
    blockIds.set(block, id);
  }
  return id;
}

// Blocks are immutable once built or parsed: memoise their ids by identity.
const blockIds = new WeakMap<BftBlock, string>();

const utf8 = new TextEncoder();

function head(out: number[], major: number, n: number): void {
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >> 8, n & 0xff);
  else if (n < 0x100000000) {
    out.push(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  } else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    out.push(m | 27, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
    out.push(lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}

/**
 * Canonical CBOR of a flat array of text strings, safe integers and nulls: the same
 * bytes `encodeCanonical` produces (a unit test pins this), without its generic walk,
 * because sign bytes are built for every vote sent and verified.
 */
export function encodeFlatArray(items: readonly (string | number | null)[]): Uint8Array {
  const out: number[] = [];
  head(out, 4, items.length);
  for (const x of items) {
    if (x === null) out.push(0xf6);
    else if (typeof x === "number") {
      if (!Number.isSafeInteger(x)) {
        throw new AwrError("CBOR_VALUE", `not a safe integer: ${x}`, { path: "items", value: x });
      }
      if (x >= 0) head(out, 0, x);
      else head(out, 1, -1 - x);
    } else {
      const b = utf8.encode(x);
      head(out, 3, b.length);
      for (let i = 0; i < b.length; i++) out.push(b[i]);
    }
  }
  return new Uint8Array(out);
}

/** Bytes a validator signs for a vote. */
export function voteSignBytes(worldId: string, v: Vote): Uint8Array {
  return encodeFlatArray([
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
  return encodeFlatArray([
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
  // Verified (validator, signature) → bytes: one message reaches many simulated nodes.
  const verified = new Map<string, Uint8Array>();
  return {
    verify(id, bytes, signature) {
      if (!(signature instanceof Uint8Array) || signature.length !== 32) return false;
      const memo = `${id}:${toHex(signature)}`;
      const seen = verified.get(memo);
      if (seen !== undefined) return sameBytes(seen, bytes);
      if (!check(id, bytes, signature)) return false;
      if (verified.size >= 100_000) verified.clear();
      verified.set(memo, bytes);
      return true;
    },
  };
  function check(id: string, bytes: Uint8Array, signature: Uint8Array): boolean {
    {
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
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
